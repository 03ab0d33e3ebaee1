"""The special registers (登记造册) of DOMAIN.md §6, for an org and everything below it.

- abroad study (§I.5): approved retention applications — place, dates, domestic contact;
- mobile (§I.4): graduates kept at school in 毕业学生流动团员团支部, with their 6-month end;
- delayed graduation (§I.7): members marked delayed;
- county temp branch (§I.1): members a county-level 学社衔接临时团支部 must move out within a year.

Each list returns `RegisterRow`s (身份证号 masked), and `export_xlsx(rows, kind)` writes them to a
workbook with Chinese headers. Dates are Shanghai calendar dates. Read-only.
"""

from __future__ import annotations

import io
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from functools import partial
from typing import Any

from sqlalchemy import Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import aliased
from sqlmodel import col

from domain import idcard
from domain.deadlines import is_overdue, shanghai_date
from domain.glossary import HOLDING_STATUS_LABELS, REGISTER_LABELS, RETENTION_STATUS_LABELS
from domain.holdings import (
    HoldingKind,
    HoldingStatus,
    RegisterKind,
    RetentionStatus,
)
from models import Member, MembershipHistory, Org, row_id
from models.db import session_factory
from models.tables import AbroadRetention, Holding
from service.errors import Problem, ServiceError
from service.permissions import subtree_ids


@dataclass(frozen=True)
class RegisterRow:
    kind: RegisterKind
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


def _day(moment: datetime | None) -> date | None:
    return shanghai_date(moment) if moment is not None else None


def _row(kind: RegisterKind, m: Member, branch: Org, responsible_org: str, **entry: Any) -> RegisterRow:
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


async def abroad_study_register(engine: AsyncEngine, org_code: str, *, today: date | None = None) -> list[RegisterRow]:
    """Approved abroad-study retentions whose school, original branch or current branch is in scope.
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
                    col(AbroadRetention.status) == RetentionStatus.APPROVED.value,
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


async def register(engine: AsyncEngine, kind: RegisterKind | str, org_code: str, **kw: Any) -> list[RegisterRow]:
    """One register by kind (the UI's and API's single entry point)."""
    lists: dict[RegisterKind, Callable[..., Awaitable[list[RegisterRow]]]] = {
        RegisterKind.ABROAD_STUDY: abroad_study_register,
        RegisterKind.MOBILE: mobile_register,
        RegisterKind.DELAYED: delayed_register,
        RegisterKind.COUNTY_TEMP: county_temp_register,
    }
    return await lists[RegisterKind(kind)](engine, org_code, **kw)


# --- XLSX export ---------------------------------------------------------------------------------


def _yes_no(v: bool | None) -> str:
    return "" if v is None else ("是" if v else "否")


_Col = tuple[str, Callable[[RegisterRow], Any], int]  # header, value, width

_COMMON_HEAD: list[_Col] = [
    ("序号", lambda r: None, 6),  # filled with the row number
    ("姓名", lambda r: r.member_name, 10),
    ("身份证号", lambda r: r.id_number_masked, 22),
]
_SCHOOL: list[_Col] = [
    ("学校团委", lambda r: r.responsible_org, 22),
    ("所在团支部", lambda r: r.org_name, 32),
]
_HOLDING_STATE: list[_Col] = [  # the two holding registers end alike
    ("状态", lambda r: r.status_label, 10),
    ("是否超期", lambda r: _yes_no(r.overdue), 10),
    ("已提醒次数", lambda r: r.reminders_sent, 10),
    ("转出日期", lambda r: r.released_on, 14),
]

COLUMNS: dict[RegisterKind, list[_Col]] = {
    RegisterKind.ABROAD_STUDY: [
        *_COMMON_HEAD,
        *_SCHOOL,
        ("境外学习研究地点", lambda r: r.abroad_place, 30),
        ("出国（境）开始日期", lambda r: r.abroad_from, 14),
        ("出国（境）结束日期", lambda r: r.abroad_to, 14),
        ("境内联系人", lambda r: r.contact_name, 10),
        ("境内联系人联系方式", lambda r: r.contact_phone, 16),
        ("登记备案日期", lambda r: r.started_on, 14),
        ("审批方式", lambda r: "系统默认通过" if r.auto_approved else "学校团委审批", 14),
        ("是否已过境外学习期限", lambda r: _yes_no(r.overdue), 12),
    ],
    RegisterKind.MOBILE: [
        *_COMMON_HEAD,
        *_SCHOOL,
        ("毕业年份", lambda r: r.graduation_year, 10),
        ("编入日期", lambda r: r.started_on, 14),
        ("保留期满日期", lambda r: r.due_on, 14),
        *_HOLDING_STATE,
    ],
    RegisterKind.DELAYED: [
        *_COMMON_HEAD,
        *_SCHOOL,
        ("预计毕业年份", lambda r: r.graduation_year, 12),
        ("标记日期", lambda r: r.started_on, 14),
        ("状态", lambda r: r.status_label, 10),
    ],
    RegisterKind.COUNTY_TEMP: [
        *_COMMON_HEAD,
        ("县级团委", lambda r: r.responsible_org, 24),
        ("临时团支部", lambda r: r.org_name, 30),
        ("接收日期", lambda r: r.started_on, 14),
        ("转出期限", lambda r: r.due_on, 14),
        *_HOLDING_STATE,
    ],
}


def headers(kind: RegisterKind | str) -> list[str]:
    return [h for h, _, _ in COLUMNS[RegisterKind(kind)]]


def export_xlsx(rows: list[RegisterRow], kind: RegisterKind | str) -> bytes:
    """The register as an XLSX workbook: one sheet titled with the register's name, Chinese
    headers, dates as dates, 身份证号 masked as in the rows."""
    from openpyxl import Workbook
    from openpyxl.styles import Font
    from openpyxl.utils import get_column_letter

    kind = RegisterKind(kind)
    cols = COLUMNS[kind]
    wb = Workbook()
    ws = wb.active
    ws.title = REGISTER_LABELS[kind][:31]
    ws.append([h for h, _, _ in cols])
    for cell in ws[1]:
        cell.font = Font(bold=True)
    for n, row in enumerate(rows, start=1):
        if row.kind != kind:
            raise ValueError(f"a {row.kind} row in the {kind} register")
        ws.append([n if h == "序号" else value(row) for h, value, _ in cols])
        for cell in ws[ws.max_row]:
            if isinstance(cell.value, (date, datetime)):
                cell.number_format = "yyyy-mm-dd"
    for i, (_, _, width) in enumerate(cols, start=1):
        ws.column_dimensions[get_column_letter(i)].width = width
    ws.freeze_panes = "A2"
    buf = io.BytesIO()
    wb.save(buf)
    return buf.getvalue()
