"""组织关系转接审批: a transfer's page, with the forms of the decisions this viewer may send
(`service.permissions.abilities`), and their posts (审批通过, 退回, 分配团支部, 撤回)."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from service import decisions, pages
from service.auth import Caller
from service.errors import Problem, ServiceError
from web.ui.context import SignedIn, UIError, form_data, redirect, render, row_id_of, ui_router
from web.ui.views import field_errors, form_rows

router = ui_router()
NOT_FOUND = "转接申请不存在，或您无权查看。"

DONE_MESSAGES = {
    "started": "转接申请已提交。",
    "existing": "该团员已有办理中的转接申请（一名团员同时只能有一条），以下为该申请。",
    "approved": "已审批通过。",
    "returned": "已退回，发起方可更正后重新提交或撤回。",
    "assigned": "已分配团支部。",
    "withdrawn": "申请已撤回。",
}

#: A decision: (engine, client, user, transfer id, the posted form) → the service's call.
Decide = Callable[[AsyncEngine, Client, Caller, int, dict[str, str]], Awaitable[object]]


async def _detail_page(
    request: Request,
    viewer: pages.Viewer,
    tid_raw: str,
    *,
    errors: dict[str, list[str]] | None = None,
    values: dict[str, str] | None = None,
    action: str | None = None,
    status_code: int = 200,
) -> Response:
    tid = row_id_of(tid_raw)
    page = await pages.transfer_page(request.app.state.engine, viewer.user, tid) if tid is not None else None
    if page is None:
        raise UIError(404, NOT_FOUND)
    return render(
        request,
        "detail.html",
        status_code=status_code,
        d=page.detail,
        can=page.can,
        branches=page.branches,
        names=page.names,
        people=page.people,
        form_rows=form_rows(page.detail["form"]),
        done=DONE_MESSAGES.get(request.query_params.get("done") or ""),
        errors=errors or {},
        values=values or {},
        action=action,
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
    async def call(e: AsyncEngine, c: Client, u: Caller, n: int, d: dict[str, str]) -> object:
        return await decisions.withdraw(e, c, u, n, _required(d, "reason", "请填写撤回原因"))

    return await _decide(request, viewer, tid, "withdraw", call, "withdrawn")
