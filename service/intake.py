"""A start request as the API, the UI and the bulk CLI send it: validate, authorise, route, start.

Nothing is written when a request is refused: every check runs before the workflow starts, and
the workflow's first activity is what records the transfer.

The rules are two pure functions over rows already loaded: `parse_request` (the request on its
own) and `check_start` (the member, the caller's rights, the route, the target and the approval
chain, giving the workflow's input). `start_request` loads one request's rows and starts it;
`service.bulk_start` loads a batch's rows at once and starts them: both call the same two.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from core.clock import calendar
from core.settings import get_settings
from domain import idcard
from domain.approval import ChainError, approval_chain
from domain.deadlines import shanghai_date
from domain.directory import Directory, OrgInfo
from domain.eligibility import graduate_transfer_problem, xueshe_problem
from domain.forms import validate_form
from domain.holdings import RetentionStatus
from domain.partition import PARTITION_CHANNELS, PartitionChoice, partition_answer_problem
from domain.policy import TransferPolicy, policy_for
from domain.roles import Role
from domain.routing import check_override, route
from domain.transfers import ActorKind, Channel, TransferType, start_channel_problem
from messages.transfers import WORKFLOW_ID_PREFIX, Actor, NodeSpec, OrgRef, Route, TransferInput
from models import Member, User, table_of
from models.db import reader
from models.directory import DirectoryCache
from models.tables import AbroadRetention
from service.errors import Problem, ServiceError, refuse
from service.permissions import covers
from service.transfers import StartResult, find_by_request_id, start


@dataclass
class StartRequest:
    id_number: str
    name: str
    type: TransferType
    channel: Channel
    form: dict[str, Any]
    target_org_code: str | None = None
    partition: str | None = None  # the answer to 转入组织是否属于北京/广东/福建 (national or which)


@dataclass(frozen=True)
class ParsedRequest:
    """A request whose own fields passed their checks (before any lookup)."""

    id_number: str  # normalised
    form: Any  # the type's form model (None for a type without a form)
    partition: PartitionChoice | None


@dataclass(frozen=True)
class CheckedStart:
    """A request that passed every check: the workflow's input and the route shown to the caller."""

    inp: TransferInput
    route: Route  # with the target's org_code


def parse_request(req: StartRequest, *, today: date) -> ParsedRequest:
    """The checks of the request on its own (身份证号, form, abroad study, partition); pure.
    ServiceError 422 with every problem found."""
    problems: list[Problem] = []
    if bad := idcard.problems(req.id_number, today=today):
        problems.append(Problem("id_number", bad[0].message))
    form, form_problems = validate_form(req.type, req.form)
    problems += [
        Problem(p.field if p.field.startswith("form") else f"form.{p.field}", p.message) for p in form_problems
    ]
    if req.type == TransferType.ABROAD_STUDY:
        problems.append(
            Problem(
                "type",
                "出国（境）学习研究的团员保留组织关系在原就读学校，请提交保留团组织关系申请，不办理转接（《通知》一、5）",
            )
        )
    choice = None
    if req.partition:
        try:
            choice = PartitionChoice.for_partition(req.partition)
        except ValueError:
            problems.append(Problem("partition", "partition 应为 national、beijing、guangdong 或 fujian"))
    if problems:
        raise ServiceError(422, problems)
    return ParsedRequest(id_number=idcard.normalize(req.id_number), form=form, partition=choice)


def who_may_start(
    req: StartRequest, *, user: User, user_org: OrgInfo | None, member: Member | None, directory: Directory
) -> Actor:
    """The first check of a start: may this caller start this type, on this channel, for this
    member? The initiator, or a 403. It comes before anything about the member, and a caller
    who may not act for the member gets the same answer whether or not the 身份证号 names one,
    so the answer tells them nothing about who is a league member."""
    if p := start_channel_problem(req.type, req.channel):
        raise refuse(403, "channel", p)
    if req.channel == Channel.SELF:
        if user.role != Role.MEMBER or member is None or user.member_id != member.id:
            raise refuse(403, "channel", "个人发起只能由团员本人办理")
        return Actor(kind=ActorKind.MEMBER, username=user.username, member_id=member.id, display_name=user.display_name)
    if user.role == Role.MEMBER:
        raise refuse(403, "channel", "团员只能个人发起（channel=self）")
    if user_org is None:
        raise refuse(403, "user", "该账号未绑定组织，不能办理转出或转入")
    if user.role == Role.SERVICE and req.channel != Channel.OUT:
        raise refuse(403, "channel", "服务账号只能办理转出（channel=out）")
    if req.channel == Channel.OUT:
        branch = directory.by_id(member.branch_id) if member is not None else None
        if branch is None or not covers(directory, user_org.code, branch):
            raise refuse(403, "channel", f"{user_org.name}及其下级组织中没有该身份证号的团员，不能办理转出")
    kind = ActorKind.SERVICE if user.role == Role.SERVICE else ActorKind.ORG_ADMIN
    return Actor(
        kind=kind, username=user.username, org_code=user_org.code, display_name=user.display_name or user_org.name
    )


def member_problem(member: Member, branch: OrgInfo, directory: Directory, *, today: date) -> str | None:
    """Whether the member may be moved by 学社衔接 at all: a graduating student (or one held in a
    temp branch) under 28 in the graduation month. The Chinese reason, or None."""
    if p := xueshe_problem(directory, branch, member.graduation_year, today=today):
        return p
    if member.graduation_year:
        return graduate_transfer_problem(member.id_number, member.graduation_year, today=today)
    return None


def check_route(
    req: StartRequest,
    parsed: ParsedRequest,
    *,
    initiator: Actor,
    initiator_org: OrgInfo | None,
    member: Member,
    directory: Directory,
    today: date,
    request_id: str | None = None,
    policy: TransferPolicy | None = None,
) -> CheckedStart:
    """Where the request may go, for a member who may be moved: the route (the system's proposal,
    or the initiator's own pick of a fitting org), the calendar, the partition answer, the target's
    checks and the approval chain. A start and a resubmission both come here. ServiceError when
    refused; the workflow's input otherwise."""
    form, choice = parsed.form, parsed.partition
    from_org = directory.by_id(member.branch_id)
    if from_org is None:
        raise ValueError(f"the directory does not hold the member's branch (id {member.branch_id})")
    proposal = route(
        directory,
        req.type,
        form,
        from_org=from_org,
        today=today,
        partition_choice=choice,
        graduation_year=member.graduation_year,
    )
    if req.target_org_code:
        target = directory.get(req.target_org_code)
        if target is None:
            raise refuse(422, "target_org_code", f"转入组织 {req.target_org_code} 不存在")
        reasons = check_override(
            directory,
            req.type,
            target,
            partition_choice=choice,
            today=today,
            from_org=from_org,
            graduation_year=member.graduation_year,
        )
        if reasons:
            raise ServiceError(422, [Problem("target_org_code", r) for r in reasons])
        if proposal.target_code == target.code:
            chosen = Route(clause=proposal.clause, explanation=proposal.explanation)
        else:
            chosen = Route(
                clause=proposal.clause, explanation=f"由发起方指定转入{target.name}（系统建议：{proposal.explanation}）"
            )
    else:
        if proposal.stays_at_school or proposal.target is None:
            raise ServiceError(
                422, [Problem("target_org_code", m) for m in (proposal.problems or [proposal.explanation])]
            )
        target = proposal.target
        chosen = Route(clause=proposal.clause, explanation=proposal.explanation)
    if p := partition_answer_problem(req.channel in PARTITION_CHANNELS, choice, target):
        raise refuse(422, "partition" if choice is None else "target_org_code", p)
    if req.channel == Channel.IN and initiator_org is not None and not covers(directory, initiator_org.code, target):
        raise refuse(403, "channel", f"{initiator_org.name}不是转入组织或其上级，不能办理转入")

    inp = workflow_input(
        directory,
        member,
        transfer_type=req.type,
        channel=req.channel,
        target_org_code=target.code,
        form=form.model_dump(mode="json", exclude_none=True) if form is not None else {},
        initiator=initiator,
        route=chosen,
        request_id=request_id,
        policy=policy,
        partition=choice.partition.value if choice is not None else None,
    )
    return CheckedStart(
        inp=inp, route=Route(clause=chosen.clause, explanation=chosen.explanation, org_code=target.code)
    )


def check_start(
    req: StartRequest,
    parsed: ParsedRequest,
    *,
    user: User,
    user_org: OrgInfo | None,
    member: Member | None,
    directory: Directory,
    today: date,
    request_id: str | None = None,
    policy: TransferPolicy | None = None,
) -> CheckedStart:
    """The gate every start passes (API, batch, validate, UI), after `parse_request`, over rows
    already loaded; pure. In this order: who may start (`who_may_start`), the member (name,
    `member_problem`), then the route (`check_route`). `member` is the one whose 身份证号 is
    `parsed.id_number` (None when there is none), `user_org` the user's org in `directory`, which
    must hold the member's branch (by id). ServiceError when refused."""
    initiator = who_may_start(req, user=user, user_org=user_org, member=member, directory=directory)
    if member is None or member.name != req.name.strip():
        raise refuse(422, "id_number", "姓名与身份证号不对应任何团员，请核对后查询")
    branch = directory.by_id(member.branch_id)
    if branch is None:
        raise ValueError(f"the directory does not hold the member's branch (id {member.branch_id})")
    if p := member_problem(member, branch, directory, today=today):
        raise refuse(422, "id_number", p)
    if p := held_by_flow(member):
        raise refuse(409, "id_number", p)
    return check_route(
        req,
        parsed,
        initiator=initiator,
        initiator_org=user_org if req.channel != Channel.SELF else None,
        member=member,
        directory=directory,
        today=today,
        request_id=request_id,
        policy=policy,
    )


def workflow_input(
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
    partition: str | None = None,
) -> TransferInput:
    """Everything the workflow needs, from rows already loaded (no I/O): the target's last checks
    and the approval chain. Only the gate (`check_route`) calls it: no workflow input is built
    without passing every rule. `directory` must hold the member's branch (by id) and its ancestors."""
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
        partition=partition,
    )


def held_by_flow(member: Any) -> str | None:
    """One flow at a time (DOMAIN.md §6): a member whose abroad-study retention application is
    pending (`retention_pending`, loaded by `members_by_id_number`) or whose retention is in force
    is held at school by it, and no transfer starts for them (409); which flow holds them, in
    Chinese, or None. A member held in a 流动 or county temp branch may be transferred out: the
    completed transfer ends that holding."""
    if getattr(member, "retention_pending", False):
        return (
            f"{member.name}有待学校团委审批的出国（境）学习研究保留团组织关系申请，不能同时办理组织关系转接："
            "请先撤回该申请或等待审批"
        )
    if member.abroad_retention:
        return (
            f"{member.name}的团组织关系已保留在学校（出国（境）学习研究，《通知》一、5），保留期间不能办理"
            "组织关系转接：回国后须由学校团委先解除保留"
        )
    return None


async def members_by_id_number(engine: AsyncEngine, id_numbers: Iterable[str]) -> dict[str, Any]:
    """The members (rows with Member's columns, and `retention_pending`: an abroad-study retention
    application of theirs waits for the school) by normalised 身份证号, in one read."""
    ids = sorted(set(id_numbers))
    if not ids:
        return {}
    members = table_of(Member)
    retentions = table_of(AbroadRetention)
    pending = (
        exists()
        .where(retentions.c.member_id == members.c.id, retentions.c.status == RetentionStatus.PENDING.value)
        .label("retention_pending")
    )
    async with reader(engine).connect() as conn:
        found = (await conn.execute(select(members, pending).where(members.c.id_number.in_(ids)))).all()
    return {m.id_number: m for m in found}


async def start_request(
    engine: AsyncEngine,
    client: Client | None,
    user: User,
    req: StartRequest,
    *,
    directories: DirectoryCache,
    task_queue: str,
    idempotency_key: str | None = None,
    id_prefix: str = WORKFLOW_ID_PREFIX,
    now: datetime | None = None,
    dry_run: bool = False,
    policy: TransferPolicy | None = None,
) -> tuple[StartResult | None, Route]:
    """Start (or find) the transfer; with `dry_run`, every check and the route, nothing started."""
    today = shanghai_date(now) if now is not None else calendar().today()
    request_id = f"{user.username}:{idempotency_key}" if idempotency_key else None
    if request_id:  # a start already made with this key (a dry run answers for it too)
        seen = await find_by_request_id(engine, client, request_id, live=False)
        if seen is not None:
            return seen, seen.route

    parsed = parse_request(req, today=today)
    member = (await members_by_id_number(engine, [parsed.id_number])).get(parsed.id_number)
    ids = [i for i in (user.org_id, member.branch_id if member else None) if i is not None]
    directory = await directories.get(engine, ids=ids)
    checked = check_start(
        req,
        parsed,
        user=user,
        user_org=directory.by_id(user.org_id),
        member=member,
        directory=directory,
        today=today,
        request_id=request_id,
        policy=policy,
    )
    if dry_run:
        return None, checked.route
    if client is None:
        raise ValueError("start_request needs a Temporal client unless dry_run")
    result = await start(client, checked.inp, task_queue=task_queue, id_prefix=id_prefix)
    return result, result.route


async def member_by_id(engine: AsyncEngine, member_id: int) -> Member:
    """The member row by id (a transfer's member exists: its row is never deleted)."""
    async with reader(engine).connect() as conn:
        row = (await conn.execute(select(table_of(Member)).where(table_of(Member).c.id == member_id))).one()
    return Member.model_validate(row._mapping)
