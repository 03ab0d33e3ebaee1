"""Many members at once, for a caller (the API and the 学社衔接名册 page): mark 流动 or 延迟毕业
members, or release them, by 身份证号 or by row id; who may act is checked from the `User`, and
each member gets an outcome of their own."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col
from temporalio.service import RPCError

from core.clock import calendar
from domain import idcard
from domain.directory import OrgInfo
from domain.transfers import ActorKind
from messages.transfers import Actor
from models import Member, User, row_id
from models.db import session_factory
from models.directory import DIRECTORIES
from service.errors import Problem, ServiceError, refuse
from service.flows import Flows, unavailable
from service.holdings import mark_mobile
from service.marking import mark_delayed_graduation, release_delayed, release_retention
from service.permissions import covers, is_org_admin
from service.school_lookups import check_no_pending_retention, school_of
from starter.pool import gather_limited

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
        school = school_of(directory, branch, member)
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
            return row.refused(unavailable(e))

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
            await check_no_pending_retention(session, row.member)
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
