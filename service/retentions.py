"""Abroad-study retention applications (§I.5): authorise, validate, start and decide their workflows.

`build_retention_input` → `submit_retention`, then `approve_retention` / `return_retention` /
`withdraw_retention` on `retention_handle(...)`; for a caller (the API and the UI):
`apply_retention` and the `*_by_id` decisions, who may act checked from the `User`. Rows of
retentions are written only by the workflow's activities. Reading them: `service.retention_views`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col
from temporalio.client import Client, WorkflowHandle
from temporalio.service import RPCError

from core.clock import calendar
from core.temporal import start_and_wait_recorded
from domain import idcard
from domain.directory import Directory, OrgInfo
from domain.eligibility import xueshe_problem
from domain.forms import validate_form
from domain.orgs import OrgKind
from domain.policy import TransferPolicy, policy_for
from domain.roles import Role
from domain.transfers import ActorKind, TransferType
from messages.stay_at_school import (
    RETENTION_ID_PREFIX,
    RetentionApprove,
    RetentionForm,
    RetentionInput,
    RetentionReturn,
    RetentionView,
    RetentionWithdraw,
    retention_workflow_id,
)
from messages.transfers import Actor, OrgRef
from models import Member, Org, User, row_id
from models.db import session_factory
from models.directory import DIRECTORIES
from models.tables import AbroadRetention
from service.errors import Problem, ServiceError, execute_update, refuse
from service.flows import Flows, unavailable
from service.permissions import admin_actor, covers, is_org_admin
from service.retention_views import visible_retention
from service.school_lookups import (
    check_no_open_transfer,
    member_and_school,
    retention_pending,
    school_branch,
    school_of,
)
from workflows.retention import AbroadRetentionWorkflow


@dataclass
class RetentionStart:
    view: RetentionView
    created: bool  # False when the member's pending application was returned instead


RETENTION_CLOSED = "该申请已办结，不能重复处理"


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
        member, directory, branch, school = await member_and_school(session, member_id)
        if initiator.kind == ActorKind.MEMBER:
            if initiator.member_id != member.id:
                raise refuse(403, "actor", "团员只能为本人申请保留团组织关系")
        else:
            _check_school_side_actor(initiator, directory, branch, school)
        if member.abroad_retention:
            raise refuse(409, "member", f"{member.name}的团组织关系已保留在学校并登记备案")
        await check_no_open_transfer(session, member)
        target = await school_branch(session, school, OrgKind.ABROAD_STUDY_BRANCH)
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


# --- applying for a retention, for a caller (the API and the UI) ----------------------------------


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
    school = school_of(directory, branch, member) if member is not None and branch is not None else None
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
        if await retention_pending(session, row_id(member.id)):
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
        raise unavailable(e) from e
    if not started.created:  # another application got in first
        raise refuse(409, "id_number", f"{member.name}已有待审批的保留团组织关系申请，请等待学校团委审批或先撤回")
    async with session_factory(engine)() as session:
        rid = (
            await session.execute(
                select(col(AbroadRetention.id)).where(col(AbroadRetention.request_id) == inp.request_id)
            )
        ).scalar_one()
    return row_id(rid)


# --- deciding on an application -------------------------------------------------------------------


async def _decision_target(engine: AsyncEngine, user: User, retention_id: int) -> tuple[AbroadRetention, str]:
    """The application (404 when it is not this user's to see) and its school's code."""
    async with session_factory(engine)() as session:
        found = (
            await session.execute(
                select(AbroadRetention, col(Org.code))
                .join(Org, col(Org.id) == AbroadRetention.school_id)
                .where(col(AbroadRetention.id) == retention_id, visible_retention(user))
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
