"""出国（境）学习研究 保留团组织关系 (§I.5) in the UI: the application form (the member's, from
个人中心, and the school side's, from 办理转出), the 保留申请 list the school committee decides
from, and an application's page with the decisions this viewer may send (审批通过, 退回, 撤回, and
解除保留 once the member is back)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response

from domain.glossary import FORM_FIELD_LABELS, RETENTION_STATUS_LABELS
from domain.roles import Role
from service import bulk_members, pages, retention_views, retentions
from service.auth import Caller
from service.errors import Problem, ServiceError
from service.flows import Flows
from web.ui.context import (
    OrgAdminOnly,
    SignedIn,
    UIError,
    form_data,
    int_or,
    member_self,
    redirect,
    render,
    row_id_of,
    ui_router,
)
from web.ui.views import field_errors

router = ui_router()
NOT_FOUND = "保留团组织关系申请不存在，或您无权查看。"
FORM_KEYS = ("abroad_place", "abroad_from", "abroad_to", "contact_name", "contact_phone")
STATUS_TABS = ("pending", "approved", "returned", "withdrawn", "all")

DONE_MESSAGES = {
    "submitted": "保留团组织关系申请已提交，由学校团委在15天内审批（超过10天未审批将提醒，15天时系统默认通过）。",
    "approved": "已审批通过：团员已编入出国（境）学习研究团员团支部，并登记造册备案。",
    "returned": "已退回，团员可更正后重新申请。",
    "withdrawn": "申请已撤回。",
    "released": "已解除保留：团员已转回原团支部，可为其办理组织关系转接。",
}


def status_label(d: dict[str, Any]) -> str:
    """The application's state in Chinese; an approved one the school has released says so."""
    if d["status"] == "approved" and not d["in_force"]:
        return "已解除保留"
    return next((v for k, v in RETENTION_STATUS_LABELS.items() if k.value == d["status"]), d["status"])


def flows_of(request: Request, client: Any = None) -> Flows:
    state = request.app.state
    return Flows.of(state.engine, client, state.settings)


# --- the application form ---------------------------------------------------------------------


def _form_page(
    request: Request,
    viewer: pages.Viewer,
    *,
    values: dict[str, str] | None = None,
    problems: list[Problem] | None = None,
    status_code: int = 200,
) -> Response:
    values = dict(values or {})
    own = viewer.user.role == Role.MEMBER and viewer.member is not None
    if own and viewer.member is not None:
        values["name"], values["id_number"] = viewer.member.name, viewer.member.id_number
    return render(
        request,
        "retention_form.html",
        status_code=status_code,
        own=own,
        action="/ui/me/retention" if own else "/ui/retentions/new",
        values=values,
        problems=problems or [],
        errors=field_errors(problems or []),
        labels={k: FORM_FIELD_LABELS[k] for k in FORM_KEYS},
    )


async def _apply(request: Request, viewer: pages.Viewer) -> Response:
    data = await form_data(request)
    if viewer.user.role == Role.MEMBER and viewer.member is not None:
        data["name"], data["id_number"] = viewer.member.name, viewer.member.id_number
    try:
        rid = await retentions.apply_retention(
            flows_of(request, await request.app.state.temporal_client()),
            viewer.user,
            id_number=data.get("id_number", ""),
            name=data.get("name", ""),
            form={k: data.get(k, "") for k in FORM_KEYS},
        )
    except ServiceError as e:
        if e.status >= 500:
            raise
        return _form_page(request, viewer, values=data, problems=e.problems, status_code=e.status)
    return redirect(f"/ui/retentions/{rid}?done=submitted")


@router.get("/me/retention", response_class=HTMLResponse, dependencies=[Depends(member_self)])
async def my_form(request: Request, viewer: SignedIn) -> Response:
    return _form_page(request, viewer)


@router.post("/me/retention", response_class=HTMLResponse, dependencies=[Depends(member_self)])
async def my_apply(request: Request, viewer: SignedIn) -> Response:
    return await _apply(request, viewer)


@router.get("/retentions/new", response_class=HTMLResponse)
async def new_form(request: Request, viewer: SignedIn, admin: OrgAdminOnly) -> Response:
    return _form_page(request, viewer)


@router.post("/retentions/new", response_class=HTMLResponse)
async def new_apply(request: Request, viewer: SignedIn, admin: OrgAdminOnly) -> Response:
    return await _apply(request, viewer)


# --- 保留申请: the list the school decides from -------------------------------------------------


@router.get("/retentions", response_class=HTMLResponse)
async def retention_list(request: Request, admin: OrgAdminOnly) -> Response:
    q = request.query_params
    status = q.get("status") if q.get("status") in STATUS_TABS else "pending"
    page = max(1, int_or(q.get("page"), 1) or 1)
    page_size = 30
    engine = request.app.state.engine
    items, total = await retention_views.list_retentions(
        engine, admin.user, status=None if status == "all" else status, page=page, page_size=page_size
    )
    waiting, pending = await retention_views.list_retentions(
        engine, admin.user, status="pending", page=1, page_size=100
    )
    return render(
        request,
        "retentions.html",
        items=[{**i, "status_label": status_label(i)} for i in items],
        total=total,
        status=status,
        page=page,
        pages=max(1, -(-total // page_size)),
        overdue=sum(1 for i in waiting if i["overdue"]),
        pending=pending,
        tabs={
            "pending": "待审批",
            "approved": "已审批备案",
            "returned": "已退回",
            "withdrawn": "已撤回",
            "all": "全部",
        },
    )


# --- an application ---------------------------------------------------------------------------


async def _detail_page(
    request: Request,
    viewer: pages.Viewer,
    rid_raw: str,
    *,
    errors: dict[str, list[str]] | None = None,
    values: dict[str, str] | None = None,
    action: str | None = None,
    status_code: int = 200,
) -> Response:
    rid = row_id_of(rid_raw)
    d = await retention_views.retention_detail(request.app.state.engine, viewer.user, rid) if rid is not None else None
    if d is None:
        raise UIError(404, NOT_FOUND)
    return render(
        request,
        "retention_detail.html",
        status_code=status_code,
        d=d,
        can=d["can"],
        label=status_label(d),
        labels={k: FORM_FIELD_LABELS[k] for k in FORM_KEYS},
        done=DONE_MESSAGES.get(request.query_params.get("done") or ""),
        errors=errors or {},
        values=values or {},
        action=action,
    )


@router.get("/retentions/{rid}", response_class=HTMLResponse)
async def detail(request: Request, viewer: SignedIn, rid: str) -> Response:
    return await _detail_page(request, viewer, rid)


Decide = Callable[[Flows, Caller, int, dict[str, str]], Awaitable[object]]


async def _decide(request: Request, viewer: pages.Viewer, rid: str, action: str, call: Decide, done: str) -> Response:
    """Send the decision; its refusal is shown beside the form on the application's page."""
    data = await form_data(request)
    n = row_id_of(rid)
    if n is None:
        raise UIError(404, NOT_FOUND)
    try:
        await call(flows_of(request, await request.app.state.temporal_client()), viewer.user, n, data)
    except ServiceError as e:
        if e.status == 404 or e.status >= 500:
            raise
        return await _detail_page(
            request, viewer, rid, errors=field_errors(e.problems), values=data, action=action, status_code=e.status
        )
    return redirect(f"/ui/retentions/{n}?done={done}")


def _required(data: dict[str, str], name: str, message: str) -> str:
    if not data.get(name):
        raise ServiceError(422, [Problem(name, message)])
    return data[name]


@router.post("/retentions/{rid}/approve", response_class=HTMLResponse)
async def approve(request: Request, viewer: SignedIn, rid: str) -> Response:
    async def call(f: Flows, u: Caller, n: int, d: dict[str, str]) -> object:
        await retentions.approve_retention_by_id(f, u, n, d.get("comment") or None)
        return None

    return await _decide(request, viewer, rid, "approve", call, "approved")


@router.post("/retentions/{rid}/return", response_class=HTMLResponse)
async def return_request(request: Request, viewer: SignedIn, rid: str) -> Response:
    async def call(f: Flows, u: Caller, n: int, d: dict[str, str]) -> object:
        reason = _required(d, "reason_code", "请选择退回原因")
        await retentions.return_retention_by_id(f, u, n, reason, d.get("reason_text", ""))
        return None

    return await _decide(request, viewer, rid, "return", call, "returned")


@router.post("/retentions/{rid}/withdraw", response_class=HTMLResponse)
async def withdraw(request: Request, viewer: SignedIn, rid: str) -> Response:
    async def call(f: Flows, u: Caller, n: int, d: dict[str, str]) -> object:
        await retentions.withdraw_retention_by_id(f, u, n, _required(d, "reason", "请填写撤回原因"))
        return None

    return await _decide(request, viewer, rid, "withdraw", call, "withdrawn")


@router.post("/retentions/{rid}/release", response_class=HTMLResponse)
async def release(request: Request, viewer: SignedIn, rid: str) -> Response:
    """解除保留: the member is back from abroad (the roster page does the same for many)."""

    async def call(f: Flows, u: Caller, n: int, d: dict[str, str]) -> object:
        found = await retention_views.retention_detail(f.engine, u, n)
        if found is None:
            raise ServiceError(404, [Problem("id", NOT_FOUND)])
        (outcome,) = await bulk_members.release_members(
            f, u, "abroad_study", member_ids=[found["member"]["id"]], branch_code=d.get("branch_code") or None
        )
        if not outcome.ok:
            raise ServiceError(outcome.status_code, outcome.errors)
        return outcome

    return await _decide(request, viewer, rid, "release", call, "released")
