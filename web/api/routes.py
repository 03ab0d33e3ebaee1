"""REST endpoints under /api: every one but the token endpoint needs `Authorization: Bearer`."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Annotated, Any, Concatenate, ParamSpec

from fastapi import APIRouter, Depends, Header, Path, Query, Request, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from messages.transfers import Route
from models.tables import MAX_ROW_ID
from service import auth, decisions, queries
from service.auth import Caller
from service.bulk_start import BulkStartRow, bulk_start
from service.errors import Problem, ServiceError
from service.intake import StartRequest, start_request
from service.transfers import StartResult
from web.api import schemas as s

P = ParamSpec("P")

router = APIRouter(prefix="/api", tags=["api"])
bearer = HTTPBearer(auto_error=False)


def _unauthorized(message: str) -> ServiceError:
    return ServiceError(401, [Problem("authorization", message)])


async def current_user(
    request: Request, creds: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)]
) -> Caller:
    if creds is None or creds.scheme.lower() != "bearer":
        raise _unauthorized("需要 Authorization: Bearer 令牌")
    state = request.app.state
    user_id = auth.token_user_id(creds.credentials, state.signing_key)
    user = await auth.load_user(state.engine, user_id) if user_id is not None else None
    if user is None:
        raise _unauthorized("令牌无效或已过期，请重新登录")
    return user


CurrentUser = Annotated[Caller, Depends(current_user)]
TransferId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="the transfer's id")]


async def _client(request: Request) -> Client:
    client: Client = await request.app.state.temporal_client()
    return client


async def _detail(request: Request, user: Caller, transfer_id: int) -> dict[str, Any]:
    d = await queries.visible_detail(request.app.state.engine, user, transfer_id)
    if d is None:
        raise ServiceError(404, [Problem("id", f"转接申请 {transfer_id} 不存在")])
    return d


@router.post("/auth/token", response_model=s.TokenResponse, tags=["auth"])
async def token(body: s.TokenRequest, request: Request) -> s.TokenResponse:
    state = request.app.state
    who = request.client.host if request.client else "unknown"
    if state.throttle.locked(who):
        raise ServiceError(429, [Problem("username", "登录失败次数过多，请15分钟后再试")])
    user = await auth.authenticate(state.engine, body.username, body.password)
    if user is None:
        await state.throttle.delay(who)
        state.throttle.failed(who)
        raise ServiceError(401, [Problem("password", "用户名或密码错误")])
    state.throttle.succeeded(who)
    ttl = timedelta(minutes=state.settings.token_ttl_minutes)
    return s.TokenResponse(access_token=auth.issue_token(user, state.signing_key, ttl))


@router.get("/me", response_model=s.MeOut, tags=["auth"])
async def me(
    request: Request, user: CurrentUser, org: Annotated[str | None, Query(max_length=64)] = None
) -> dict[str, Any]:
    """Who the token belongs to; with `?org=CODE`, whether it may act for that org (start 转出 for
    its members, decide its nodes): an admin or service account of the org or of one above it."""
    return await auth.whoami(request.app.state.engine, user, org)


@router.get("/orgs", response_model=list[s.OrgOut], tags=["orgs"])
async def orgs(
    request: Request,
    user: CurrentUser,
    q: Annotated[str | None, Query(max_length=100)] = None,
    partition: s.PartitionCode | None = None,
    kind: Annotated[str | None, Query(max_length=32)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
) -> list[dict[str, Any]]:
    return await queries.find_orgs(request.app.state.engine, q=q, partition=partition, kind=kind, limit=limit)


def _request_of(body: s.StartTransferRequest) -> StartRequest:
    return StartRequest(
        id_number=body.id_number,
        name=body.name,
        type=body.type,
        channel=body.channel,
        form=body.form,
        target_org_code=body.target_org_code,
        partition=body.partition,
    )


async def _start(
    request: Request, user: Caller, body: s.StartTransferRequest, idempotency_key: str | None, dry_run: bool = False
) -> tuple[StartResult | None, Route]:
    state = request.app.state
    return await start_request(
        state.engine,
        await _client(request) if not dry_run else None,
        user,
        _request_of(body),
        directories=state.directories,
        task_queue=state.settings.task_queue,
        id_prefix=state.settings.workflow_id_prefix,
        idempotency_key=idempotency_key,
        dry_run=dry_run,
    )


@router.post("/transfers/validate", response_model=s.ValidateResponse, tags=["transfers"])
async def validate_transfer(
    body: s.StartTransferRequest,
    request: Request,
    user: CurrentUser,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=128)] = None,
) -> dict[str, Any]:
    """Every check of a start, and the route it would take; nothing is started or written.
    With the Idempotency-Key of a start already made, the answer is that transfer's (so a bulk
    file re-run after its transfers completed is not refused because the members moved)."""
    seen, proposal = await _start(request, user, body, idempotency_key, dry_run=True)
    if seen is not None:
        return {
            "ok": True,
            "transfer_id": seen.transfer_id,
            "route": {"org_code": proposal.org_code, "clause": proposal.clause, "explanation": proposal.explanation},
        }
    return {
        "ok": True,
        "route": {"org_code": proposal.org_code, "clause": proposal.clause, "explanation": proposal.explanation},
    }


@router.post(
    "/transfers",
    response_model=s.TransferOut,
    status_code=201,
    tags=["transfers"],
    responses={200: {"description": "the member's open transfer (or this Idempotency-Key's)"}},
)
async def start_transfer(
    body: s.StartTransferRequest,
    request: Request,
    response: Response,
    user: CurrentUser,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=128)] = None,
) -> dict[str, Any]:
    result, _ = await _start(request, user, body, idempotency_key)
    assert result is not None  # not a dry run
    if not result.created:
        response.status_code = 200
    d = await queries.visible_detail(request.app.state.engine, user, result.transfer_id)
    if d is None:  # the member's open transfer was started by someone this caller may not see
        raise ServiceError(409, [Problem("id_number", "该团员已有办理中的转接申请")])
    return d


@router.post("/transfers/bulk", response_model=s.BulkStartResponse, tags=["transfers"])
async def bulk_start_transfers(body: s.BulkStartRequest, request: Request, user: CurrentUser) -> dict[str, Any]:
    """Up to 500 starts in one call, each row checked exactly as POST /api/transfers checks it
    (with its own `idempotency_key`); one result per row, in order, HTTP 200 as a whole.

    A row's `status_code` is the single endpoint's: 201 started, 200 existing (this key's transfer,
    or the member's open one), else the refusal (422, 403, ...) with its `errors`; a refused row
    starts nothing and the other rows go on. A new transfer is answered by its `workflow_id` without
    waiting for the workflow to record it: `transfer_id` is set only for a key seen before.
    With `dry_run`, every check and each row's route, nothing started."""
    if not 1 <= len(body.rows) <= s.BULK_MAX_ROWS:
        raise ServiceError(
            422,
            [
                Problem(
                    "rows",
                    f"rows 应为 1 到 {s.BULK_MAX_ROWS} 行，实际为 {len(body.rows)} 行；"
                    f"一次最多提交 {s.BULK_MAX_ROWS} 行，请分批提交",
                )
            ],
        )
    state = request.app.state
    results = await bulk_start(
        state.engine,
        None if body.dry_run else await _client(request),
        user,
        [BulkStartRow(_request_of(r), r.idempotency_key) for r in body.rows],
        directories=state.directories,
        task_queue=state.settings.task_queue,
        id_prefix=state.settings.workflow_id_prefix,
        dry_run=body.dry_run,
    )
    return {"results": [r.as_dict() for r in results]}


@router.get("/transfers", response_model=s.TransferPage, tags=["transfers"])
async def list_transfers(
    request: Request,
    user: CurrentUser,
    node_org: Annotated[str | None, Query(max_length=64)] = None,
    from_org: Annotated[str | None, Query(max_length=64)] = None,
    to_org: Annotated[str | None, Query(max_length=64)] = None,
    status: s.StatusCode | None = None,
    type: s.TransferType | None = None,
    overdue: bool | None = None,
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
    subtree: Annotated[bool, Query(description="with node_org: what waits at that org and every org below it")] = False,
) -> dict[str, Any]:
    """`node_org`: what waits for that org's admins, at the org and at the orgs below it without
    an admin account of their own (a branch, a vacant township), which they handle; with
    `subtree=true`, at the org and every org below it. `overdue` applies to those nodes."""
    if subtree and not node_org:
        raise ServiceError(422, [Problem("subtree", "subtree 需与 node_org 一起使用")])
    f = queries.TransferFilter(
        node_org=node_org,
        from_org=from_org,
        to_org=to_org,
        status=status,
        overdue=overdue,
        type=type.value if type else None,
        subtree=subtree,
    )
    items, total = await queries.transfer_page(request.app.state.engine, user, f, page=page, page_size=page_size)
    return {"items": items, "total": total, "page": page, "page_size": page_size}


@router.get("/transfers/{transfer_id}", response_model=s.TransferOut, tags=["transfers"])
async def get_transfer(transfer_id: TransferId, request: Request, user: CurrentUser) -> dict[str, Any]:
    return await _detail(request, user, transfer_id)


@router.post("/transfers/batch/approve", response_model=s.BatchResponse, tags=["decisions"])
async def batch_approve(body: s.BatchApproveRequest, request: Request, user: CurrentUser) -> dict[str, Any]:
    results = await decisions.batch_approve(request.app.state.engine, await _client(request), user, body.ids)
    return {"results": results}


@router.post("/transfers/batch/return", response_model=s.BatchResponse, tags=["decisions"])
async def batch_return(body: s.BatchReturnRequest, request: Request, user: CurrentUser) -> dict[str, Any]:
    """退回 each id with one reason, as POST /api/transfers/{id}/return would (the node's admin
    only; a ground §III.4 forbids is refused, 422 with the notice's words): one result per id, in
    order; a refused id does not stop the others."""
    results = await decisions.batch_return(
        request.app.state.engine, await _client(request), user, body.ids, body.reason_code, body.reason_text
    )
    return {"results": results}


async def _decided(
    request: Request,
    user: Caller,
    transfer_id: int,
    decide: Callable[Concatenate[AsyncEngine, Client, Caller, int, P], Awaitable[object]],
    *args: P.args,
    **kwargs: P.kwargs,
) -> dict[str, Any]:
    """One decision on a transfer (`decisions.approve`, ...), answered with the transfer as it is then."""
    await decide(request.app.state.engine, await _client(request), user, transfer_id, *args, **kwargs)
    return await _detail(request, user, transfer_id)


@router.post("/transfers/{transfer_id}/approve", response_model=s.TransferOut, tags=["decisions"])
async def approve(
    transfer_id: TransferId, body: s.ApproveRequest, request: Request, user: CurrentUser
) -> dict[str, Any]:
    return await _decided(request, user, transfer_id, decisions.approve, body.comment)


@router.post("/transfers/{transfer_id}/return", response_model=s.TransferOut, tags=["decisions"])
async def return_request(
    transfer_id: TransferId, body: s.ReturnRequest, request: Request, user: CurrentUser
) -> dict[str, Any]:
    return await _decided(request, user, transfer_id, decisions.return_request, body.reason_code, body.reason_text)


@router.post("/transfers/{transfer_id}/withdraw", response_model=s.TransferOut, tags=["decisions"])
async def withdraw(
    transfer_id: TransferId, body: s.WithdrawRequest, request: Request, user: CurrentUser
) -> dict[str, Any]:
    return await _decided(request, user, transfer_id, decisions.withdraw, body.reason)


@router.post("/transfers/{transfer_id}/resubmit", response_model=s.TransferOut, tags=["decisions"])
async def resubmit(
    transfer_id: TransferId, body: s.ResubmitRequest, request: Request, user: CurrentUser
) -> dict[str, Any]:
    return await _decided(
        request, user, transfer_id, decisions.resubmit, body.form, body.target_org_code, body.partition
    )


@router.post("/transfers/{transfer_id}/assign-branch", response_model=s.TransferOut, tags=["decisions"])
async def assign_branch(
    transfer_id: TransferId, body: s.AssignBranchRequest, request: Request, user: CurrentUser
) -> dict[str, Any]:
    return await _decided(request, user, transfer_id, decisions.assign_branch, body.branch_code)
