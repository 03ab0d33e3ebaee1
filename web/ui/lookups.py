"""The JSON the forms' scripts ask for: 查询 (a member by name + 身份证号), the org picker, the
region choices and 预览路由. Their errors are JSON too (`UIJsonRoute`)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import JSONResponse, Response

from domain.glossary import ORG_KIND_LABELS
from domain.orgs import Partition
from service import lookup, pages, queries
from service.errors import ServiceError
from web.ui.context import SignedIn, form_data, ui_router
from web.ui.start import channel_for, run_start
from web.ui.views import input_for, label_of

router = ui_router(as_json=True)


def _problems(e: ServiceError) -> JSONResponse:
    return JSONResponse(
        {
            "ok": False,
            "errors": [{"field": p.field, "input": input_for(p.field), "message": p.message} for p in e.problems],
        },
        status_code=e.status,
    )


@router.post("/transfers/preview")
async def preview(request: Request, viewer: SignedIn) -> Response:
    """预览路由: every check of a start and the route it would take (nothing is started)."""
    data = await form_data(request)
    channel = channel_for(viewer.user, data.get("channel"))
    try:
        _, route = await run_start(request, viewer.user, data, channel, dry_run=True)
    except ServiceError as e:
        return _problems(e)
    code = route.org_code or ""
    names = await pages.org_names(request.app.state.engine, [code])
    return JSONResponse(
        {
            "ok": True,
            "route": {
                "org_code": route.org_code,
                "org_name": names.get(code, ""),
                "clause": route.clause,
                "explanation": route.explanation,
            },
        }
    )


@router.post("/lookup")
async def member_lookup(request: Request, viewer: SignedIn) -> Response:
    """查询: name + 身份证号 → the member (POST, so the 身份证号 never lands in a URL or access log)."""
    data = await form_data(request)
    try:
        found = await lookup.lookup_member(
            request.app.state.engine, viewer.user, data.get("name", ""), data.get("id_number", "")
        )
    except ServiceError as e:
        return _problems(e)
    return JSONResponse({"ok": True, "member": found.as_dict()})


@router.get("/orgs")
async def org_search(request: Request, viewer: SignedIn) -> Response:
    """The org picker: name or code contains q, within the partition the form's answer chose."""
    q = (request.query_params.get("q") or "").strip()[:100]
    partition = request.query_params.get("partition")
    kind = (request.query_params.get("kind") or "")[:32] or None
    rows = await queries.find_orgs(
        request.app.state.engine,
        q=q or None,
        partition=partition if partition in {p.value for p in Partition} else None,
        kind=kind,
        limit=20,
    )
    return JSONResponse([{**r, "kind_label": label_of(ORG_KIND_LABELS, r["kind"])} for r in rows])


@router.get("/regions")
async def region_choices(request: Request, viewer: SignedIn) -> Response:
    q = request.query_params
    names = await lookup.regions(
        request.app.state.engine,
        q.get("level", ""),
        province=q.get("province"),
        city=q.get("city"),
        county=q.get("county"),
    )
    return JSONResponse(names)
