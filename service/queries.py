"""Reads for lists and pages, from the database projection, limited to what the caller may see."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Select, and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from domain import idcard
from domain.deadlines import days_waiting
from domain.orgs import Partition
from models import ApprovalStep, AuditLog, Member, Org, Transfer, User

SPECIAL_PARTITIONS = (Partition.BEIJING.value, Partition.GUANGDONG.value, Partition.FUJIAN.value)


def subtree_ids(org_id: int) -> Select:
    """Ids of an org and every org below it (a recursive CTE: SQLite and PostgreSQL alike)."""
    sub = select(Org.id).where(Org.id == org_id).cte(f"subtree_{org_id}", recursive=True)
    sub = sub.union_all(select(Org.id).where(Org.parent_id == sub.c.id))
    return select(sub.c.id)


def visible(user: User):
    """The condition on `Transfer` for what this user may read."""
    if user.role == "member":
        return Transfer.member_id == (user.member_id or -1)
    own = [Transfer.initiated_by == user.username]
    if user.org_id is None:
        return or_(*own)
    ids = subtree_ids(user.org_id)
    conds = [Transfer.from_org_id.in_(ids), Transfer.target_org_id.in_(ids), *own]
    if user.role == "admin":
        conds.append(exists().where(and_(ApprovalStep.transfer_id == Transfer.id, ApprovalStep.org_id.in_(ids))))
    return or_(*conds)


async def org_ids_by_code(session: AsyncSession, codes: list[str]) -> dict[str, int]:
    rows = await session.execute(select(Org.code, Org.id).where(Org.code.in_(codes)))
    return dict(rows.all())


@dataclass
class TransferFilter:
    node_org: str | None = None
    from_org: str | None = None
    to_org: str | None = None
    status: str | None = None
    overdue: bool | None = None
    type: str | None = None


def _pending_step():
    return and_(ApprovalStep.transfer_id == Transfer.id, ApprovalStep.status == "pending")


async def _within(session: AsyncSession, user: User, org_id: int) -> bool:
    """Is this org the user's own org or below it?"""
    if user.org_id is None:
        return False
    found = await session.execute(select(Org.id).where(Org.id == org_id, Org.id.in_(subtree_ids(user.org_id))))
    return found.first() is not None


async def list_statements(
    session: AsyncSession, user: User, f: TransferFilter, *, page: int, page_size: int, now: datetime
) -> tuple[Select, Select] | None:
    """The count and page queries of a list (None when a filter names an unknown org)."""
    codes = [c for c in (f.node_org, f.from_org, f.to_org) if c]
    ids = await org_ids_by_code(session, codes) if codes else {}
    if any(c not in ids for c in codes):
        return None
    conds = []
    node_step = None
    if f.node_org:
        node_step = and_(_pending_step(), ApprovalStep.org_id == ids[f.node_org])
        if f.overdue is not None:
            late = ApprovalStep.remind_at <= now
            node_step = and_(node_step, late if f.overdue else or_(ApprovalStep.remind_at.is_(None), ~late))
        conds.append(exists().where(node_step))
    # An admin's inbox for an org in their own subtree is visible by definition: skipping the
    # visibility test lets the planner start from the node's pending steps (an index range).
    if not (f.node_org and user.role == "admin" and await _within(session, user, ids[f.node_org])):
        conds.append(visible(user))
    if f.from_org:
        conds.append(Transfer.from_org_id == ids[f.from_org])
    if f.to_org:
        conds.append(Transfer.target_org_id == ids[f.to_org])
    if f.status:
        conds.append(Transfer.status == f.status)
    if f.type:
        conds.append(Transfer.type == f.type)
    if f.overdue is not None and not f.node_org:
        late = exists().where(and_(_pending_step(), ApprovalStep.remind_at <= now))
        conds.append(late if f.overdue else ~late)
    where = and_(*conds)
    count = select(func.count()).select_from(Transfer).where(where)
    rows = (
        select(Transfer)
        .where(where)
        .order_by(Transfer.created_at.desc(), Transfer.id.desc())
        .offset((page - 1) * page_size)
        .limit(page_size)
    )
    return count, rows


async def list_transfers(
    session: AsyncSession, user: User, f: TransferFilter, *, page: int, page_size: int, now: datetime | None = None
) -> tuple[list[dict[str, Any]], int]:
    now = now or datetime.now(UTC)
    stmts = await list_statements(session, user, f, page=page, page_size=page_size, now=now)
    if stmts is None:
        return [], 0
    count, page_rows = stmts
    total = (await session.execute(count)).scalar_one()
    rows = (await session.execute(page_rows)).scalars().all()
    return await summaries(session, rows, now), total


async def summaries(session: AsyncSession, rows: list[Transfer], now: datetime) -> list[dict[str, Any]]:
    if not rows:
        return []
    member_ids = {t.member_id for t in rows}
    members = {m.id: m for m in (await session.execute(select(Member).where(Member.id.in_(member_ids)))).scalars()}
    steps = (
        (
            await session.execute(
                select(ApprovalStep).where(
                    ApprovalStep.transfer_id.in_([t.id for t in rows]), ApprovalStep.status == "pending"
                )
            )
        )
        .scalars()
        .all()
    )
    pending = {s.transfer_id: s for s in steps}
    org_ids = {t.from_org_id for t in rows} | {t.target_org_id for t in rows} | {s.org_id for s in steps}
    codes = dict((await session.execute(select(Org.id, Org.code).where(Org.id.in_(org_ids)))).all())
    out = []
    for t in rows:
        m = members[t.member_id]
        s = pending.get(t.id)
        out.append(
            {
                "id": t.id,
                "status": t.status,
                "type": t.type,
                "channel": t.channel,
                "member": {"id": m.id, "name": m.name, "id_number": idcard.mask(m.id_number)},
                "from_org_code": codes[t.from_org_id],
                "target_org_code": codes[t.target_org_id],
                "current_node": None
                if s is None
                else {
                    "org_code": codes[s.org_id],
                    "deadline": s.deadline,
                    "remind_at": s.remind_at,
                    "overdue": s.remind_at is not None and _aware(s.remind_at) <= now,
                    "days_waiting": days_waiting(_aware(s.started_at), now) if s.started_at else 0,
                },
                "created_at": t.created_at,
                "updated_at": t.updated_at,
            }
        )
    return out


def _aware(dt: datetime) -> datetime:
    """SQLite hands back naive datetimes; every stored time is UTC."""
    return dt if dt.tzinfo is not None else dt.replace(tzinfo=UTC)


async def get_visible_transfer(session: AsyncSession, user: User, transfer_id: int) -> Transfer | None:
    return (
        await session.execute(select(Transfer).where(Transfer.id == transfer_id, visible(user)))
    ).scalar_one_or_none()


async def may_see_whole_id(session: AsyncSession, user: User, member: Member) -> bool:
    """The whole 身份证号 is shown to the member and to admins of the member's own orgs."""
    if user.role == "member":
        return user.member_id == member.id
    if user.role != "admin" or user.org_id is None:
        return False
    ids = subtree_ids(user.org_id)
    return (
        await session.execute(select(Org.id).where(Org.id == member.branch_id, Org.id.in_(ids)))
    ).first() is not None


async def transfer_detail(session: AsyncSession, user: User, t: Transfer) -> dict[str, Any]:
    member = await session.get(Member, t.member_id)
    steps = (
        (
            await session.execute(
                select(ApprovalStep)
                .where(ApprovalStep.transfer_id == t.id)
                .order_by(ApprovalStep.round, ApprovalStep.seq)
            )
        )
        .scalars()
        .all()
    )
    latest = max((s.round for s in steps), default=1)
    steps = [s for s in steps if s.round == latest]
    org_ids = {t.from_org_id, t.target_org_id, *(s.org_id for s in steps)} | ({t.branch_id} if t.branch_id else set())
    orgs = {o.id: o for o in (await session.execute(select(Org).where(Org.id.in_(org_ids)))).scalars()}
    history = (
        (
            await session.execute(
                select(AuditLog)
                .where(AuditLog.entity == "transfer", AuditLog.entity_id == str(t.id))
                .order_by(AuditLog.id)
            )
        )
        .scalars()
        .all()
    )
    whole = await may_see_whole_id(session, user, member)
    return {
        "id": t.id,
        "workflow_id": t.workflow_id,
        "status": t.status,
        "type": t.type,
        "channel": t.channel,
        "member": {
            "id": member.id,
            "name": member.name,
            "id_number": member.id_number if whole else idcard.mask(member.id_number),
        },
        "from_org_code": orgs[t.from_org_id].code,
        "target_org_code": orgs[t.target_org_id].code,
        "form": t.form,
        "route": {"org_code": orgs[t.target_org_id].code, "clause": t.route_clause, "explanation": t.route_explanation},
        "round": latest,
        "nodes": [
            {
                "seq": s.seq,
                "org_code": orgs[s.org_id].code,
                "org_name": orgs[s.org_id].name,
                "status": s.status,
                "deadline": s.deadline,
                "remind_at": s.remind_at,
                "reminded_at": s.reminded_at,
                "decided_by": s.decided_by,
                "decided_at": s.decided_at,
                "reason_code": s.reason_code,
                "comment": s.comment,
            }
            for s in steps
        ],
        "branch_code": orgs[t.branch_id].code if t.branch_id else None,
        "created_at": t.created_at,
        "updated_at": t.updated_at,
        "completed_at": t.completed_at,
        "history": [{"at": h.at, "action": h.action, "actor": h.actor, "detail": h.detail} for h in history],
    }


async def search_orgs(
    session: AsyncSession, *, q: str | None, partition: str | None, kind: str | None, limit: int = 50
) -> list[dict[str, Any]]:
    stmt = select(Org)
    if q:
        like = f"%{q.strip()}%"
        stmt = stmt.where(or_(Org.name.ilike(like), Org.code.ilike(like)))  # case-insensitive on both engines
    if partition == Partition.NATIONAL.value:
        stmt = stmt.where(Org.partition.not_in(SPECIAL_PARTITIONS))
    elif partition:
        stmt = stmt.where(Org.partition == partition)
    if kind:
        stmt = stmt.where(Org.kind == kind)
    rows = (await session.execute(stmt.order_by(Org.code).limit(limit))).scalars().all()
    parents = dict(
        (
            await session.execute(
                select(Org.id, Org.code).where(Org.id.in_({o.parent_id for o in rows if o.parent_id}))
            )
        ).all()
    )
    return [
        {
            "code": o.code,
            "name": o.name,
            "kind": o.kind,
            "partition": o.partition,
            "branch_level": o.branch_level,
            "parent_code": parents.get(o.parent_id),
        }
        for o in rows
    ]
