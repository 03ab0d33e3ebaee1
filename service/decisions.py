"""Decisions on a transfer by its id, as the API and the UI send them: find the node, check the
caller may act for it, send the update. The workflow's validators refuse stale decisions."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import and_, bindparam, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlalchemy.orm import aliased
from temporalio.client import Client

from domain.forms import validate_form
from domain.transfers import Channel, TransferType
from messages.transfers import (
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
from service import transfers as svc
from service.errors import Problem, ServiceError, execute_update, refuse
from service.queries import get_visible_transfer
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


def _load_statement():
    """Built once: a statement's aliases are costly to build per call (most of a decision's CPU)."""
    target_org, step_org = aliased(Org), aliased(Org)
    return (
        select(
            Transfer.id,
            Transfer.workflow_id,
            Transfer.run_id,
            Transfer.channel,
            Transfer.type,
            Transfer.member_id,
            target_org.code,
            ApprovalStep.round,
            ApprovalStep.seq,
            step_org.code,
        )
        .join(target_org, target_org.id == Transfer.target_org_id)
        .outerjoin(ApprovalStep, and_(ApprovalStep.transfer_id == Transfer.id, ApprovalStep.status == "pending"))
        .outerjoin(step_org, step_org.id == ApprovalStep.org_id)
        .where(Transfer.id == bindparam("transfer_id"))
        .order_by(ApprovalStep.round.desc())
        .limit(1)
    )


_LOAD = _load_statement()


async def _load(engine: AsyncEngine, user: User, transfer_id: int) -> _Target:
    """The transfer by id; 404 when it does not exist or is not this user's to see. An admin's
    visibility is checked only when their permission for the node fails (`_as_admin`): the
    permission implies it, and the subtree query is the costly part."""
    async with reader(engine).connect() as conn:
        row = (await conn.execute(_LOAD, {"transfer_id": transfer_id})).first()
    if row is not None and user.role != "admin":
        async with session_factory(engine)() as session:
            if await get_visible_transfer(session, user, transfer_id) is None:
                row = None
    if row is None:
        raise refuse(404, "id", f"转接申请 {transfer_id} 不存在")
    if user.role == "service":
        raise refuse(403, "user", "服务账号只能发起和查看转接申请，不能审批或撤回")
    return _Target(*row)


async def _as_admin(engine: AsyncEngine, user: User, t: _Target, org_code: str):
    """The admin's actor for an org of this transfer: 403 if they may not act for it, 404 if they
    may not even see the transfer."""
    try:
        return await svc.admin_actor(engine, user, org_code)
    except ServiceError as e:
        if e.status == 403:
            async with session_factory(engine)() as session:
                if await get_visible_transfer(session, user, t.id) is None:
                    raise refuse(404, "id", f"转接申请 {t.id} 不存在") from e
        raise


def _handle(client: Client, t: _Target):
    return client.get_workflow_handle_for(TransferWorkflow.run, t.workflow_id, run_id=t.run_id)


async def _send(client: Client, t: _Target, update: Any, arg: Any) -> TransferView:
    """The decision as an update of the transfer's workflow; its validator refuses stale ones."""
    return await execute_update(_handle(client, t), update, arg, result_type=TransferView, closed=svc.TRANSFER_CLOSED)


async def _pending_step(engine: AsyncEngine, user: User, t: _Target) -> tuple[int, int, str]:
    """The pending node's round, seq and org code; 409 when no node is pending."""
    if t.step_seq is None:
        async with session_factory(engine)() as session:
            if await get_visible_transfer(session, user, t.id) is None:  # not even theirs to see
                raise refuse(404, "id", f"转接申请 {t.id} 不存在")
        raise refuse(409, "status", "该申请当前没有待审批的节点")
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


async def _initiator_actor(engine: AsyncEngine, client: Client, user: User, t: _Target):
    view = await _handle(client, t).query(TransferWorkflow.status_query)
    init = view.initiator
    if t.channel == Channel.SELF.value:
        if user.role != "member":
            raise refuse(403, "user", "该申请由团员本人发起，只能由本人撤回或重新提交")
        return svc.member_actor(user), view
    if user.role == "member":
        raise refuse(403, "user", "该申请由组织发起，只能由发起组织撤回或重新提交")
    return await _as_admin(engine, user, t, init.org_code), view


async def withdraw(engine: AsyncEngine, client: Client, user: User, transfer_id: int, reason: str) -> TransferView:
    t = await _load(engine, user, transfer_id)
    actor, _ = await _initiator_actor(engine, client, user, t)
    return await _send(client, t, TransferWorkflow.withdraw, WithdrawInput(actor=actor, reason=reason))


async def resubmit(
    engine: AsyncEngine, client: Client, user: User, transfer_id: int, form: dict[str, Any], target_org_code: str | None
) -> TransferView:
    t = await _load(engine, user, transfer_id)
    actor, view = await _initiator_actor(engine, client, user, t)
    parsed, problems = validate_form(t.type, form)
    if problems:
        raise ServiceError(
            422, [Problem(p.field if p.field.startswith("form") else f"form.{p.field}", p.message) for p in problems]
        )
    clean = parsed.model_dump(mode="json", exclude_none=True)
    d = ResubmitInput(actor=actor, form=clean)
    if target_org_code and target_org_code != view.target.code:
        inp = await svc.build_input(
            engine,
            member_id=t.member_id,
            transfer_type=TransferType(t.type),
            channel=Channel(t.channel),
            target_org_code=target_org_code,
            form=clean,
            initiator=view.initiator,
        )
        d = d.model_copy(
            update={
                "target": inp.target,
                "target_branch_level": inp.target_branch_level,
                "nodes": inp.nodes,
                "route": Route(explanation=f"重新提交时由发起方改为转入{inp.target.name}"),
            }
        )
    return await _send(client, t, TransferWorkflow.resubmit, d)


async def assign_branch(
    engine: AsyncEngine, client: Client, user: User, transfer_id: int, branch_code: str
) -> TransferView:
    t = await _load(engine, user, transfer_id)
    actor = await _as_admin(engine, user, t, t.target_code)
    branch = await svc.checked_branch(engine, branch_code, t.target_code)
    return await _send(client, t, TransferWorkflow.assign_branch, AssignBranchInput(actor=actor, branch=branch))


async def batch_approve(engine: AsyncEngine, client: Client, user: User, ids: list[int]) -> list[dict[str, Any]]:
    """One result per id; one refusal does not stop the others."""
    out = []
    for i in ids:
        try:
            v = await approve(engine, client, user, i, None)
            out.append({"id": i, "ok": True, "status": v.status.value, "errors": []})
        except ServiceError as e:
            out.append(
                {
                    "id": i,
                    "ok": False,
                    "status_code": e.status,
                    "errors": [{"field": p.field, "message": p.message} for p in e.problems],
                }
            )
    return out
