"""出国（境）学习研究 保留团组织关系 (§I.5) over REST: apply, list, read, and the school's decisions.

Who may act is answered by `service.retentions` (the member for themself, the school side for
its members; the school committee, or an admin above it, decides); refusals are problem+json."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Annotated, Any, Concatenate, ParamSpec

from fastapi import APIRouter, Path, Query, Request

from models.tables import MAX_ROW_ID
from service import retention_views, retentions
from service.auth import Caller
from service.errors import Problem, ServiceError
from service.flows import Flows
from web.api import schemas as s
from web.api.routes import CurrentUser

P = ParamSpec("P")

router = APIRouter(prefix="/api", tags=["retentions"])
RetentionId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="the application's id")]


async def flows(request: Request, *, temporal: bool = True) -> Flows:
    """The §6 flows of this app (its database, Temporal when needed, settings)."""
    state = request.app.state
    client = await state.temporal_client() if temporal else None
    return Flows.of(state.engine, client, state.settings)


async def _detail(request: Request, user: Caller, retention_id: int) -> dict[str, Any]:
    d = await retention_views.retention_detail(request.app.state.engine, user, retention_id)
    if d is None:
        raise ServiceError(404, [Problem("id", f"保留团组织关系申请 {retention_id} 不存在")])
    return d


@router.post("/retentions", response_model=s.RetentionOut, status_code=201)
async def apply(body: s.RetentionApplyRequest, request: Request, user: CurrentUser) -> dict[str, Any]:
    """The member (for themself) or the school side (the school committee, a college committee,
    the member's branch) applies to keep the member's relationship at school while studying or
    researching abroad (§I.5); the school committee decides within 15 days (reminded at 10, then
    系统默认通过). 409 while the member has an open application, a retention in force or a
    transfer in progress."""
    rid = await retentions.apply_retention(
        await flows(request), user, id_number=body.id_number, name=body.name, form=body.form.model_dump()
    )
    return await _detail(request, user, rid)


@router.get("/retentions", response_model=s.RetentionPage)
async def list_retentions(
    request: Request,
    user: CurrentUser,
    org: Annotated[str | None, Query(max_length=64, description="an org the caller acts for, and below")] = None,
    status: s.RetentionStatusCode | None = None,
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    """The applications the caller may read, newest first: a member their own, an admin those of
    their org and below."""
    items, total = await retention_views.list_retentions(
        request.app.state.engine, user, org=org, status=status, page=page, page_size=page_size
    )
    return {"items": items, "total": total, "page": page, "page_size": page_size}


@router.get("/retentions/{retention_id}", response_model=s.RetentionOut)
async def get_retention(retention_id: RetentionId, request: Request, user: CurrentUser) -> dict[str, Any]:
    return await _detail(request, user, retention_id)


async def _decided(
    request: Request,
    user: Caller,
    retention_id: int,
    decide: Callable[Concatenate[Flows, Caller, int, P], Awaitable[None]],
    *args: P.args,
    **kwargs: P.kwargs,
) -> dict[str, Any]:
    await decide(await flows(request), user, retention_id, *args, **kwargs)
    return await _detail(request, user, retention_id)


@router.post("/retentions/{retention_id}/approve", response_model=s.RetentionOut)
async def approve(
    retention_id: RetentionId, body: s.ApproveRequest, request: Request, user: CurrentUser
) -> dict[str, Any]:
    """The school committee (or an admin above it) approves: the member moves into the school's
    出国（境）学习研究团员团支部 and into the abroad-study register."""
    return await _decided(request, user, retention_id, retentions.approve_retention_by_id, body.comment)


@router.post("/retentions/{retention_id}/return", response_model=s.RetentionOut)
async def return_request(
    retention_id: RetentionId, body: s.ReturnRequest, request: Request, user: CurrentUser
) -> dict[str, Any]:
    """Returned with a reason (`form_incomplete`, `wrong_target`, `not_this_member`, `duplicate`,
    `other`); never on the grounds §III.4 forbids (422). The member may apply again."""
    return await _decided(
        request, user, retention_id, retentions.return_retention_by_id, body.reason_code, body.reason_text
    )


@router.post("/retentions/{retention_id}/withdraw", response_model=s.RetentionOut)
async def withdraw(
    retention_id: RetentionId, body: s.WithdrawRequest, request: Request, user: CurrentUser
) -> dict[str, Any]:
    """The member (their own) or the school withdraws a pending application, with a reason."""
    return await _decided(request, user, retention_id, retentions.withdraw_retention_by_id, body.reason)
