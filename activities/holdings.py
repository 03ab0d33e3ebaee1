"""Starting and ending a member's holdings from outside their workflows: the one mechanism.

A completed transfer's follow-up (`TransferActivities`) ends the member's open holdings and,
when the member arrived in a county-level 学社衔接临时团支部, starts its one-year holding (§I.1);
the service layer (`service.holdings`) offers the same to admins and maps the refusals.
Both come here. The holdings are HoldingWorkflow executions, driven through the Temporal client
and addressed by type, update name and id (`messages.stay_at_school`): activities never import
workflows/.

Temporal's failures of an update reach the caller as they are (`WorkflowUpdateFailedError`,
`RPCError`); `core.temporal.update_failure_status` says what they mean.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import col
from temporalio.client import Client, WorkflowHandle, WorkflowUpdateFailedError
from temporalio.service import RPCError

from core.temporal import start_and_wait_recorded, update_failure_status
from domain import idcard
from domain.holdings import HoldingKind, HoldingPolicy, HoldingStatus, holding_policy_for
from domain.orgs import OrgKind
from messages.stay_at_school import (
    HOLDING_ID_PREFIX,
    HOLDING_RECORDED_UPDATE,
    HOLDING_RELEASE_UPDATE,
    HOLDING_WORKFLOW,
    BranchSpec,
    HoldingInput,
    HoldingRelease,
    HoldingView,
    holding_workflow_id,
)
from messages.transfers import SYSTEM_ACTOR, Actor, OrgRef
from models.db import session_factory
from models.tables import Holding, Member, Org

#: What a completed transfer's follow-up says when it ends the member's holdings.
TRANSFERRED_OUT = HoldingRelease(actor=SYSTEM_ACTOR, reason="组织关系已转出")

_OPEN = (HoldingStatus.ACTIVE.value, HoldingStatus.OVERDUE.value)


class HoldingRefused(Exception):
    """The holding cannot start as asked: an HTTP-like status, the field and the rule in Chinese
    (the service layer turns it into its refusal)."""

    def __init__(self, status: int, field: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.field = field
        self.message = message


@dataclass
class HoldingStart:
    view: HoldingView
    created: bool  # False when the member's open holding of that kind was returned instead


# --- starting ------------------------------------------------------------------------------------


async def start_holding(
    client: Client, inp: HoldingInput, *, task_queue: str, id_prefix: str = HOLDING_ID_PREFIX
) -> HoldingStart:
    """Start the member's holding of `inp.kind` (holding-<kind>-<member>), or return the open one;
    the answer is the state once its start is in the database."""
    view = await start_and_wait_recorded(
        client,
        HOLDING_WORKFLOW,
        inp,
        HOLDING_RECORDED_UPDATE,
        workflow_id=holding_workflow_id(inp.kind, inp.member_id, id_prefix),
        task_queue=task_queue,
        result_type=HoldingView,
    )
    return HoldingStart(view=view, created=view.request_id == inp.request_id)


def is_county_temp_branch(branch: Org, parent: Org | None) -> bool:
    """§I.1: a 学社衔接临时团支部 set up directly by a county-level committee."""
    return branch.kind == OrgKind.TEMP_BRANCH and parent is not None and parent.kind == OrgKind.COUNTY


async def parent_of(session: AsyncSession, org: Org) -> Org | None:
    return await session.get(Org, org.parent_id) if org.parent_id else None


async def start_county_holding(
    client: Client,
    engine: AsyncEngine,
    *,
    member_id: int,
    task_queue: str,
    actor: Actor = SYSTEM_ACTOR,
    started_at: datetime | None = None,
    policy: HoldingPolicy | None = None,
    time_scale: float = 1.0,
    id_prefix: str = HOLDING_ID_PREFIX,
    request_id: str | None = None,
) -> HoldingStart:
    """§I.1: a member received by a county-level 学社衔接临时团支部 must be moved out within a year.

    `started_at`: the completion of the transfer into the branch (default the workflow's start).
    `HoldingRefused` (404, 422) when there is no such member or their branch is not a temp branch
    directly under a county committee."""
    async with session_factory(engine)() as session:
        member = await session.get(Member, member_id)
        if member is None:
            raise HoldingRefused(404, "member", "团员不存在")
        branch = await session.get_one(Org, member.branch_id)
        parent = await parent_of(session, branch)
    if parent is None or not is_county_temp_branch(branch, parent):
        raise HoldingRefused(422, "member", f"{member.name}所在的{branch.name}不是县级团委直接建立的学社衔接临时团支部")
    inp = HoldingInput(
        kind=HoldingKind.COUNTY_TEMP,
        member_id=member_id,
        member_name=member.name,
        member_id_masked=idcard.mask(member.id_number),
        from_branch=OrgRef(code=branch.code, name=branch.name),
        branch=BranchSpec(code=branch.code, name=branch.name, kind=branch.kind, parent_code=parent.code),
        notify_org=OrgRef(code=parent.code, name=parent.name),
        move_in=False,
        policy=policy or holding_policy_for(time_scale),
        started_at=started_at,
        started_by=actor,
        request_id=request_id or uuid.uuid4().hex,
    )
    return await start_holding(client, inp, task_queue=task_queue, id_prefix=id_prefix)


# --- ending --------------------------------------------------------------------------------------


def holding_handle(client: Client, workflow_id: str) -> WorkflowHandle[Any, Any]:
    return client.get_workflow_handle(workflow_id)


async def release_holding(handle: WorkflowHandle[Any, Any], d: HoldingRelease) -> HoldingView:
    """End a holding (the member was moved out); the state once the end is in the database."""
    view: HoldingView = await handle.execute_update(HOLDING_RELEASE_UPDATE, d, result_type=HoldingView)
    return view


async def open_holdings(engine: AsyncEngine, member_id: int) -> list[str]:
    """The workflow ids of the member's open holdings (active or overdue), in the database."""
    async with session_factory(engine)() as session:
        ids = (
            await session.execute(
                select(col(Holding.workflow_id)).where(
                    col(Holding.member_id) == member_id, col(Holding.status).in_(_OPEN)
                )
            )
        ).scalars()
        return list(dict.fromkeys(ids))


async def release_member_holdings(
    client: Client, engine: AsyncEngine, member_id: int, d: HoldingRelease | None = None
) -> list[HoldingView]:
    """End every open holding of a member (mobile, county temp branch), as when a transfer of the
    member completes; holdings that ended meanwhile (a 409 refusal) are skipped."""
    d = d or TRANSFERRED_OUT
    out: list[HoldingView] = []
    for wid in await open_holdings(engine, member_id):
        try:
            out.append(await release_holding(holding_handle(client, wid), d))
        except (WorkflowUpdateFailedError, RPCError) as e:
            if update_failure_status(e) != 409:
                raise
    return out
