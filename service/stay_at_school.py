"""The §6 flows that keep a member at school: authorise, validate, start or update their workflows.

- abroad-study retention (§I.5): `build_retention_input` → `submit_retention`, then
  `approve_retention` / `return_retention` / `withdraw_retention` on `retention_handle(...)`;
- unemployed kept at school (§I.4): `mark_mobile` (refused before 07-25 of the graduation year);
- county temp branch (§I.1): `start_county_holding` (a transfer completing into a county-level
  学社衔接临时团支部 does it in its follow-up);
- ending a holding: `release_holding` (one workflow) or `release_member_holdings` (every open
  holding of a member — a completed transfer of the member does it in its follow-up);
- delayed graduation (§I.7): `mark_delayed_graduation`, one transaction, no workflow (nothing
  waits or is decided).

Starting and ending holdings is one mechanism, `activities.holdings`, shared with the transfer
activities' follow-up; these functions add the refusals. Rows of retentions and holdings are
written only by their workflows' activities. Callers check who acts first and pass the `Actor`.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import col
from temporalio.client import Client, WorkflowHandle

from activities import holdings
from activities.holdings import HoldingRefused, HoldingStart
from activities.stay_at_school import find_or_create_branch, move_member
from core.clock import calendar
from core.temporal import start_and_wait_recorded
from domain import idcard
from domain.deadlines import mobile_marking_allowed
from domain.directory import Directory, OrgInfo
from domain.forms import validate_form
from domain.holdings import (
    MOBILE_TOO_EARLY_MESSAGE,
    HoldingKind,
    HoldingPolicy,
    holding_policy_for,
    school_placement,
)
from domain.orgs import OrgKind
from domain.policy import TransferPolicy, policy_for
from domain.transfers import ActorKind, TransferStatus, TransferType
from messages.stay_at_school import (
    HOLDING_ID_PREFIX,
    RETENTION_ID_PREFIX,
    BranchSpec,
    HoldingInput,
    HoldingRelease,
    HoldingView,
    RetentionApprove,
    RetentionForm,
    RetentionInput,
    RetentionReturn,
    RetentionView,
    RetentionWithdraw,
    retention_workflow_id,
)
from messages.transfers import Actor, OrgRef
from models import AuditLog, Member, Org, Transfer, row_id, utcnow
from models.db import session_factory, session_scope
from models.directory import load_with_ancestors, org_info
from service.errors import Problem, ServiceError, execute_update, refuse, update_refusals
from workflows.stay_at_school import AbroadRetentionWorkflow, HoldingWorkflow

OPEN_TRANSFER_STATUSES = tuple(s.value for s in TransferStatus if s.is_open)

P = ParamSpec("P")
R = TypeVar("R")


@dataclass
class RetentionStart:
    view: RetentionView
    created: bool  # False when the member's pending application was returned instead


@dataclass
class DelayedResult:
    member_id: int
    branch_code: str
    branch_name: str
    branch_created: bool  # the school's 延迟毕业团支部 was created by this call
    changed: bool  # False when the member was marked and in the branch already


# --- shared look-ups -----------------------------------------------------------------------------


async def _member_and_school(session: AsyncSession, member_id: int) -> tuple[Member, Directory, OrgInfo, OrgInfo]:
    """The member, the directory around their branch, their branch and their school."""
    member = await session.get(Member, member_id)
    if member is None:
        raise refuse(404, "member", "团员不存在")
    branch = await session.get_one(Org, member.branch_id)
    directory = await load_with_ancestors(session, [branch.code])
    info = directory[branch.code]
    school = directory.nearest(info, OrgKind.SCHOOL)
    if school is None and member.school_id is not None:
        own = await session.get(Org, member.school_id)
        if own is not None and own.kind == OrgKind.SCHOOL:
            directory = await load_with_ancestors(session, [branch.code, own.code])
            school = directory[own.code]
    if school is None:
        raise refuse(422, "member", f"{member.name}不在学校团组织中")
    return member, directory, info, school


async def _school_branch(session: AsyncSession, school: OrgInfo, kind: OrgKind) -> BranchSpec:
    """The school's existing branch of a special kind, or the spec of the one to create."""
    school_id = (await session.execute(select(col(Org.id)).where(col(Org.code) == school.code))).scalar_one()
    children = (
        (await session.execute(select(Org).where(col(Org.parent_id) == school_id, col(Org.kind) == kind.value)))
        .scalars()
        .all()
    )
    p = school_placement(kind, school, [org_info(c, school.code) for c in children])
    return BranchSpec(code=p.code, name=p.name, kind=kind.value, parent_code=school.code)


async def _check_no_open_transfer(session: AsyncSession, member: Member) -> None:
    """409 while the member has a transfer in progress."""
    open_transfer = (
        (
            await session.execute(
                select(Transfer).where(
                    col(Transfer.member_id) == member.id, col(Transfer.status).in_(OPEN_TRANSFER_STATUSES)
                )
            )
        )
        .scalars()
        .first()
    )
    if open_transfer is not None:
        raise refuse(409, "member", f"{member.name}有正在办理的组织关系转接，请先撤回")


def _check_school_actor(actor: Actor, school: OrgInfo, *, what: str) -> None:
    if actor.kind not in (ActorKind.ORG_ADMIN, ActorKind.SERVICE) or actor.org_code != school.code:
        raise refuse(403, "actor", f"只有{school.name}（或其上级团委）的管理员可以{what}")


RETENTION_CLOSED = "该申请已办结，不能重复处理"
HOLDING_CLOSED = "该团员的保留已结束，不能重复办理"


# =================================================================================================
# Abroad-study retention (§I.5)
# =================================================================================================


async def build_retention_input(
    engine: AsyncEngine,
    *,
    member_id: int,
    form: dict[str, Any],
    initiator: Actor,
    request_id: str | None = None,
    policy: TransferPolicy | None = None,
    time_scale: float = 1.0,
) -> RetentionInput:
    """Validate the written application and resolve the school; nothing is written."""
    parsed, problems = validate_form(TransferType.ABROAD_STUDY, form)
    if problems or parsed is None:
        raise ServiceError(422, [Problem(p.field, p.message) for p in problems])
    async with session_factory(engine)() as session:
        member, _directory, branch, school = await _member_and_school(session, member_id)
        if initiator.kind == ActorKind.MEMBER:
            if initiator.member_id != member.id:
                raise refuse(403, "actor", "团员只能为本人申请保留团组织关系")
        else:
            _check_school_actor(initiator, school, what="代团员提交保留团组织关系申请")
        if member.abroad_retention:
            raise refuse(409, "member", f"{member.name}的团组织关系已保留在学校并登记备案")
        await _check_no_open_transfer(session, member)
        target = await _school_branch(session, school, OrgKind.ABROAD_STUDY_BRANCH)
    return RetentionInput(
        member_id=member.id,
        member_name=member.name,
        member_id_masked=idcard.mask(member.id_number),
        school=OrgRef(code=school.code, name=school.name),
        from_branch=OrgRef(code=branch.code, name=branch.name),
        branch=target,
        form=RetentionForm.model_validate(parsed.model_dump()),
        policy=policy or policy_for(time_scale),
        initiator=initiator,
        request_id=request_id or uuid.uuid4().hex,
    )


async def submit_retention(
    client: Client, inp: RetentionInput, *, task_queue: str, id_prefix: str = RETENTION_ID_PREFIX
) -> RetentionStart:
    """Start the application (retention-<member>), or return the member's pending one."""
    view = await start_and_wait_recorded(
        client,
        AbroadRetentionWorkflow.run,
        inp,
        AbroadRetentionWorkflow.recorded,
        workflow_id=retention_workflow_id(inp.member_id, id_prefix),
        task_queue=task_queue,
        result_type=RetentionView,
    )
    return RetentionStart(view=view, created=view.request_id == inp.request_id)


RetentionHandle = WorkflowHandle[AbroadRetentionWorkflow, RetentionView]


def retention_handle(client: Client, workflow_id: str) -> RetentionHandle:
    return client.get_workflow_handle_for(AbroadRetentionWorkflow.run, workflow_id)


async def approve_retention(handle: RetentionHandle, d: RetentionApprove) -> RetentionView:
    return await execute_update(
        handle, AbroadRetentionWorkflow.approve, d, result_type=RetentionView, closed=RETENTION_CLOSED
    )


async def return_retention(handle: RetentionHandle, d: RetentionReturn) -> RetentionView:
    return await execute_update(
        handle, AbroadRetentionWorkflow.return_request, d, result_type=RetentionView, closed=RETENTION_CLOSED
    )


async def withdraw_retention(handle: RetentionHandle, d: RetentionWithdraw) -> RetentionView:
    return await execute_update(
        handle, AbroadRetentionWorkflow.withdraw, d, result_type=RetentionView, closed=RETENTION_CLOSED
    )


async def retention_view(handle: RetentionHandle) -> RetentionView:
    return await handle.query(AbroadRetentionWorkflow.status_query)


# =================================================================================================
# Holdings (§I.4 mobile, §I.1 county temp branch)
# =================================================================================================


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
    and puts them into its 毕业学生流动团员团支部 (created when missing) for at most 6 months.

    `now` is the instant the 07-25 rule is checked against (default: the calendar clock's)."""
    now = now or calendar().now()
    async with session_factory(engine)() as session:
        member, _directory, branch, school = await _member_and_school(session, member_id)
        _check_school_actor(actor, school, what="标记毕业学生流动团员")
        if member.graduation_year is None:
            raise refuse(422, "member", f"{member.name}没有毕业年份，不能标记为流动团员")
        if not mobile_marking_allowed(now, member.graduation_year):
            raise refuse(422, "now", MOBILE_TOO_EARLY_MESSAGE)
        if member.delayed_graduation:
            raise refuse(422, "member", f"{member.name}已标记为延迟毕业，不能编入毕业学生流动团员团支部")
        if member.abroad_retention:
            raise refuse(409, "member", f"{member.name}已保留团组织关系并编入出国（境）学习研究团员团支部")
        await _check_no_open_transfer(session, member)
        target = await _school_branch(session, school, OrgKind.MOBILE_BRANCH)
    inp = HoldingInput(
        kind=HoldingKind.MOBILE,
        member_id=member.id,
        member_name=member.name,
        member_id_masked=idcard.mask(member.id_number),
        from_branch=OrgRef(code=branch.code, name=branch.name),
        branch=target,
        notify_org=OrgRef(code=school.code, name=school.name),
        move_in=True,
        policy=policy or holding_policy_for(time_scale),
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


# =================================================================================================
# Delayed graduation (§I.7)
# =================================================================================================


async def mark_delayed_graduation(
    engine: AsyncEngine,
    *,
    member_id: int,
    actor: Actor,
    graduation_year: int | None = None,
    now: datetime | None = None,
) -> DelayedResult:
    """§I.7: mark the member as delayed and move them into the school's 延迟毕业团支部, created
    when first needed (``<school>-DLY``). One transaction with a membership-history row and an
    audit row. Marking a member who is marked and in the branch already changes nothing."""
    now = now or utcnow()
    for attempt in (1, 2):
        try:
            return await _mark_delayed(engine, member_id, actor, graduation_year, now)
        except IntegrityError:
            # another marking created the school's branch at the same moment: find it this time
            if attempt == 2:
                raise
    raise AssertionError("unreachable")


async def _mark_delayed(
    engine: AsyncEngine, member_id: int, actor: Actor, graduation_year: int | None, now: datetime
) -> DelayedResult:
    async with session_scope(engine) as session:
        member, _directory, _branch, school = await _member_and_school(session, member_id)
        _check_school_actor(actor, school, what="标记延迟毕业学生")
        member = await session.get_one(Member, member_id, with_for_update=True)
        if graduation_year is not None and graduation_year < (member.graduation_year or graduation_year):
            raise refuse(422, "graduation_year", "延迟后的毕业年份不能早于原毕业年份")
        spec = await _school_branch(session, school, OrgKind.DELAYED_BRANCH)
        if (
            member.delayed_graduation
            and (await session.get_one(Org, member.branch_id)).code == spec.code
            and (graduation_year is None or member.graduation_year == graduation_year)
        ):
            return DelayedResult(member_id, spec.code, spec.name, branch_created=False, changed=False)
        if member.mobile:
            raise refuse(409, "member", f"{member.name}已编入毕业学生流动团员团支部，不能标记为延迟毕业")
        if member.abroad_retention:
            raise refuse(409, "member", f"{member.name}已保留团组织关系并编入出国（境）学习研究团员团支部")
        await _check_no_open_transfer(session, member)
        branch, created = await find_or_create_branch(session, spec, at=now)
        from_branch_id = member.branch_id
        await move_member(session, member, row_id(branch.id), "delayed_graduation", now)
        before_year = member.graduation_year
        member.delayed_graduation = True
        member.graduating = False
        if graduation_year is not None:
            member.graduation_year = graduation_year
        member.updated_at = now
        session.add(
            AuditLog(
                key=f"member/{member.id}/delayed_graduation/{uuid.uuid4().hex}",
                at=now,
                actor=actor.username,
                action="member.delayed_graduation",
                entity="member",
                entity_id=str(member.id),
                detail={
                    "school": school.code,
                    "branch": branch.code,
                    "branch_created": created,
                    "from_branch_id": from_branch_id,
                    "graduation_year": [before_year, member.graduation_year],
                },
            )
        )
        return DelayedResult(member_id, branch.code, branch.name, branch_created=created, changed=True)
