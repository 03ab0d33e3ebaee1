"""The special registers (登记造册) of DOMAIN.md §6, for an org and everything below it.

- abroad study (§I.5): approved retention applications — place, dates, domestic contact;
- mobile (§I.4): graduates kept at school in 毕业学生流动团员团支部, with their 6-month end;
- delayed graduation (§I.7): members marked delayed;
- county temp branch (§I.1): members a county-level 学社衔接临时团支部 must move out within a year;
- special-unit DB (§I.3): members in the provincial 特殊单位专属库, with the transfer that put them
  there (whose sending org sees them too).

Each list returns `RegisterRow`s (身份证号 masked); `whole_ids` gives the whole 身份证号 this user
may see (the rule of `service.permissions.may_see_whole_id`, for many members at once), which the
workbook of `service.register_export` shows. Dates are Shanghai calendar dates. Read-only.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import partial
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from domain import idcard
from domain.deadlines import is_overdue, shanghai_date
from domain.glossary import HOLDING_STATUS_LABELS, REGISTER_LABELS, RETENTION_STATUS_LABELS, UNIT_KIND_LABELS
from domain.holdings import HoldingKind, HoldingStatus, RegisterKind, RetentionStatus
from domain.orgs import OrgKind
from domain.roles import Role
from domain.transfers import TransferStatus
from models import Member, MembershipHistory, Org, Transfer, User, row_id
from models.db import session_factory
from models.tables import AbroadRetention, Holding
from service.errors import Problem, ServiceError, refuse
from service.permissions import covers, directory_for, subtree_ids

#: Register code → its Chinese name (the sheet's title, the page's tab).
REGISTER_NAMES: dict[str, str] = {k.value: v for k, v in REGISTER_LABELS.items()}


@dataclass(frozen=True)
class RegisterRow:
    kind: str  # a `RegisterKind` value
    member_id: int
    member_name: str
    id_number_masked: str  # 420106********1234
    responsible_org: str  # the school (abroad, mobile, delayed) or county committee (county temp)
    org_code: str  # the member's branch now
    org_name: str
    started_on: date | None  # 登记/编入/接收日期
    due_on: date | None  # end of the holding; abroad: the end of the stay abroad
    status: str  # code: approved | active | overdue | released | delayed
    status_label: str
    overdue: bool
    phone: str | None = None
    graduation_year: int | None = None
    reminders_sent: int | None = None
    released_on: date | None = None
    abroad_place: str | None = None
    abroad_from: date | None = None
    abroad_to: date | None = None
    contact_name: str | None = None
    contact_phone: str | None = None
    auto_approved: bool | None = None
    workflow_id: str | None = None
    from_org: str | None = None  # special unit: the org the transfer came from
    unit_kind: str | None = None  # special unit: 参军入伍 / 涉密单位
    joined_unit_on: date | None = None
    transfer_id: int | None = None


def _day(moment: datetime | None) -> date | None:
    return shanghai_date(moment) if moment is not None else None


def _row(kind: str, m: Member, branch: Org, responsible_org: str, **entry: Any) -> RegisterRow:
    """A register's row of a member in a branch: who and where from the member and the branch,
    the entry's own columns (dates, status, ...) from `entry`."""
    return RegisterRow(
        kind=kind,
        member_id=row_id(m.id),
        member_name=m.name,
        id_number_masked=idcard.mask(m.id_number),
        responsible_org=responsible_org,
        org_code=branch.code,
        org_name=branch.name,
        phone=m.phone,
        graduation_year=m.graduation_year,
        **entry,
    )


async def _scope(session: AsyncSession, org_code: str) -> Select[int]:
    """The ids of the org and every org below it (404 when the org is unknown)."""
    root_id = (await session.execute(select(col(Org.id)).where(col(Org.code) == org_code))).scalar_one_or_none()
    if root_id is None:
        raise ServiceError(404, [Problem("org", f"组织 {org_code} 不存在")])
    return subtree_ids(root_id)


# --- the four registers --------------------------------------------------------------------------


def _retention_in_force() -> ColumnElement[bool]:
    """On a query of AbroadRetention joined to its Member: the retention holds the member now
    (approved, the member marked and in its branch, no later approved application; a release
    clears the mark and moves them back)."""
    later = aliased(AbroadRetention)
    return and_(
        col(AbroadRetention.status) == RetentionStatus.APPROVED.value,
        col(Member.abroad_retention).is_(True),
        col(Member.branch_id) == AbroadRetention.branch_id,
        ~exists().where(
            col(later.member_id) == AbroadRetention.member_id,
            col(later.status) == RetentionStatus.APPROVED.value,
            col(later.id) > AbroadRetention.id,
        ),
    )


async def abroad_study_register(engine: AsyncEngine, org_code: str, *, today: date | None = None) -> list[RegisterRow]:
    """Retentions in force (approved, the member not yet back: `release_retention`) whose school,
    original branch or current branch is in scope.
    `overdue`: the stay abroad the application gave has ended (`abroad_to` before `today`)."""
    today = today or shanghai_date(datetime.now(UTC))
    branch, school = aliased(Org), aliased(Org)
    async with session_factory(engine)() as session:
        ids = await _scope(session, org_code)
        rows = (
            await session.execute(
                select(AbroadRetention, Member, branch, school)
                .join(Member, col(Member.id) == AbroadRetention.member_id)
                .join(branch, col(branch.id) == Member.branch_id)
                .join(school, col(school.id) == AbroadRetention.school_id)
                .where(
                    _retention_in_force(),
                    or_(
                        col(AbroadRetention.school_id).in_(ids),
                        col(AbroadRetention.from_branch_id).in_(ids),
                        col(AbroadRetention.branch_id).in_(ids),
                    ),
                )
                .order_by(col(AbroadRetention.registered_at), col(AbroadRetention.id))
            )
        ).all()
    return [
        _row(
            RegisterKind.ABROAD_STUDY,
            m,
            b,
            s.name,
            started_on=_day(r.registered_at or r.decided_at),
            due_on=r.abroad_to,
            status=r.status,
            status_label=RETENTION_STATUS_LABELS[RetentionStatus(r.status)],
            overdue=r.abroad_to < today,
            abroad_place=r.abroad_place,
            abroad_from=r.abroad_from,
            abroad_to=r.abroad_to,
            contact_name=r.contact_name,
            contact_phone=r.contact_phone,
            auto_approved=r.auto_approved,
            workflow_id=r.workflow_id,
        )
        for r, m, b, s in rows
    ]


async def holding_register(
    engine: AsyncEngine,
    org_code: str,
    *,
    kind: HoldingKind,
    now: datetime | None = None,
    include_released: bool = False,
    overdue_only: bool = False,
) -> list[RegisterRow]:
    """The holdings of one kind in scope (their branch or the org reminded), soonest end first.
    `overdue`: the holding is over (the workflow marked it, or the end passed and it has not yet)."""
    now = now or datetime.now(UTC)
    branch, responsible = aliased(Org), aliased(Org)
    register = RegisterKind.MOBILE if kind == HoldingKind.MOBILE else RegisterKind.COUNTY_TEMP
    async with session_factory(engine)() as session:
        ids = await _scope(session, org_code)
        q = (
            select(Holding, Member, branch, responsible)
            .join(Member, col(Member.id) == Holding.member_id)
            .join(branch, col(branch.id) == Holding.org_id)
            .join(responsible, col(responsible.id) == Holding.notify_org_id)
            .where(
                col(Holding.kind) == kind.value, or_(col(Holding.org_id).in_(ids), col(Holding.notify_org_id).in_(ids))
            )
            .order_by(col(Holding.due_at), col(Holding.id))
        )
        if not include_released:
            q = q.where(col(Holding.status) != HoldingStatus.RELEASED.value)
        rows = (await session.execute(q)).all()
    out: list[RegisterRow] = []
    for h, m, b, r in rows:
        status = HoldingStatus(h.status)
        overdue = status == HoldingStatus.OVERDUE or (status == HoldingStatus.ACTIVE and is_overdue(h.due_at, now))
        if overdue_only and not overdue:
            continue
        out.append(
            _row(
                register,
                m,
                b,
                r.name,
                started_on=_day(h.started_at),
                due_on=_day(h.due_at),
                status=status.value,
                status_label=HOLDING_STATUS_LABELS[HoldingStatus.OVERDUE if overdue else status],
                overdue=overdue,
                reminders_sent=h.reminders_sent,
                released_on=_day(h.released_at),
                workflow_id=h.workflow_id,
            )
        )
    return out


#: Graduates kept at school in 毕业学生流动团员团支部 (§I.4), soonest end first. `overdue`: the
#: 6 months are over (the workflow marked it, or the end passed and it has not yet).
mobile_register = partial(holding_register, kind=HoldingKind.MOBILE)

#: Members a county-level 学社衔接临时团支部 holds (§I.1), soonest end first.
county_temp_register = partial(holding_register, kind=HoldingKind.COUNTY_TEMP)


async def overdue_register(engine: AsyncEngine, org_code: str, *, now: datetime | None = None) -> list[RegisterRow]:
    """The overdue list: mobile and county temp branch holdings past their end, in scope."""
    rows = await mobile_register(engine, org_code, now=now, overdue_only=True)
    rows += await county_temp_register(engine, org_code, now=now, overdue_only=True)
    return sorted(rows, key=lambda r: (r.due_on or date.min, r.member_id))


async def delayed_register(engine: AsyncEngine, org_code: str) -> list[RegisterRow]:
    """Members marked as delayed graduates (§I.7) whose branch is in scope, with the day they were
    moved into the delayed branch (from the membership history; empty for imported members)."""
    branch, school = aliased(Org), aliased(Org)
    marked = (
        select(col(MembershipHistory.member_id), func.max(MembershipHistory.at).label("at"))
        .where(col(MembershipHistory.reason) == "delayed_graduation")
        .group_by(col(MembershipHistory.member_id))
        .subquery()
    )
    async with session_factory(engine)() as session:
        ids = await _scope(session, org_code)
        rows = (
            await session.execute(
                select(Member, branch, school, marked.c.at)
                .join(branch, col(branch.id) == Member.branch_id)
                .outerjoin(school, col(school.id) == func.coalesce(Member.school_id, branch.parent_id))
                .outerjoin(marked, marked.c.member_id == Member.id)
                .where(col(Member.delayed_graduation).is_(True), col(Member.branch_id).in_(ids))
                .order_by(col(branch.code), col(Member.id))
            )
        ).all()
    return [
        _row(
            RegisterKind.DELAYED,
            m,
            b,
            s.name if s is not None else "",
            started_on=_day(at),
            due_on=None,
            status="delayed",
            status_label="延迟毕业",
            overdue=False,
        )
        for m, b, s, at in rows
    ]


async def special_unit_register(engine: AsyncEngine, org_code: str) -> list[RegisterRow]:
    """Members in a 特殊单位专属库 (§I.3: its branch, or marked `in_special_unit_db`) whose DB or
    whose sending org is in scope, with the completed transfer that put them there (the latest
    into their DB): where from, the unit's kind and the enlistment or employment date."""
    branch, from_org = aliased(Org), aliased(Org)
    into = (
        select(col(Transfer.member_id), col(Transfer.branch_id), func.max(col(Transfer.id)).label("transfer_id"))
        .where(col(Transfer.status) == TransferStatus.COMPLETED.value)
        .group_by(col(Transfer.member_id), col(Transfer.branch_id))
        .subquery()
    )
    async with session_factory(engine)() as session:
        ids = await _scope(session, org_code)
        rows = (
            await session.execute(
                select(Member, branch, Transfer, from_org)
                .join(branch, col(branch.id) == Member.branch_id)
                .outerjoin(into, and_(into.c.member_id == Member.id, into.c.branch_id == Member.branch_id))
                .outerjoin(Transfer, col(Transfer.id) == into.c.transfer_id)
                .outerjoin(from_org, col(from_org.id) == Transfer.from_org_id)
                .where(
                    or_(col(branch.kind) == OrgKind.SPECIAL_UNIT_DB.value, col(Member.in_special_unit_db).is_(True)),
                    or_(col(Member.branch_id).in_(ids), col(Transfer.from_org_id).in_(ids)),
                )
                .order_by(col(Transfer.completed_at), col(Member.id))
            )
        ).all()
    out: list[RegisterRow] = []
    for m, b, t, f in rows:
        form = t.form if t is not None else {}
        joined = form.get("joined_unit_on")
        out.append(
            _row(
                RegisterKind.SPECIAL_UNIT,
                m,
                b,
                b.name,
                started_on=_day(t.completed_at) if t is not None else None,
                due_on=None,
                status="in_db",
                status_label="在库",
                overdue=False,
                from_org=f.name if f is not None else None,
                unit_kind=UNIT_KIND_LABELS.get(form.get("unit_kind") or "", form.get("unit_kind")),
                joined_unit_on=date.fromisoformat(joined) if isinstance(joined, str) and joined else None,
                transfer_id=t.id if t is not None else None,
            )
        )
    return out


async def register(engine: AsyncEngine, kind: RegisterKind | str, org_code: str, **kw: Any) -> list[RegisterRow]:
    """One register by kind (the UI's and API's single entry point)."""
    lists: dict[RegisterKind, Callable[..., Awaitable[list[RegisterRow]]]] = {
        RegisterKind.ABROAD_STUDY: abroad_study_register,
        RegisterKind.MOBILE: mobile_register,
        RegisterKind.DELAYED: delayed_register,
        RegisterKind.COUNTY_TEMP: county_temp_register,
        RegisterKind.SPECIAL_UNIT: special_unit_register,
    }
    return await lists[RegisterKind(kind)](engine, org_code, **kw)


async def org_scope(engine: AsyncEngine, user: User, org: str | None) -> tuple[int, str, str]:
    """(id, code, name) of the org whose registers (or applications) a caller reads: `org`, or the
    caller's own; an admin or a service account of it or of an org above it (403), else 404."""
    code = org or None
    directory = await directory_for(engine, user, [code] if code else [])
    own = directory.by_id(user.org_id)
    info = directory.get(code) if code else own
    if code and info is None:
        raise refuse(404, "org", f"组织 {code} 不存在")
    if user.role not in (Role.ADMIN, Role.SERVICE) or own is None or info is None:
        raise refuse(403, "org", "只有组织管理员可以查看名册")
    if not covers(directory, own.code, info):
        raise refuse(403, "org", f"无权查看{info.name}的名册")
    return row_id(info.id), info.code, info.name


async def whole_ids(engine: AsyncEngine, user: User, member_ids: list[int]) -> dict[int, str]:
    """Member id → whole 身份证号, for those of these members this user may see whole: the rule
    of `service.permissions.may_see_whole_id` (the member; the admins of the member's own orgs and
    the orgs above them), for many members in one query."""
    if not member_ids:
        return {}
    q = select(col(Member.id), col(Member.id_number)).where(col(Member.id).in_(sorted(set(member_ids))))
    if user.role == Role.MEMBER:
        q = q.where(col(Member.id) == (user.member_id or -1))
    elif user.role == Role.ADMIN and user.org_id is not None:
        q = q.where(col(Member.branch_id).in_(subtree_ids(user.org_id)))
    else:
        return {}
    async with session_factory(engine)() as session:
        return {row_id(i): n for i, n in (await session.execute(q)).all()}
