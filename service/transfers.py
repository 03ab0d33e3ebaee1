"""Building a transfer's workflow input and starting its workflow.

The database rows of a transfer are written only by its workflow's activities; this module reads
the directory, builds the input (target checks, approval chain) and starts the workflow. Who may
act is `service.permissions`; decisions are `service.decisions`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col
from temporalio.client import Client

from core.settings import get_settings
from core.temporal import start_and_wait_recorded
from domain import idcard
from domain.approval import ChainError, approval_chain
from domain.directory import Directory
from domain.policy import TransferPolicy, policy_for
from domain.transfers import Channel, TransferType
from messages.transfers import (
    WORKFLOW_ID_PREFIX,
    Actor,
    NodeSpec,
    OrgRef,
    Route,
    TransferInput,
    TransferView,
    workflow_id_for,
)
from models import Member, Org, Transfer, row_id
from models.db import session_factory
from models.directory import DIRECTORIES, load_with_ancestors
from service.errors import refuse
from workflows.transfer import TransferWorkflow


@dataclass
class StartResult:
    transfer_id: int
    created: bool  # False when the member's open transfer (or this request id's) was returned
    route: Route
    view: TransferView | None = None  # the live state (None when answered from the database)


async def load_for_input(engine: AsyncEngine, member_id: int, target_org_code: str) -> tuple[Member, Directory]:
    """The rows `make_input` needs: the member, and the directory holding their branch and the target."""
    async with session_factory(engine)() as session:
        member = await session.get(Member, member_id)
    if member is None:
        raise refuse(404, "member", "团员不存在")
    directory = await DIRECTORIES.get(engine, codes=[target_org_code], ids=[member.branch_id])
    return member, directory


def make_input(
    directory: Directory,
    member: Member,
    *,
    transfer_type: TransferType,
    channel: Channel,
    target_org_code: str,
    form: dict[str, Any],
    initiator: Actor,
    route: Route | None = None,
    request_id: str | None = None,
    policy: TransferPolicy | None = None,
    time_scale: float | None = None,
) -> TransferInput:
    """Everything the workflow needs, from rows already loaded (no I/O): the target's checks and
    the approval chain. `directory` must hold the member's branch (by id) and its ancestors."""
    branch = directory.by_id(member.branch_id)
    if branch is None:
        raise ValueError(f"the directory does not hold the member's branch (id {member.branch_id})")
    target = directory.get(target_org_code)
    if target is None:
        raise refuse(422, "target_org_code", f"转入组织 {target_org_code} 不存在")
    if target.code == branch.code:
        raise refuse(422, "target_org_code", "转入组织不能是团员当前所在团支部")
    if not target.can_receive:
        raise refuse(422, "target_org_code", f"{target.name}当前无法接收团员")
    try:
        chain = approval_chain(
            directory,
            transfer_type=transfer_type,
            channel=channel,
            from_org=branch,
            target=target,
            initiator_org_code=initiator.org_code if channel != Channel.SELF else None,
        )
    except ChainError as e:
        raise refuse(422, "target_org_code", str(e)) from e
    return TransferInput(
        member_id=member.id,
        member_name=member.name,
        member_id_masked=idcard.mask(member.id_number),
        type=transfer_type,
        channel=channel,
        from_org=OrgRef(code=branch.code, name=branch.name),
        target=OrgRef(code=target.code, name=target.name),
        target_branch_level=target.branch_level,
        form=form,
        route=route or Route(),
        nodes=[
            NodeSpec(
                org_code=n.org_code, org_name=n.org_name, role=n.role, approved_at_submission=n.approved_at_submission
            )
            for n in chain
        ],
        policy=policy or policy_for(time_scale if time_scale is not None else get_settings().time_scale),
        initiator=initiator,
        request_id=request_id or uuid.uuid4().hex,
    )


async def build_input(engine: AsyncEngine, *, member_id: int, target_org_code: str, **make: Any) -> TransferInput:
    """Everything the workflow needs, resolved now and recorded in its history: the rows loaded
    by `load_for_input`, then `make_input` with the rest of its keyword arguments."""
    member, directory = await load_for_input(engine, member_id, target_org_code)
    return make_input(directory, member, target_org_code=target_org_code, **make)


async def find_by_request_id(
    engine: AsyncEngine, client: Client | None, request_id: str, *, live: bool = True
) -> StartResult | None:
    """The transfer a request id already started, open or closed; with `live`, also its state
    from the workflow (a query: for a closed run no longer cached, a replay of its history)."""
    async with session_factory(engine)() as session:
        seen = (
            await session.execute(select(Transfer).where(col(Transfer.request_id) == request_id))
        ).scalar_one_or_none()
    if seen is None:
        return None
    async with session_factory(engine)() as session:
        target_code = await session.scalar(select(col(Org.code)).where(col(Org.id) == seen.target_org_id))
    route = Route(clause=seen.route_clause, explanation=seen.route_explanation, org_code=target_code)
    view = None
    if live:
        if client is None:
            raise ValueError("the live state of a transfer needs the Temporal client")
        handle = client.get_workflow_handle_for(TransferWorkflow.run, seen.workflow_id, run_id=seen.run_id)
        view = await handle.query(TransferWorkflow.status_query)
    return StartResult(transfer_id=row_id(seen.id), created=False, view=view, route=route)


async def start(
    client: Client, inp: TransferInput, *, task_queue: str, id_prefix: str = WORKFLOW_ID_PREFIX
) -> StartResult:
    """Start the member's transfer, or return the open one (USE_EXISTING on transfer-<member>).

    `id_prefix` lets tests sharing one server keep their members apart."""
    # update-with-start: one round trip gives the recorded state (row id, first node, deadlines)
    view = await start_and_wait_recorded(
        client,
        TransferWorkflow.run,
        inp,
        TransferWorkflow.recorded,
        workflow_id=workflow_id_for(inp.member_id, id_prefix),
        task_queue=task_queue,
        result_type=TransferView,
    )
    return StartResult(
        transfer_id=view.transfer_id, created=view.request_id == inp.request_id, view=view, route=view.route
    )


TRANSFER_CLOSED = "该申请已办结，不能再审批或撤回"


# --- decisions ---------------------------------------------------------------------------------


async def checked_branch(engine: AsyncEngine, branch_code: str, receiving_org_code: str) -> OrgRef:
    """The branch to assign, checked: a branch-level org under the receiving org, in the process's
    directory, or in the database for a code it does not hold (an org created a moment ago)."""
    directory = await DIRECTORIES.get(engine)
    if branch_code not in directory:
        async with session_factory(engine)() as session:
            directory = await load_with_ancestors(session, [branch_code])
    branch = directory.get(branch_code)
    if branch is None:
        raise refuse(422, "branch_code", f"团支部 {branch_code} 不存在")
    if not branch.branch_level:
        raise refuse(422, "branch_code", f"{branch.name}不是团支部级组织，不能分配")
    if not directory.is_ancestor(receiving_org_code, branch):
        raise refuse(422, "branch_code", f"{branch.name}不在接收组织之下")
    return OrgRef(code=branch.code, name=branch.name)
