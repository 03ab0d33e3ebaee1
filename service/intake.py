"""A start request as the API, the UI and the bulk CLI send it: validate, authorise, route, start.

Nothing is written when a request is refused: every check runs before the workflow starts, and
the workflow's first activity is what records the transfer.

The rules are two pure functions over rows already loaded: `parse_request` (the request on its
own) and `check_start` (the member, the caller's rights, the route, the target and the approval
chain, giving the workflow's input). `start_request` loads one request's rows and starts it;
`service.bulk_start` loads a batch's rows at once and starts them: both call the same two.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client

from domain import idcard
from domain.deadlines import shanghai_date
from domain.directory import Directory, OrgInfo
from domain.eligibility import graduate_transfer_problem
from domain.forms import validate_form
from domain.partition import PartitionChoice, target_partition_problem
from domain.policy import TransferPolicy
from domain.roles import Role
from domain.routing import check_override, route
from domain.transfers import ActorKind, Channel, TransferType
from messages.transfers import WORKFLOW_ID_PREFIX, Actor, Route, TransferInput
from models import Member, Org, User, table_of
from models.db import reader
from models.directory import DirectoryCache
from service.errors import Problem, ServiceError, refuse
from service.permissions import covers
from service.transfers import StartResult, find_by_request_id, make_input, start


@dataclass
class StartRequest:
    id_number: str
    name: str
    type: TransferType
    channel: Channel
    form: dict[str, Any]
    target_org_code: str | None = None
    partition: str | None = None  # the answer to 转入组织是否属于北京/广东/福建 (national or which)


def initiator_for(user: User, user_org: OrgInfo | Org | None, channel: Channel, member: Member) -> Actor:
    """Who starts, by channel: the member themself (个人), an org admin (转出/转入), or a
    service account starting 转出 for its org."""
    if channel == Channel.SELF:
        if user.role != Role.MEMBER or user.member_id != member.id:
            raise refuse(403, "channel", "个人发起只能由团员本人办理")
        return Actor(kind=ActorKind.MEMBER, username=user.username, member_id=member.id, display_name=user.display_name)
    if user.role == Role.MEMBER:
        raise refuse(403, "channel", "团员只能个人发起（channel=self）")
    if user_org is None:
        raise refuse(403, "user", "该账号未绑定组织，不能办理转出或转入")
    if user.role == Role.SERVICE and channel != Channel.OUT:
        raise refuse(403, "channel", "服务账号只能办理转出（channel=out）")
    kind = ActorKind.SERVICE if user.role == Role.SERVICE else ActorKind.ORG_ADMIN
    return Actor(
        kind=kind, username=user.username, org_code=user_org.code, display_name=user.display_name or user_org.name
    )


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
    """Every rule of a start after `parse_request`, over rows already loaded; pure. `member` is
    the one whose 身份证号 is `parsed.id_number` (None when there is none), `user_org` the user's
    org in `directory`, which must hold the member's branch (by id). ServiceError when refused."""
    form, choice = parsed.form, parsed.partition
    if member is None or member.name != req.name.strip():
        raise refuse(422, "id_number", "姓名与身份证号不对应任何团员，请核对后查询")
    if member.graduation_year and (
        p := graduate_transfer_problem(parsed.id_number, member.graduation_year, today=today)
    ):
        raise refuse(422, "id_number", p)

    initiator = initiator_for(user, user_org, req.channel, member)  # 转出/转入: user_org is the initiator's
    from_org = directory.by_id(member.branch_id)
    if from_org is None:
        raise ValueError(f"the directory does not hold the member's branch (id {member.branch_id})")
    if req.channel == Channel.OUT and user_org is not None and not covers(directory, user_org.code, from_org):
        raise refuse(403, "channel", f"{user_org.name}不是该团员所在组织或其上级，不能办理转出")

    if req.target_org_code:
        target = directory.get(req.target_org_code)
        if target is None:
            raise refuse(422, "target_org_code", f"转入组织 {req.target_org_code} 不存在")
        reasons = check_override(directory, req.type, target, partition_choice=choice, from_org=from_org)
        if reasons:
            raise ServiceError(422, [Problem("target_org_code", r) for r in reasons])
        proposal = route(
            directory,
            req.type,
            form,
            from_org=from_org,
            today=today,
            partition_choice=choice,
            graduation_year=member.graduation_year,
        )
        if proposal.target_code == target.code:
            chosen = Route(clause=proposal.clause, explanation=proposal.explanation)
        else:
            chosen = Route(
                clause=proposal.clause, explanation=f"由发起方指定转入{target.name}（系统建议：{proposal.explanation}）"
            )
    else:
        proposal = route(
            directory,
            req.type,
            form,
            from_org=from_org,
            today=today,
            partition_choice=choice,
            graduation_year=member.graduation_year,
        )
        if proposal.stays_at_school or proposal.target is None:
            raise ServiceError(
                422, [Problem("target_org_code", m) for m in (proposal.problems or [proposal.explanation])]
            )
        target = proposal.target
        chosen = Route(clause=proposal.clause, explanation=proposal.explanation)
    if choice is not None and (p := target_partition_problem(choice, target)):
        raise refuse(422, "target_org_code", p)
    if req.channel == Channel.IN and user_org is not None and not covers(directory, user_org.code, target):
        raise refuse(403, "channel", f"{user_org.name}不是转入组织或其上级，不能办理转入")

    inp = make_input(
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
    )
    return CheckedStart(
        inp=inp, route=Route(clause=chosen.clause, explanation=chosen.explanation, org_code=target.code)
    )


async def members_by_id_number(engine: AsyncEngine, id_numbers: Iterable[str]) -> dict[str, Any]:
    """The members (rows with Member's columns) by normalised 身份证号, in one read."""
    ids = sorted(set(id_numbers))
    if not ids:
        return {}
    members = table_of(Member)
    async with reader(engine).connect() as conn:
        found = (await conn.execute(select(members).where(members.c.id_number.in_(ids)))).all()
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
) -> tuple[StartResult | None, Route]:
    """Start (or find) the transfer; with `dry_run`, every check and the route, nothing started."""
    now = now or datetime.now(UTC)
    today = shanghai_date(now)
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
    )
    if dry_run:
        return None, checked.route
    if client is None:
        raise ValueError("start_request needs a Temporal client unless dry_run")
    result = await start(client, checked.inp, task_queue=task_queue, id_prefix=id_prefix)
    return result, result.route
