"""The holdings of §6 started and ended by the service: authorise, validate, start or update their workflows.

- unemployed kept at school (§I.4): `mark_mobile` (refused before 07-25 of the graduation year);
- county temp branch (§I.1): `start_county_holding` (a transfer completing into a county-level
  学社衔接临时团支部 does it in its follow-up);
- ending a holding: `release_holding` (one workflow) or `release_member_holdings` (every open
  holding of a member — a completed transfer of the member does it in its follow-up).

Starting and ending holdings is one mechanism, `activities.holdings`, shared with the transfer
activities' follow-up; these functions add the refusals. Rows of holdings are written only by
their workflows' activities. Callers check who acts first and pass the `Actor`.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Awaitable, Callable
from datetime import date, datetime
from typing import Any, ParamSpec, TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client, WorkflowHandle

from activities import holdings
from activities.holdings import HoldingRefused, HoldingStart
from core.clock import calendar
from domain import idcard
from domain.deadlines import mobile_marking_allowed
from domain.holdings import MOBILE_TOO_EARLY_MESSAGE, HoldingKind, HoldingPolicy, holding_policy_for
from domain.orgs import OrgKind
from messages.stay_at_school import HOLDING_ID_PREFIX, HoldingInput, HoldingRelease, HoldingView
from messages.transfers import Actor, OrgRef
from models.db import session_factory
from service.errors import refuse, update_refusals
from service.school_lookups import check_no_open_transfer, check_school_actor, member_and_school, school_branch
from workflows.holding import HoldingWorkflow

P = ParamSpec("P")
R = TypeVar("R")

HOLDING_CLOSED = "该团员的保留已结束，不能重复办理"


async def mark_mobile(
    client: Client,
    engine: AsyncEngine,
    *,
    member_id: int,
    actor: Actor,
    task_queue: str,
    now: datetime | date | None = None,
    policy: HoldingPolicy | None = None,
    time_scale: float = 1.0,
    id_prefix: str = HOLDING_ID_PREFIX,
    request_id: str | None = None,
) -> HoldingStart:
    """§I.4: from 07-25 (Shanghai) of the graduation year, the school marks an unemployed graduate
    and puts them into its 毕业学生流动团员团支部 (created when missing) until 6 months after
    graduation (06-30 of the graduation year, a `HoldingPolicy` value) **[decision]**; a member
    whose 6 months are over is refused (422): they are to be moved out.

    `now` is the calendar instant the rules are checked against and the time left is measured
    from (default: the calendar clock's); the workflow gets that end day and the time left,
    which it waits divided by the policy's time scale."""
    now = now or calendar().now()
    policy = policy or holding_policy_for(time_scale)
    async with session_factory(engine)() as session:
        member, _directory, branch, school = await member_and_school(session, member_id)
        check_school_actor(actor, school, what="标记毕业学生流动团员")
        if member.graduation_year is None:
            raise refuse(422, "member", f"{member.name}没有毕业年份，不能标记为流动团员")
        if not mobile_marking_allowed(now, member.graduation_year):
            raise refuse(422, "now", MOBILE_TOO_EARLY_MESSAGE)
        if policy.mobile_term_over(now, member.graduation_year):
            raise refuse(422, "member", policy.mobile_term_over_message(member.name, member.graduation_year))
        if member.delayed_graduation:
            raise refuse(422, "member", f"{member.name}已标记为延迟毕业，不能编入毕业学生流动团员团支部")
        if member.abroad_retention:
            raise refuse(409, "member", f"{member.name}已保留团组织关系并编入出国（境）学习研究团员团支部")
        await check_no_open_transfer(session, member)
        target = await school_branch(session, school, OrgKind.MOBILE_BRANCH)
    inp = HoldingInput(
        kind=HoldingKind.MOBILE,
        member_id=member.id,
        member_name=member.name,
        member_id_masked=idcard.mask(member.id_number),
        from_branch=OrgRef(code=branch.code, name=branch.name),
        branch=target,
        notify_org=OrgRef(code=school.code, name=school.name),
        move_in=True,
        policy=policy,
        ends_on=policy.mobile_ends_on(member.graduation_year),
        calendar_left=policy.mobile_left(now, member.graduation_year),
        started_by=actor,
        request_id=request_id or uuid.uuid4().hex,
    )
    return await holdings.start_holding(client, inp, task_queue=task_queue, id_prefix=id_prefix)


def _with_refusals(start: Callable[P, Awaitable[R]]) -> Callable[P, Awaitable[R]]:
    """`start`, its `HoldingRefused` raised as the service's refusal."""

    @functools.wraps(start)
    async def refusing(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return await start(*args, **kwargs)
        except HoldingRefused as e:
            raise refuse(e.status, e.field, e.message) from e

    return refusing


#: §I.1: a member received by a county-level 学社衔接临时团支部 must be moved out within a year
#: (`activities.holdings.start_county_holding`). A transfer completing into such a branch starts
#: it in its follow-up (`started_at`: the completion time; default the workflow's start). Refused
#: (422) when the member's branch is not a temp branch directly under a county committee.
start_county_holding = _with_refusals(holdings.start_county_holding)


HoldingHandle = WorkflowHandle[HoldingWorkflow, HoldingView]


def holding_handle(client: Client, workflow_id: str) -> HoldingHandle:
    return client.get_workflow_handle_for(HoldingWorkflow.run, workflow_id)


async def holding_view(handle: HoldingHandle) -> HoldingView:
    return await handle.query(HoldingWorkflow.status_query)


async def release_holding(handle: WorkflowHandle[Any, Any], d: HoldingRelease) -> HoldingView:
    """End a holding: the member was moved out (409 when it has ended already)."""
    with update_refusals(closed=HOLDING_CLOSED):
        return await holdings.release_holding(handle, d)


async def release_member_holdings(
    client: Client, engine: AsyncEngine, member_id: int, d: HoldingRelease | None = None
) -> list[HoldingView]:
    """End every open holding of a member (mobile, county temp branch), as a completed transfer
    of the member does; holdings that ended meanwhile are skipped."""
    with update_refusals(closed=HOLDING_CLOSED):
        return await holdings.release_member_holdings(client, engine, member_id, d)
