"""组织关系转接审批: a transfer's page, with the forms of the decisions this viewer may send
(`service.permissions.abilities`), and their posts (审批通过, 退回, 分配团支部, 撤回 after a
confirmation, and 修改后重新提交 of a returned request, with its 预览)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from domain.forms import FORM_FIELDS
from domain.transfers import Channel, TransferType
from service import decisions, pages, transfer_pages
from service.auth import Caller
from service.errors import Problem, ServiceError
from web.ui.context import SignedIn, UIError, UIJsonRoute, form_data, redirect, render, row_id_of, ui_router
from web.ui.start import SPECIAL, parse_start
from web.ui.views import field_errors, form_rows, input_for

router = ui_router()
NOT_FOUND = "转接申请不存在，或您无权查看。"

DONE_MESSAGES = {
    "started": "转接申请已提交。",
    "existing": "该团员已有办理中的转接申请（一名团员同时只能有一条），以下为该申请。",
    "approved": "已审批通过。",
    "returned": "已退回，发起方可更正后重新提交或撤回。",
    "resubmitted": "已修改并重新提交，各审批节点重新计时。",
    "assigned": "已分配团支部。",
    "withdrawn": "申请已撤回。",
}

#: A decision: (engine, client, user, transfer id, the posted form) → the service's call.
Decide = Callable[[AsyncEngine, Client, Caller, int, dict[str, str]], Awaitable[object]]


def _resubmit_values(page: transfer_pages.TransferPage) -> dict[str, str]:
    """The 修改后重新提交 form as it opens: the request's form, the target kept, the partition
    answer that fits the target."""
    d = page.detail
    values = {k: str(v) for k, v in (d["form"] or {}).items() if k != "location" and v is not None}
    values.update({f"loc_{k}": v for k, v in ((d["form"] or {}).get("location") or {}).items() if v})
    special = page.target_partition in SPECIAL
    values["partition_special"] = "yes" if special else "no"
    values["partition_which"] = page.target_partition if special and page.target_partition else ""
    return values


async def _detail_page(
    request: Request,
    viewer: pages.Viewer,
    tid_raw: str,
    *,
    errors: dict[str, list[str]] | None = None,
    values: dict[str, str] | None = None,
    action: str | None = None,
    confirm_withdraw: bool = False,
    status_code: int = 200,
) -> Response:
    tid = row_id_of(tid_raw)
    state = request.app.state
    page = (
        await transfer_pages.transfer_page(state.engine, viewer.user, tid, time_scale=state.settings.time_scale)
        if tid is not None
        else None
    )
    if page is None:
        raise UIError(404, NOT_FOUND)
    d = page.detail
    fields = FORM_FIELDS[TransferType(d["type"])]
    resubmit_values = _resubmit_values(page) if page.may_resubmit else {}
    if action == "resubmit" and values is not None:
        resubmit_values = values
    names = page.names
    if (picked := resubmit_values.get("target_org_code")) and picked not in names:
        names = names | await pages.org_names(state.engine, [picked])
    return render(
        request,
        "detail.html",
        status_code=status_code,
        d=d,
        can=page.can,
        branches=page.branches,
        names=names,
        people=page.people,
        form_rows=form_rows(d["form"]),
        done=DONE_MESSAGES.get(request.query_params.get("done") or ""),
        errors=errors or {},
        values=values or {},
        action=action,
        clock=page.clock,
        returned=page.returned,
        may_resubmit=page.may_resubmit,
        rv=resubmit_values,
        resubmit_fields=[k for k in fields if k != "location"],
        resubmit_location="location" in fields,
        asks_partition=d["channel"] in (Channel.OUT.value, Channel.SELF.value),
        receiving=page.receiving,
        confirm_withdraw=confirm_withdraw,
    )


@router.get("/transfers/{tid}", response_class=HTMLResponse)
async def detail(request: Request, viewer: SignedIn, tid: str) -> Response:
    return await _detail_page(request, viewer, tid)


async def _decide(request: Request, viewer: pages.Viewer, tid: str, action: str, call: Decide, done: str) -> Response:
    """Send the decision; its refusal is shown beside the form on the transfer's page."""
    data = await form_data(request)
    n = row_id_of(tid)
    if n is None:
        raise UIError(404, NOT_FOUND)
    state = request.app.state
    try:
        await call(state.engine, await state.temporal_client(), viewer.user, n, data)
    except ServiceError as e:
        if e.status == 404:
            raise
        return await _detail_page(
            request, viewer, tid, errors=field_errors(e.problems), values=data, action=action, status_code=e.status
        )
    return redirect(f"/ui/transfers/{n}?done={done}")


def _required(data: dict[str, str], field: str, message: str) -> str:
    if not data.get(field):
        raise ServiceError(422, [Problem(field, message)])
    return data[field]


@router.post("/transfers/{tid}/approve", response_class=HTMLResponse)
async def approve(request: Request, viewer: SignedIn, tid: str) -> Response:
    async def call(e: AsyncEngine, c: Client, u: Caller, n: int, d: dict[str, str]) -> object:
        return await decisions.approve(e, c, u, n, d.get("comment") or None)

    return await _decide(request, viewer, tid, "approve", call, "approved")


@router.post("/transfers/{tid}/return", response_class=HTMLResponse)
async def return_request(request: Request, viewer: SignedIn, tid: str) -> Response:
    async def call(e: AsyncEngine, c: Client, u: Caller, n: int, d: dict[str, str]) -> object:
        reason = _required(d, "reason_code", "请选择退回原因")
        return await decisions.return_request(e, c, u, n, reason, d.get("reason_text", ""))

    return await _decide(request, viewer, tid, "return", call, "returned")


@router.post("/transfers/{tid}/assign", response_class=HTMLResponse)
async def assign(request: Request, viewer: SignedIn, tid: str) -> Response:
    async def call(e: AsyncEngine, c: Client, u: Caller, n: int, d: dict[str, str]) -> object:
        return await decisions.assign_branch(e, c, u, n, _required(d, "branch_code", "请选择团支部"))

    return await _decide(request, viewer, tid, "assign", call, "assigned")


@router.post("/transfers/{tid}/withdraw", response_class=HTMLResponse)
async def withdraw(request: Request, viewer: SignedIn, tid: str) -> Response:
    """撤回 in two steps: the reason, then a confirmation (`confirmed=1`) that sends it."""
    data = await form_data(request)
    if data.get("confirmed") != "1" and data.get("reason"):
        return await _detail_page(request, viewer, tid, values=data, action="withdraw", confirm_withdraw=True)

    async def call(e: AsyncEngine, c: Client, u: Caller, n: int, d: dict[str, str]) -> object:
        return await decisions.withdraw(e, c, u, n, _required(d, "reason", "请填写撤回原因"))

    return await _decide(request, viewer, tid, "withdraw", call, "withdrawn")


# --- 修改后重新提交 ------------------------------------------------------------------------------


async def _resubmission(
    engine: AsyncEngine, client: Client, user: Caller, n: int, data: dict[str, str], *, send: bool
) -> Any:
    """The posted 修改后重新提交 form through the gate of `decisions.resubmit` (sent, or only
    checked for 预览); every problem found, the form's own (the partition question) included."""
    kind = await transfer_pages.transfer_kind(engine, user, n)
    if kind is None:
        raise ServiceError(404, [Problem("id", NOT_FOUND)])
    req, pre = parse_start({**data, "type": kind[0]}, Channel(kind[1]))
    assert req is not None  # the type is the transfer's
    args = (engine, client, user, n, req.form, req.target_org_code, req.partition)
    if not pre:
        return await (decisions.resubmit(*args) if send else decisions.check_resubmission(*args))
    try:
        await decisions.check_resubmission(*args)
    except ServiceError as e:
        if e.status != 422:
            raise
        raise ServiceError(422, pre + e.problems) from e
    raise ServiceError(422, pre)


@router.post("/transfers/{tid}/resubmit", response_class=HTMLResponse)
async def resubmit(request: Request, viewer: SignedIn, tid: str) -> Response:
    async def call(e: AsyncEngine, c: Client, u: Caller, n: int, d: dict[str, str]) -> object:
        return await _resubmission(e, c, u, n, d, send=True)

    return await _decide(request, viewer, tid, "resubmit", call, "resubmitted")


async def resubmit_preview(request: Request, viewer: SignedIn, tid: str) -> Response:
    """预览 of 修改后重新提交: every check and the route it would take (nothing is sent)."""
    data = await form_data(request)
    n = row_id_of(tid)
    if n is None:
        raise UIError(404, NOT_FOUND)
    state = request.app.state
    try:
        route = await _resubmission(state.engine, await state.temporal_client(), viewer.user, n, data, send=False)
    except ServiceError as e:
        errors = [{"field": p.field, "input": input_for(p.field), "message": p.message} for p in e.problems]
        return JSONResponse({"ok": False, "errors": errors}, status_code=e.status)
    names = await pages.org_names(state.engine, [route.org_code])
    body = route.model_dump() | {"org_name": names.get(route.org_code or "", "")}
    return JSONResponse({"ok": True, "route": body})


# a JSON endpoint among the pages: its errors are JSON too
router.add_api_route(
    "/transfers/{tid}/resubmit/preview",
    resubmit_preview,
    methods=["POST"],
    route_class_override=UIJsonRoute,
    include_in_schema=False,
)
