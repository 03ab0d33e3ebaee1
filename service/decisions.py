"""Decisions on a transfer by its id, as the API and the UI send them: find the node, check the
caller may act for it (`service.permissions`, the answer the UI's action forms show too), send
the update. The workflow's validators refuse stale decisions."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Select, and_, bindparam, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import aliased
from sqlmodel import col
from temporalio.client import Client, WorkflowHandle

from core.clock import calendar
from domain.roles import Role
from domain.transfers import Channel, TransferStatus, TransferType
from messages.transfers import (
    Actor,
    ApproveInput,
    AssignBranchInput,
    ResubmitInput,
    ReturnInput,
    Route,
    TransferView,
    WithdrawInput,
)
from models import ApprovalStep, Org, Transfer, User
from models.db import reader, session_factory
from models.directory import DIRECTORIES
from service import intake, permissions
from service import transfers as svc
from service.errors import ServiceError, execute_update, refuse
from service.queries import get_visible_transfer
from starter.pool import gather_limited
from workflows.transfer import TransferWorkflow


@dataclass(frozen=True)
class _Target:
    """What a decision needs of the transfer row, read in one query: the workflow to update, who
    may act (its channel and member), the receiving org, and the node pending now (if any)."""

    id: int
    workflow_id: str
    run_id: str
    channel: str
    type: str
    member_id: int
    target_code: str
    step_round: int | None
    step_seq: int | None
    step_org_code: str | None


def _load_statement() -> Select[*tuple[Any, ...]]:
    """Built once: a statement's aliases are costly to build per call (most of a decision's CPU)."""
    target_org, step_org = aliased(Org), aliased(Org)
    return (
        select(
            col(Transfer.id),
            col(Transfer.workflow_id),
            col(Transfer.run_id),
            col(Transfer.channel),
            col(Transfer.type),
            col(Transfer.member_id),
            col(target_org.code),
            col(ApprovalStep.round),
            col(ApprovalStep.seq),
            col(step_org.code),
        )
        .join(target_org, col(target_org.id) == Transfer.target_org_id)
        .outerjoin(
            ApprovalStep, and_(col(ApprovalStep.transfer_id) == Transfer.id, col(ApprovalStep.status) == "pending")
        )
        .outerjoin(step_org, col(step_org.id) == ApprovalStep.org_id)
        .where(col(Transfer.id) == bindparam("transfer_id"))
        .order_by(col(ApprovalStep.round).desc())
        .limit(1)
    )


_LOAD = _load_statement()


async def _load(engine: AsyncEngine, user: User, transfer_id: int) -> _Target:
    """The transfer by id; 404 when it does not exist or is not this user's to see. An admin's
    visibility is checked only when their permission for the node fails (`_as_admin`): the
    permission implies it, and the subtree query is the costly part."""
    async with reader(engine).connect() as conn:
        row = (await conn.execute(_LOAD, {"transfer_id": transfer_id})).first()
    if row is not None and user.role != Role.ADMIN:
        async with session_factory(engine)() as session:
            if await get_visible_transfer(session, user, transfer_id) is None:
                row = None
    if row is None:
        raise refuse(404, "id", f"转接申请 {transfer_id} 不存在")
    if user.role == Role.SERVICE:
        raise refuse(403, "user", "服务账号只能发起和查看转接申请，不能审批或撤回")
    return _Target(*row)


async def _as_admin(engine: AsyncEngine, user: User, t: _Target, org_code: str) -> Actor:
    """The admin's actor for an org of this transfer: 403 if they may not act for it, 404 if they
    may not even see the transfer."""
    return await _unless_unseen(engine, user, t, permissions.admin_actor(engine, user, org_code))


async def _unless_unseen(engine: AsyncEngine, user: User, t: _Target, actor: Awaitable[Actor]) -> Actor:
    """The actor; a 403 becomes 404 when the user may not even see the transfer."""
    try:
        return await actor
    except ServiceError as e:
        if e.status == 403:
            async with session_factory(engine)() as session:
                if await get_visible_transfer(session, user, t.id) is None:
                    raise refuse(404, "id", f"转接申请 {t.id} 不存在") from e
        raise


def _handle(client: Client, t: _Target) -> WorkflowHandle[Any, Any]:
    return client.get_workflow_handle_for(TransferWorkflow.run, t.workflow_id, run_id=t.run_id)


async def _send(client: Client, t: _Target, update: Any, arg: Any) -> TransferView:
    """The decision as an update of the transfer's workflow; its validator refuses stale ones."""
    view: TransferView = await execute_update(
        _handle(client, t), update, arg, result_type=TransferView, closed=svc.TRANSFER_CLOSED
    )
    return view


async def _pending_step(engine: AsyncEngine, user: User, t: _Target) -> tuple[int, int, str]:
    """The pending node's round, seq and org code; 409 when no node is pending."""
    if t.step_seq is None:
        async with session_factory(engine)() as session:
            if await get_visible_transfer(session, user, t.id) is None:  # not even theirs to see
                raise refuse(404, "id", f"转接申请 {t.id} 不存在")
        raise refuse(409, "status", "该申请当前没有待审批的节点")
    assert t.step_round is not None and t.step_org_code is not None  # a pending node has both
    return t.step_round, t.step_seq, t.step_org_code


async def approve(
    engine: AsyncEngine, client: Client, user: User, transfer_id: int, comment: str | None
) -> TransferView:
    t = await _load(engine, user, transfer_id)
    round_, seq, org_code = await _pending_step(engine, user, t)
    actor = await _as_admin(engine, user, t, org_code)
    return await _send(
        client, t, TransferWorkflow.approve, ApproveInput(round=round_, seq=seq, actor=actor, comment=comment)
    )


async def return_request(
    engine: AsyncEngine, client: Client, user: User, transfer_id: int, reason_code: str, reason_text: str
) -> TransferView:
    t = await _load(engine, user, transfer_id)
    round_, seq, org_code = await _pending_step(engine, user, t)
    actor = await _as_admin(engine, user, t, org_code)
    return await _send(
        client,
        t,
        TransferWorkflow.return_request,
        ReturnInput(round=round_, seq=seq, actor=actor, reason_code=reason_code, reason_text=reason_text),
    )


async def _initiator_actor(engine: AsyncEngine, client: Client, user: User, t: _Target) -> tuple[Actor, TransferView]:
    view: TransferView = await _handle(client, t).query(TransferWorkflow.status_query)
    actor = permissions.initiator_actor(
        engine,
        user,
        channel=t.channel,
        member_id=t.member_id,
        initiator_org_code=view.initiator.org_code if view.initiator else None,
    )
    if t.channel == Channel.SELF or user.role == Role.MEMBER:
        return await actor, view
    return await _unless_unseen(engine, user, t, actor), view


async def withdraw(engine: AsyncEngine, client: Client, user: User, transfer_id: int, reason: str) -> TransferView:
    t = await _load(engine, user, transfer_id)
    actor, _ = await _initiator_actor(engine, client, user, t)
    return await _send(client, t, TransferWorkflow.withdraw, WithdrawInput(actor=actor, reason=reason))


async def resubmit(
    engine: AsyncEngine,
    client: Client,
    user: User,
    transfer_id: int,
    form: dict[str, Any],
    target_org_code: str | None,
    partition: str | None = None,
) -> TransferView:
    """The initiator's corrected request: through the same gate as a start (the member, the route,
    the target's checks, the partition answer, the calendar) with the original initiator, keeping
    the target (or moving to `target_org_code`) and the partition answer unless a new one is given."""
    t, d, _ = await _resubmission(engine, client, user, transfer_id, form, target_org_code, partition)
    return await _send(client, t, TransferWorkflow.resubmit, d)


async def check_resubmission(
    engine: AsyncEngine,
    client: Client,
    user: User,
    transfer_id: int,
    form: dict[str, Any],
    target_org_code: str | None,
    partition: str | None = None,
) -> Route:
    """预览 of a resubmission: every check `resubmit` makes and the route it would take; nothing
    is sent. 409 when the request is not (or no longer) returned."""
    _, _, checked_route = await _resubmission(
        engine, client, user, transfer_id, form, target_org_code, partition, returned_only=True
    )
    return checked_route


async def _resubmission(
    engine: AsyncEngine,
    client: Client,
    user: User,
    transfer_id: int,
    form: dict[str, Any],
    target_org_code: str | None,
    partition: str | None,
    *,
    returned_only: bool = False,
) -> tuple[_Target, ResubmitInput, Route]:
    """The gate of a resubmission: the transfer, the update to send and the route it takes."""
    t = await _load(engine, user, transfer_id)
    actor, view = await _initiator_actor(engine, client, user, t)
    if returned_only and view.status != TransferStatus.RETURNED:
        raise refuse(409, "status", "只有被退回的申请可以重新提交")
    if view.initiator is None:
        raise ValueError(f"transfer {transfer_id} has no initiator")
    member = await intake.member_by_id(engine, t.member_id)
    initiator_org = view.initiator.org_code
    req = intake.StartRequest(
        id_number=member.id_number,
        name=member.name,
        type=TransferType(t.type),
        channel=Channel(t.channel),
        form=form,
        target_org_code=target_org_code or view.target.code,
        partition=partition or view.partition,
    )
    today = calendar().today()
    parsed = intake.parse_request(req, today=today)
    directory = await DIRECTORIES.get(
        engine, codes=[c for c in (req.target_org_code, initiator_org) if c], ids=[member.branch_id]
    )
    branch = directory.by_id(member.branch_id)
    if branch is not None and (p := intake.member_problem(member, branch, directory, today=today)):
        raise refuse(422, "id_number", p)
    checked = intake.check_route(
        req,
        parsed,
        initiator=view.initiator,
        initiator_org=directory.get(initiator_org) if initiator_org else None,
        member=member,
        directory=directory,
        today=today,
        request_id=view.request_id,
    )
    d = ResubmitInput(actor=actor, form=checked.inp.form, partition=checked.inp.partition)
    if checked.inp.target.code != view.target.code:
        d = d.model_copy(
            update={
                "target": checked.inp.target,
                "target_branch_level": checked.inp.target_branch_level,
                "nodes": checked.inp.nodes,
                "route": checked.inp.route,
            }
        )
    return t, d, checked.route


async def assign_branch(
    engine: AsyncEngine, client: Client, user: User, transfer_id: int, branch_code: str
) -> TransferView:
    t = await _load(engine, user, transfer_id)
    actor = await _as_admin(engine, user, t, t.target_code)
    branch = await svc.checked_branch(engine, branch_code, t.target_code)
    return await _send(client, t, TransferWorkflow.assign_branch, AssignBranchInput(actor=actor, branch=branch))


#: Decisions of one batch sent at once (each waits for its workflow to record it).
BATCH_CONCURRENCY = 4


async def _each(ids: list[int], decide: Callable[[int], Awaitable[TransferView]]) -> list[dict[str, Any]]:
    """One outcome per id, in order: the decision's status, or its refusal (which does not stop
    the others); a few decisions in flight at a time."""

    async def one(i: int) -> dict[str, Any]:
        try:
            view = await decide(i)
        except ServiceError as e:
            errors = [{"field": p.field, "message": p.message} for p in e.problems]
            return {"id": i, "ok": False, "status_code": e.status, "errors": errors}
        return {"id": i, "ok": True, "status": view.status.value, "errors": []}

    return await gather_limited(BATCH_CONCURRENCY, [one(i) for i in ids])


async def batch_approve(engine: AsyncEngine, client: Client, user: User, ids: list[int]) -> list[dict[str, Any]]:
    """审批通过 for each id (as `approve`, without a comment): one result per id."""
    return await _each(ids, lambda i: approve(engine, client, user, i, None))


async def batch_return(
    engine: AsyncEngine, client: Client, user: User, ids: list[int], reason_code: str, reason_text: str
) -> list[dict[str, Any]]:
    """退回 each id with one reason (as `return_request`: the node's admin only, and never on a
    ground §III.4 forbids): one result per id."""
    return await _each(ids, lambda i: return_request(engine, client, user, i, reason_code, reason_text))
