"""Reading abroad-study retention applications (§I.5): the lists, a member's own, one application
with its history and what the viewer may do with it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, func, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import col

from domain import idcard
from domain.holdings import RetentionStatus
from domain.roles import Role
from models import AuditLog, Member, Org, User, row_id, utcnow
from models.db import session_factory
from models.tables import AbroadRetention
from service.errors import refuse
from service.permissions import admin_refusal, directory_for, may_see_whole_id, subtree_ids
from service.registers import org_scope


def visible_retention(user: User) -> ColumnElement[bool]:
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
        where = [visible_retention(user)]
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
                .where(col(AbroadRetention.id) == retention_id, visible_retention(user))
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
