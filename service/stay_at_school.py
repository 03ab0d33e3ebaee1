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
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, ParamSpec, TypeVar

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import col
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError

from activities import holdings
from activities.holdings import HoldingRefused, HoldingStart
from activities.stay_at_school import find_or_create_branch, move_member
from core.clock import calendar
from core.settings import Settings
from core.temporal import start_and_wait_recorded
from domain import idcard
from domain.deadlines import mobile_marking_allowed
from domain.directory import Directory, OrgInfo
from domain.eligibility import xueshe_problem
from domain.forms import validate_form
from domain.holdings import (
    MOBILE_TOO_EARLY_MESSAGE,
    HoldingKind,
    HoldingPolicy,
    RetentionStatus,
    holding_policy_for,
    school_placement,
)
from domain.orgs import OrgKind
from domain.policy import TransferPolicy, policy_for
from domain.roles import Role
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
from messages.transfers import WORKFLOW_ID_PREFIX, Actor, OrgRef
from models import AuditLog, Member, MembershipHistory, Notification, Org, Transfer, User, row_id, utcnow
from models.db import session_factory, session_scope
from models.directory import DIRECTORIES, load_with_ancestors, org_info
from models.tables import AbroadRetention
from service.errors import UNAVAILABLE_MESSAGE, Problem, ServiceError, execute_update, refuse, update_refusals
from service.permissions import (
    admin_actor,
    admin_refusal,
    covers,
    directory_for,
    is_org_admin,
    may_see_whole_id,
    subtree_ids,
)
from service.registers import org_scope
from starter.pool import gather_limited
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


async def _retention_pending(session: AsyncSession, member_id: int) -> bool:
    found = await session.execute(
        select(col(AbroadRetention.id)).where(
            col(AbroadRetention.member_id) == member_id, col(AbroadRetention.status) == RetentionStatus.PENDING.value
        )
    )
    return found.first() is not None


async def _check_no_pending_retention(session: AsyncSession, member: Member) -> None:
    """409 while the member's abroad-study retention application waits for the school (one flow
    at a time)."""
    if await _retention_pending(session, row_id(member.id)):
        raise refuse(409, "member", f"{member.name}有待审批的出国（境）学习研究保留团组织关系申请，请先撤回或等待审批")


def _check_school_actor(actor: Actor, school: OrgInfo, *, what: str) -> None:
    if actor.kind not in (ActorKind.ORG_ADMIN, ActorKind.SERVICE) or actor.org_code != school.code:
        raise refuse(403, "actor", f"只有{school.name}（或其上级团委）的管理员可以{what}")


def _check_school_side_actor(actor: Actor, directory: Directory, branch: OrgInfo, school: OrgInfo) -> None:
    """An application made for the member by the school side (§I.5: 学校团组织): the school
    committee (or an admin above it, acting for the school), a college committee or the member's
    branch — an org on the way from the member's branch up to the school."""
    org = directory.get(actor.org_code) if actor.org_code else None
    on_the_way = org is not None and (
        org.code == school.code or (covers(directory, org.code, branch) and directory.is_ancestor(school.code, org))
    )
    if actor.kind not in (ActorKind.ORG_ADMIN, ActorKind.SERVICE) or not on_the_way:
        raise refuse(403, "actor", f"只有团员本人或{school.name}及其院系、团支部的管理员可以提交保留团组织关系申请")


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
        member, directory, branch, school = await _member_and_school(session, member_id)
        if initiator.kind == ActorKind.MEMBER:
            if initiator.member_id != member.id:
                raise refuse(403, "actor", "团员只能为本人申请保留团组织关系")
        else:
            _check_school_side_actor(initiator, directory, branch, school)
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
    and puts them into its 毕业学生流动团员团支部 (created when missing) until 6 months after
    graduation (06-30 of the graduation year, a `HoldingPolicy` value) **[decision]**; a member
    whose 6 months are over is refused (422): they are to be moved out.

    `now` is the calendar instant the rules are checked against and the time left is measured
    from (default: the calendar clock's); the workflow gets that end day and the time left,
    which it waits divided by the policy's time scale."""
    now = now or calendar().now()
    policy = policy or holding_policy_for(time_scale)
    async with session_factory(engine)() as session:
        member, _directory, branch, school = await _member_and_school(session, member_id)
        _check_school_actor(actor, school, what="标记毕业学生流动团员")
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
        await _check_no_pending_retention(session, member)
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


# =================================================================================================
# For a caller (the API and the UI): who may act, by 身份证号 or by row id, many members at once
# =================================================================================================

#: Members one call marks or releases (the API's limit; the roster page selects within it).
MAX_BULK_MEMBERS = 1000

#: §I.1, §I.4: a 流动 or county temp branch holding ends when the member is moved out.
HOLDING_ENDS_BY_TRANSFER = (
    "毕业学生流动团员和县级学社衔接临时团支部团员的保留，以办理组织关系转出结束（转接办结时自动结束，"
    "《通知》一、1、一、4），不能直接解除：请为其办理转出"
)

#: What `release_members` ends: a retention (back from abroad) or a delayed graduation.
RELEASE_KINDS = ("abroad_study", "delayed")
HOLDING_RELEASE_KINDS = ("mobile", "county_temp")


@dataclass(frozen=True)
class Flows:
    """What running the §6 flows for a caller needs: the database, Temporal (None where no
    workflow is started or updated), the task queue, the workflow id prefixes and the time scale."""

    engine: AsyncEngine
    client: Client | None
    task_queue: str
    retention_prefix: str = RETENTION_ID_PREFIX
    holding_prefix: str = HOLDING_ID_PREFIX
    time_scale: float = 1.0

    @classmethod
    def of(cls, engine: AsyncEngine, client: Client | None, settings: Settings) -> Flows:
        """The flows of these settings. Their workflow ids follow ZHTJ_WORKFLOW_ID_PREFIX
        (``transfer-x-`` gives ``retention-x-`` and ``holding-x-``), so databases sharing a
        namespace stay apart as their transfers do."""
        tail = settings.workflow_id_prefix.removeprefix(WORKFLOW_ID_PREFIX)
        return cls(
            engine,
            client,
            settings.task_queue,
            retention_prefix=f"{RETENTION_ID_PREFIX}{tail}",
            holding_prefix=f"{HOLDING_ID_PREFIX}{tail}",
            time_scale=settings.time_scale,
        )

    def temporal(self) -> Client:
        if self.client is None:
            raise ValueError("this §6 flow needs the Temporal client")
        return self.client


def _school_of(directory: Directory, branch: OrgInfo, member: Member) -> OrgInfo | None:
    """The member's school: above their branch, else the school the member row names."""
    school = directory.nearest(branch, OrgKind.SCHOOL)
    if school is None and member.school_id is not None:
        own = directory.by_id(member.school_id)
        if own is not None and own.kind == OrgKind.SCHOOL:
            school = own
    return school


def _unavailable(e: RPCError) -> ServiceError:
    return refuse(503, "temporal", f"{UNAVAILABLE_MESSAGE}（{e.message}）")


# --- applying for a retention ---------------------------------------------------------------------


def _retention_initiator(
    directory: Directory, user: User, member: Member | None, branch: OrgInfo | None, school: OrgInfo | None
) -> Actor:
    """Who applies: the member for themself, or an admin of the school side (the school
    committee or one above it — acting for the school —, a college committee, the branch's). A
    caller who may not act for the member gets the same answer whether or not the 身份证号 names
    one."""
    if user.role == Role.MEMBER:
        if member is None or user.member_id != member.id:
            raise refuse(403, "user", "团员只能为本人申请保留团组织关系")
        return Actor(kind=ActorKind.MEMBER, username=user.username, member_id=member.id, display_name=user.display_name)
    own = directory.by_id(user.org_id)
    if not is_org_admin(user) or own is None:
        raise refuse(403, "user", "只有团员本人或学校团组织的管理员可以申请保留团组织关系")
    if branch is None or not covers(directory, own.code, branch):
        raise refuse(403, "id_number", f"{own.name}及其下级组织中没有该身份证号的团员，不能代为申请保留团组织关系")
    acting_for = school.code if school is not None and covers(directory, own.code, school) else own.code
    return Actor(kind=ActorKind.ORG_ADMIN, username=user.username, org_code=acting_for, display_name=user.display_name)


async def apply_retention(
    flows: Flows,
    user: User,
    *,
    id_number: str,
    name: str,
    form: dict[str, Any],
    today: date | None = None,
) -> int:
    """§I.5: the written application of a member (by themself or by the school side) to keep
    their relationship at school while abroad; the id of the application recorded. In this order:
    the request (身份证号, the form: 422), who applies (403), the member (name, 学社衔接 at school:
    422), then one flow at a time (409: an open application, a retention in force, a transfer in
    progress, a 流动 or 延迟毕业 member). Nothing is written when refused."""
    today = today or calendar().today()
    problems: list[Problem] = []
    if bad := idcard.problems(id_number or "", today=today):
        problems.append(Problem("id_number", bad[0].message))
    _parsed, form_problems = validate_form(TransferType.ABROAD_STUDY, form)
    problems += [
        Problem(p.field if p.field.startswith("form") else f"form.{p.field}", p.message) for p in form_problems
    ]
    if problems:
        raise ServiceError(422, problems)
    nid = idcard.normalize(id_number)
    engine = flows.engine
    async with session_factory(engine)() as session:
        member = (await session.execute(select(Member).where(col(Member.id_number) == nid))).scalar_one_or_none()
    ids = [i for i in (user.org_id, member.branch_id if member else None, member.school_id if member else None) if i]
    directory = await DIRECTORIES.get(engine, ids=ids)
    branch = directory.by_id(member.branch_id) if member is not None else None
    school = _school_of(directory, branch, member) if member is not None and branch is not None else None
    initiator = _retention_initiator(directory, user, member, branch, school)
    if member is None or branch is None or member.name != (name or "").strip():
        raise refuse(422, "id_number", "姓名与身份证号不对应任何团员，请核对后查询")
    if school is None:
        raise refuse(
            422, "id_number", f"{member.name}不在学校团组织中：出国（境）学习研究保留团组织关系由原就读学校办理"
        )
    if p := xueshe_problem(directory, branch, member.graduation_year, today=today):
        raise refuse(422, "id_number", p)
    async with session_factory(engine)() as session:
        if await _retention_pending(session, row_id(member.id)):
            raise refuse(409, "id_number", f"{member.name}已有待审批的保留团组织关系申请，请等待学校团委审批或先撤回")
    if member.mobile:
        raise refuse(
            409, "id_number", f"{member.name}已编入毕业学生流动团员团支部，须先办理转出，不能同时申请保留团组织关系"
        )
    if member.delayed_graduation:
        raise refuse(
            409, "id_number", f"{member.name}已标记为延迟毕业，尚未毕业，不能申请出国（境）学习研究保留团组织关系"
        )
    try:
        inp = await build_retention_input(
            engine, member_id=row_id(member.id), form=form, initiator=initiator, time_scale=flows.time_scale
        )
    except ServiceError as e:  # a retention in force or a transfer in progress: 409 on the 身份证号
        raise ServiceError(
            e.status, [Problem("id_number" if p.field == "member" else p.field, p.message) for p in e.problems]
        ) from e
    try:
        started = await submit_retention(
            flows.temporal(), inp, task_queue=flows.task_queue, id_prefix=flows.retention_prefix
        )
    except RPCError as e:
        raise _unavailable(e) from e
    if not started.created:  # another application got in first
        raise refuse(409, "id_number", f"{member.name}已有待审批的保留团组织关系申请，请等待学校团委审批或先撤回")
    async with session_factory(engine)() as session:
        rid = (
            await session.execute(
                select(col(AbroadRetention.id)).where(col(AbroadRetention.request_id) == inp.request_id)
            )
        ).scalar_one()
    return row_id(rid)


# --- reading applications -------------------------------------------------------------------------


def _visible_retention(user: User) -> ColumnElement[bool]:
    """What this user may read of the applications: a member their own; an admin or a service
    account those of their org and below (the school, the branch applied from or the abroad-study
    branch), and those they made."""
    if user.role == Role.MEMBER:
        return col(AbroadRetention.member_id) == (user.member_id or -1)
    made = col(AbroadRetention.initiated_by) == user.username
    if user.org_id is None:
        return made
    return or_(_retention_in(subtree_ids(user.org_id)), made)


def _retention_in(ids: Select[Any]) -> ColumnElement[bool]:
    return or_(
        col(AbroadRetention.school_id).in_(ids),
        col(AbroadRetention.from_branch_id).in_(ids),
        col(AbroadRetention.branch_id).in_(ids),
    )


def _in_force(r: AbroadRetention, m: Member, latest_approved: int | None) -> bool:
    """The retention holds the member now: approved, the member still marked and in its branch,
    and no later approved application (a release clears the mark and moves them back)."""
    return (
        r.status == RetentionStatus.APPROVED.value
        and m.abroad_retention
        and r.branch_id is not None
        and m.branch_id == r.branch_id
        and latest_approved == r.id
    )


def _latest_approved() -> Any:
    return (
        select(col(AbroadRetention.member_id), func.max(col(AbroadRetention.id)).label("latest"))
        .where(col(AbroadRetention.status) == RetentionStatus.APPROVED.value)
        .group_by(col(AbroadRetention.member_id))
        .subquery()
    )


def _summary(
    r: AbroadRetention, m: Member, codes: dict[int, tuple[str, str]], latest: int | None, now: datetime
) -> dict[str, Any]:
    def code(org_id: int | None) -> str | None:
        return codes[org_id][0] if org_id is not None and org_id in codes else None

    def name(org_id: int | None) -> str | None:
        return codes[org_id][1] if org_id is not None and org_id in codes else None

    pending = r.status == RetentionStatus.PENDING.value
    return {
        "id": r.id,
        "workflow_id": r.workflow_id,
        "status": r.status,
        "member": {"id": m.id, "name": m.name, "id_number": idcard.mask(m.id_number)},
        "school_code": code(r.school_id),
        "school_name": name(r.school_id),
        "from_branch_code": code(r.from_branch_id),
        "from_branch_name": name(r.from_branch_id),
        "branch_code": code(r.branch_id),
        "branch_name": name(r.branch_id),
        "abroad_place": r.abroad_place,
        "abroad_from": r.abroad_from,
        "abroad_to": r.abroad_to,
        "submitted_at": r.submitted_at,
        "remind_at": r.remind_at,
        "deadline": r.deadline,
        "overdue": pending and r.remind_at is not None and r.remind_at <= now,
        "decided_at": r.decided_at,
        "in_force": _in_force(r, m, latest),
    }


async def _org_codes(session: AsyncSession, ids: set[int | None]) -> dict[int, tuple[str, str]]:
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = await session.execute(select(col(Org.id), col(Org.code), col(Org.name)).where(col(Org.id).in_(wanted)))
    return {row_id(i): (c, n) for i, c, n in rows.all()}


async def list_retentions(
    engine: AsyncEngine,
    user: User,
    *,
    org: str | None = None,
    status: str | None = None,
    page: int = 1,
    page_size: int = 20,
    now: datetime | None = None,
) -> tuple[list[dict[str, Any]], int]:
    """The applications this user may read (newest first), of `org` and below when given (an
    org the user acts for: 403 otherwise), in `status` when given; a page and the total."""
    now = now or utcnow()
    if org:
        if user.role == Role.MEMBER:
            raise refuse(403, "org", "团员只能查看本人的申请")
        # an org the user acts for: all it holds is visible to them
        where = [_retention_in(subtree_ids((await org_scope(engine, user, org))[0]))]
    else:
        where = [_visible_retention(user)]
    if status:
        where.append(col(AbroadRetention.status) == status)
    latest = _latest_approved()
    async with session_factory(engine)() as session:
        total = (await session.execute(select(func.count(col(AbroadRetention.id))).where(*where))).scalar_one()
        rows = (
            await session.execute(
                select(AbroadRetention, Member, latest.c.latest)
                .join(Member, col(Member.id) == AbroadRetention.member_id)
                .outerjoin(latest, latest.c.member_id == AbroadRetention.member_id)
                .where(*where)
                .order_by(col(AbroadRetention.submitted_at).desc(), col(AbroadRetention.id).desc())
                .offset((page - 1) * page_size)
                .limit(page_size)
            )
        ).all()
        codes = await _org_codes(session, {i for r, _, _ in rows for i in (r.school_id, r.from_branch_id, r.branch_id)})
    return [_summary(r, m, codes, latest_id, now) for r, m, latest_id in rows], total


async def member_retentions(engine: AsyncEngine, member_id: int) -> list[dict[str, Any]]:
    """A member's own applications, newest first (个人中心)."""
    latest = _latest_approved()
    now = utcnow()
    async with session_factory(engine)() as session:
        rows = (
            await session.execute(
                select(AbroadRetention, Member, latest.c.latest)
                .join(Member, col(Member.id) == AbroadRetention.member_id)
                .outerjoin(latest, latest.c.member_id == AbroadRetention.member_id)
                .where(col(AbroadRetention.member_id) == member_id)
                .order_by(col(AbroadRetention.id).desc())
                .limit(20)
            )
        ).all()
        codes = await _org_codes(session, {i for r, _, _ in rows for i in (r.school_id, r.from_branch_id, r.branch_id)})
    return [_summary(r, m, codes, latest_id, now) for r, m, latest_id in rows]


@dataclass(frozen=True)
class RetentionAbilities:
    """What this viewer may send now (the workflow checks again when it is sent)."""

    decide: bool = False  # approve or return: the school committee or an admin above it
    withdraw: bool = False  # the member, or the school
    release: bool = False  # end a retention in force (back from abroad): the school


async def retention_detail(
    engine: AsyncEngine, user: User, retention_id: int, *, now: datetime | None = None
) -> dict[str, Any] | None:
    """One application as this user may read it (None: not theirs to see), with its history and
    `can` (`RetentionAbilities`); the whole 身份证号 for the member and the admins of their orgs."""
    now = now or utcnow()
    latest = _latest_approved()
    async with session_factory(engine)() as session:
        found = (
            await session.execute(
                select(AbroadRetention, Member, latest.c.latest)
                .join(Member, col(Member.id) == AbroadRetention.member_id)
                .outerjoin(latest, latest.c.member_id == AbroadRetention.member_id)
                .where(col(AbroadRetention.id) == retention_id, _visible_retention(user))
            )
        ).first()
        if found is None:
            return None
        r, m, latest_id = found
        codes = await _org_codes(session, {r.school_id, r.from_branch_id, r.branch_id})
        whole = await may_see_whole_id(session, user, row_id(m.id), m.branch_id)
        history = (
            await session.execute(
                select(AuditLog)
                .where(col(AuditLog.entity) == "abroad_retention", col(AuditLog.entity_id) == str(r.id))
                .order_by(col(AuditLog.at), col(AuditLog.id))
            )
        ).scalars()
        history_rows = [{"at": h.at, "action": h.action, "actor": h.actor, "detail": h.detail or {}} for h in history]
    d = _summary(r, m, codes, latest_id, now)
    d["member"]["id_number"] = m.id_number if whole else idcard.mask(m.id_number)
    released = [h for h in history_rows if h["action"] == "retention.released"]
    d.update(
        form={
            "abroad_place": r.abroad_place,
            "abroad_from": r.abroad_from,
            "abroad_to": r.abroad_to,
            "contact_name": r.contact_name,
            "contact_phone": r.contact_phone,
        },
        reminded_at=r.reminded_at,
        decided_by=r.decided_by,
        auto_approved=r.auto_approved,
        comment=r.comment,
        reason_code=r.reason_code,
        initiated_by=r.initiated_by,
        registered_at=r.registered_at,
        released_at=released[-1]["at"] if released else None,
        history=history_rows,
    )
    school = d["school_code"]
    directory = await directory_for(engine, user, [school])
    school_admin = school is not None and admin_refusal(directory, user, school) is None
    pending = r.status == RetentionStatus.PENDING.value
    own = user.role == Role.MEMBER and user.member_id == m.id
    d["can"] = RetentionAbilities(
        decide=pending and school_admin,
        withdraw=pending and (own or school_admin),
        release=d["in_force"] and school_admin,
    )
    return d


# --- deciding on an application -------------------------------------------------------------------


async def _decision_target(engine: AsyncEngine, user: User, retention_id: int) -> tuple[AbroadRetention, str]:
    """The application (404 when it is not this user's to see) and its school's code."""
    async with session_factory(engine)() as session:
        found = (
            await session.execute(
                select(AbroadRetention, col(Org.code))
                .join(Org, col(Org.id) == AbroadRetention.school_id)
                .where(col(AbroadRetention.id) == retention_id, _visible_retention(user))
            )
        ).first()
    if found is None:
        raise refuse(404, "id", f"保留团组织关系申请 {retention_id} 不存在")
    return found[0], found[1]


def _handle_of(client: Client, r: AbroadRetention) -> RetentionHandle:
    """This application's run (a later application of the member is another run of the same id)."""
    return client.get_workflow_handle_for(AbroadRetentionWorkflow.run, r.workflow_id, run_id=r.run_id)


async def approve_retention_by_id(flows: Flows, user: User, retention_id: int, comment: str | None = None) -> None:
    """The school committee (or an admin above it) approves: the member is moved into the
    school's 出国（境）学习研究团员团支部 and entered in the register."""
    r, school = await _decision_target(flows.engine, user, retention_id)
    actor = await admin_actor(flows.engine, user, school)
    await approve_retention(_handle_of(flows.temporal(), r), RetentionApprove(actor=actor, comment=comment))


async def return_retention_by_id(
    flows: Flows, user: User, retention_id: int, reason_code: str, reason_text: str = ""
) -> None:
    """The school committee returns the application with a reason (not on a ground §III.4 forbids:
    the workflow's validator refuses it, 422)."""
    r, school = await _decision_target(flows.engine, user, retention_id)
    actor = await admin_actor(flows.engine, user, school)
    d = RetentionReturn(actor=actor, reason_code=reason_code, reason_text=reason_text)
    await return_retention(_handle_of(flows.temporal(), r), d)


async def withdraw_retention_by_id(flows: Flows, user: User, retention_id: int, reason: str) -> None:
    """The member (their own) or the school (or an admin above it) withdraws a pending application."""
    r, school = await _decision_target(flows.engine, user, retention_id)
    if user.role == Role.MEMBER:
        if user.member_id != r.member_id:
            raise refuse(403, "user", "团员只能撤回本人的申请")
        actor = Actor(
            kind=ActorKind.MEMBER, username=user.username, member_id=user.member_id, display_name=user.display_name
        )
    else:
        actor = await admin_actor(flows.engine, user, school)
    await withdraw_retention(_handle_of(flows.temporal(), r), RetentionWithdraw(actor=actor, reason=reason))


# --- many members at once: 流动, 延迟毕业, release ----------------------------------------------


@dataclass
class MemberOutcome:
    """One member's outcome of a bulk call, in the shape of the bulk start's rows."""

    index: int
    ok: bool
    status_code: int  # 201 a holding started, 200 done (or nothing to change), else the refusal
    errors: list[Problem] = field(default_factory=list)
    member_id: int | None = None
    name: str | None = None
    id_number: str | None = None  # masked
    branch_code: str | None = None  # the member's branch after the call
    workflow_id: str | None = None  # a 流动 holding's
    changed: bool = False

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "ok": self.ok,
            "status_code": self.status_code,
            "errors": [{"field": p.field, "message": p.message} for p in self.errors],
            "member_id": self.member_id,
            "name": self.name,
            "id_number": self.id_number,
            "branch_code": self.branch_code,
            "workflow_id": self.workflow_id,
            "changed": self.changed,
        }


@dataclass
class _Row:
    """A member of a bulk call, resolved: who, their school, the actor acting for it; or why not."""

    outcome: MemberOutcome
    member: Member | None = None
    school: OrgInfo | None = None
    actor: Actor | None = None

    def refused(self, e: ServiceError) -> MemberOutcome:
        o = self.outcome
        o.ok, o.status_code, o.errors = False, e.status, list(e.problems)
        return o


async def _school_rows(
    engine: AsyncEngine,
    user: User,
    *,
    id_numbers: Sequence[str] | None = None,
    member_ids: Sequence[int] | None = None,
    what: str,
) -> list[_Row]:
    """The members of a bulk call (by 身份证号, or by id from the roster page), each checked: a
    valid 身份证号 (422), a member of the caller's org or below (403, the same answer whether or
    not the 身份证号 names one), at a school (422) the caller acts for (403)."""
    if not is_org_admin(user):
        raise refuse(403, "user", f"只有学校团委（或其上级团委）的管理员可以{what}")
    keys: Sequence[str | int] = list(id_numbers) if id_numbers is not None else list(member_ids or [])
    field_name = "id_numbers" if id_numbers is not None else "member_ids"
    if not 1 <= len(keys) <= MAX_BULK_MEMBERS:
        raise refuse(422, field_name, f"一次应选择 1 到 {MAX_BULK_MEMBERS} 名团员，实际为 {len(keys)} 名")
    today = calendar().today()
    rows = [_Row(MemberOutcome(index=i, ok=True, status_code=200)) for i in range(len(keys))]
    wanted: dict[int, str | int] = {}
    seen: set[str | int] = set()
    for row, key in zip(rows, keys, strict=True):
        if isinstance(key, str):
            if bad := idcard.problems(key, today=today):
                row.refused(refuse(422, "id_number", bad[0].message))
                continue
            key = idcard.normalize(key)
        if key in seen:
            row.refused(refuse(422, "id_number", "同一团员在本次提交中重复出现"))
            continue
        seen.add(key)
        wanted[row.outcome.index] = key
    async with session_factory(engine)() as session:
        column = col(Member.id_number) if id_numbers is not None else col(Member.id)
        found = (await session.execute(select(Member).where(column.in_(list(wanted.values()))))).scalars().all()
    by_key: dict[str | int, Member] = {(m.id_number if id_numbers is not None else row_id(m.id)): m for m in found}
    ids = {user.org_id, *(m.branch_id for m in found), *(m.school_id for m in found)}
    directory = await DIRECTORIES.get(engine, ids=[i for i in ids if i is not None])
    own = directory.by_id(user.org_id)
    if own is None:
        raise refuse(403, "user", "该账号未绑定组织")
    for index, key in wanted.items():
        row = rows[index]
        member = by_key.get(key)
        branch = directory.by_id(member.branch_id) if member is not None else None
        if member is None or branch is None or not covers(directory, own.code, branch):
            row.refused(refuse(403, "id_number", f"{own.name}及其下级组织中没有该身份证号的团员"))
            continue
        o = row.outcome
        o.member_id, o.name, o.id_number, o.branch_code = (
            member.id,
            member.name,
            idcard.mask(member.id_number),
            branch.code,
        )
        school = _school_of(directory, branch, member)
        if school is None:
            row.refused(refuse(422, "id_number", f"{member.name}不在学校团组织中"))
            continue
        if not covers(directory, own.code, school):
            row.refused(refuse(403, "id_number", f"只有{school.name}（或其上级团委）的管理员可以{what}"))
            continue
        row.member, row.school = member, school
        row.actor = Actor(
            kind=ActorKind.ORG_ADMIN, username=user.username, org_code=school.code, display_name=user.display_name
        )
    return rows


async def _each(
    rows: list[_Row], act: Callable[[_Row], Awaitable[MemberOutcome]], *, concurrency: int = 1
) -> list[MemberOutcome]:
    """`act` on every member that passed the checks (a refusal is that member's outcome alone)."""

    async def one(row: _Row) -> MemberOutcome:
        if row.member is None:
            return row.outcome
        try:
            return await act(row)
        except ServiceError as e:
            return row.refused(e)
        except RPCError as e:
            return row.refused(_unavailable(e))

    return await gather_limited(concurrency, (one(r) for r in rows))


async def mark_mobile_members(
    flows: Flows,
    user: User,
    *,
    id_numbers: Sequence[str] | None = None,
    member_ids: Sequence[int] | None = None,
    now: datetime | None = None,
) -> list[MemberOutcome]:
    """§I.4: mark unemployed graduates kept at school and put them into the school's
    毕业学生流动团员团支部 (each a holding workflow); one outcome per member, in order."""
    rows = await _school_rows(
        flows.engine, user, id_numbers=id_numbers, member_ids=member_ids, what="标记毕业学生流动团员"
    )

    async def act(row: _Row) -> MemberOutcome:
        assert row.member is not None and row.actor is not None
        async with session_factory(flows.engine)() as session:
            await _check_no_pending_retention(session, row.member)
        started = await mark_mobile(
            flows.temporal(),
            flows.engine,
            member_id=row_id(row.member.id),
            actor=row.actor,
            task_queue=flows.task_queue,
            now=now,
            time_scale=flows.time_scale,
            id_prefix=flows.holding_prefix,
        )
        o = row.outcome
        o.status_code, o.changed = (201 if started.created else 200), started.created
        o.workflow_id, o.branch_code = started.view.workflow_id, started.view.branch.code
        return o

    return await _each(rows, act, concurrency=8)


async def mark_delayed_members(
    flows: Flows,
    user: User,
    graduation_year: int,
    *,
    id_numbers: Sequence[str] | None = None,
    member_ids: Sequence[int] | None = None,
) -> list[MemberOutcome]:
    """§I.7: mark students whose graduation is delayed and move them into the school's
    延迟毕业团支部 (created when first needed), with their expected graduation year."""
    rows = await _school_rows(flows.engine, user, id_numbers=id_numbers, member_ids=member_ids, what="标记延迟毕业学生")

    async def act(row: _Row) -> MemberOutcome:
        assert row.member is not None and row.actor is not None
        done = await mark_delayed_graduation(
            flows.engine, member_id=row_id(row.member.id), actor=row.actor, graduation_year=graduation_year
        )
        o = row.outcome
        o.branch_code, o.changed = done.branch_code, done.changed
        return o

    return await _each(rows, act)


async def release_members(
    flows: Flows,
    user: User,
    kind: str,
    *,
    id_numbers: Sequence[str] | None = None,
    member_ids: Sequence[int] | None = None,
    branch_code: str | None = None,
    graduation_year: int | None = None,
) -> list[MemberOutcome]:
    """End a retention (`abroad_study`: back from abroad) or a delayed graduation (`delayed`: back
    among the graduating) and clear the member's flags; a 流动 or county temp holding is refused
    (422 `kind`): it ends when the member is moved out."""
    if kind in HOLDING_RELEASE_KINDS:
        raise refuse(422, "kind", HOLDING_ENDS_BY_TRANSFER)
    if kind not in RELEASE_KINDS:
        raise refuse(422, "kind", "kind 应为 abroad_study（出国（境）学习研究回国）或 delayed（延迟毕业）")
    what = "解除出国（境）学习研究保留团组织关系" if kind == "abroad_study" else "解除延迟毕业标记"
    rows = await _school_rows(flows.engine, user, id_numbers=id_numbers, member_ids=member_ids, what=what)

    async def act(row: _Row) -> MemberOutcome:
        assert row.member is not None and row.actor is not None
        member_id = row_id(row.member.id)
        if kind == "abroad_study":
            done = await release_retention(flows.engine, member_id=member_id, actor=row.actor, branch_code=branch_code)
        else:
            done = await release_delayed(
                flows.engine,
                member_id=member_id,
                actor=row.actor,
                branch_code=branch_code,
                graduation_year=graduation_year,
            )
        o = row.outcome
        o.branch_code, o.changed = done.branch_code, True
        return o

    return await _each(rows, act)


# --- ending a retention or a delayed graduation (no workflow waits: one transaction) -------------


@dataclass
class ReleaseResult:
    member_id: int
    branch_code: str  # where the member is now
    branch_name: str


async def _back_branch(
    session: AsyncSession, school: OrgInfo, *, branch_code: str | None, default_id: int | None, what: str
) -> Org:
    """The ordinary branch of the school a released member goes back to: the one named, else the
    one they came from (`default_id`). 422 `branch_code` when there is none or it does not fit."""
    if branch_code:
        org = (await session.execute(select(Org).where(col(Org.code) == branch_code))).scalar_one_or_none()
        if org is None:
            raise refuse(422, "branch_code", f"团支部 {branch_code} 不存在")
    else:
        org = await session.get(Org, default_id) if default_id is not None else None
        if org is None:
            raise refuse(422, "branch_code", f"请指定{what}后转回的团支部（branch_code）")
    directory = await load_with_ancestors(session, [org.code])
    info = directory[org.code]
    if org.kind != OrgKind.BRANCH or org.new_student or not directory.is_ancestor(school.code, info):
        raise refuse(422, "branch_code", f"{org.name}不是{school.name}的毕业班团支部，请指定转回的团支部")
    return org


def _release_audit(
    actor: Actor, action: str, entity: str, entity_id: int, now: datetime, detail: dict[str, Any]
) -> AuditLog:
    return AuditLog(
        key=f"{entity}/{entity_id}/{action}/{uuid.uuid4().hex}",
        at=now,
        actor=actor.username,
        action=action,
        entity=entity,
        entity_id=str(entity_id),
        detail=detail,
    )


async def release_retention(
    engine: AsyncEngine,
    *,
    member_id: int,
    actor: Actor,
    branch_code: str | None = None,
    reason: str = "",
    now: datetime | None = None,
) -> ReleaseResult:
    """The member is back from abroad: the retention in force ends, the member leaves the
    出国（境）学习研究团员团支部 for the branch they applied from (or `branch_code`), is no longer
    marked, and leaves the register; a transfer may then be started for them. One transaction with
    a membership-history row, an audit row on the application and a notice to the member."""
    now = now or utcnow()
    async with session_scope(engine) as session:
        member, _directory, _branch, school = await _member_and_school(session, member_id)
        _check_school_actor(actor, school, what="解除出国（境）学习研究保留团组织关系")
        member = await session.get_one(Member, member_id, with_for_update=True)
        r = (
            (
                await session.execute(
                    select(AbroadRetention)
                    .where(
                        col(AbroadRetention.member_id) == member_id,
                        col(AbroadRetention.status) == RetentionStatus.APPROVED.value,
                    )
                    .order_by(col(AbroadRetention.id).desc())
                )
            )
            .scalars()
            .first()
        )
        if not member.abroad_retention or r is None or r.branch_id != member.branch_id:
            raise refuse(409, "id_number", f"{member.name}没有保留中的出国（境）学习研究团组织关系，无需解除")
        back = await _back_branch(session, school, branch_code=branch_code, default_id=r.from_branch_id, what="回国")
        await move_member(session, member, row_id(back.id), "abroad_study_released", now)
        member.abroad_retention = False
        member.updated_at = now
        session.add(
            _release_audit(
                actor,
                "retention.released",
                "abroad_retention",
                row_id(r.id),
                now,
                {"branch": back.code, "reason": reason, "member": member_id},
            )
        )
        session.add(
            Notification(
                key=f"{r.workflow_id}/{r.run_id}/released/{uuid.uuid4().hex[:8]}",
                kind="retention_update",
                member_id=member_id,
                title="出国（境）学习研究保留团组织关系已解除",
                body=f"{school.name}已解除您的保留团组织关系，您已转回{back.name}。",
                created_at=now,
            )
        )
        return ReleaseResult(member_id, back.code, back.name)


async def release_delayed(
    engine: AsyncEngine,
    *,
    member_id: int,
    actor: Actor,
    branch_code: str | None = None,
    graduation_year: int | None = None,
    now: datetime | None = None,
) -> ReleaseResult:
    """The delayed student graduates after all: out of the 延迟毕业团支部, back to the branch they
    were marked from (or `branch_code`), graduating with their new graduation year (the one
    marked, or `graduation_year`). One transaction with a membership-history row and an audit row."""
    now = now or utcnow()
    async with session_scope(engine) as session:
        member, _directory, _branch, school = await _member_and_school(session, member_id)
        _check_school_actor(actor, school, what="解除延迟毕业标记")
        member = await session.get_one(Member, member_id, with_for_update=True)
        if not member.delayed_graduation:
            raise refuse(409, "id_number", f"{member.name}没有标记为延迟毕业，无需解除")
        if graduation_year is not None and member.graduation_year and graduation_year < member.graduation_year:
            raise refuse(422, "graduation_year", "毕业年份不能早于标记延迟毕业时的预计毕业年份")
        came_from = (
            await session.execute(
                select(col(MembershipHistory.from_branch_id))
                .where(
                    col(MembershipHistory.member_id) == member_id,
                    col(MembershipHistory.reason) == "delayed_graduation",
                )
                .order_by(col(MembershipHistory.at).desc(), col(MembershipHistory.id).desc())
            )
        ).scalar()
        back = await _back_branch(session, school, branch_code=branch_code, default_id=came_from, what="解除延迟毕业")
        before = (member.branch_id, member.graduation_year)
        await move_member(session, member, row_id(back.id), "delayed_graduation_released", now)
        member.delayed_graduation = False
        member.graduating = True
        if graduation_year is not None:
            member.graduation_year = graduation_year
        member.updated_at = now
        session.add(
            _release_audit(
                actor,
                "member.delayed_released",
                "member",
                member_id,
                now,
                {
                    "school": school.code,
                    "branch": back.code,
                    "from_branch_id": before[0],
                    "graduation_year": [before[1], member.graduation_year],
                },
            )
        )
        return ReleaseResult(member_id, back.code, back.name)
