"""Reads for lists and pages, from the database projection, limited to what the caller may see
(`service.permissions.visible`). The functions taking a session compose; those taking the engine
are what the API and the UI call."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, exists, func, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import col

from domain import idcard
from domain.deadlines import days_waiting
from domain.orgs import Partition
from domain.transfers import Channel, TransferStatus
from models import ApprovalStep, AuditLog, Member, Org, Transfer, User, row_id
from models.db import session_factory
from service.permissions import acting_ids, admin_of, may_see_whole_id, subtree_ids, visible

SPECIAL_PARTITIONS = (Partition.BEIJING.value, Partition.GUANGDONG.value, Partition.FUJIAN.value)


async def org_ids_by_code(session: AsyncSession, codes: list[str]) -> dict[str, int]:
    rows = await session.execute(select(col(Org.code), col(Org.id)).where(col(Org.code).in_(codes)))
    return {code: org_id for code, org_id in rows.all() if org_id is not None}


@dataclass
class TransferFilter:
    node_org: str | None = None
    from_org: str | None = None
    to_org: str | None = None
    status: str | None = None
    overdue: bool | None = None
    type: str | None = None
    #: started by this org (an admin of it: 办理转出 or 办理转入, not 个人发起), e.g. its 被退回 list
    initiator_org: str | None = None
    #: `node_org` (and `assign_org`) with every org below it, rather than the orgs it handles
    #: (itself and those below it without an admin account of their own: `permissions.acting_ids`)
    subtree: bool = False
    #: awaiting a branch at an org this one handles (its 待分配团支部), as `node_org` reads
    assign_org: str | None = None


#: The most ids a filter resolves to at once (操作中心's 全选符合条件的 for a batch decision).
MAX_MATCHING_IDS = 2000


def _pending_step() -> ColumnElement[bool]:
    return and_(col(ApprovalStep.transfer_id) == Transfer.id, col(ApprovalStep.status) == "pending")


def _scope(org_id: int, subtree: bool, name: str) -> Select[int]:
    """The orgs a list for `org_id` reads: all below it, or those it handles (named apart from
    the viewer's subtree in `visible`, which may be the same org's)."""
    return subtree_ids(org_id, name=name) if subtree else acting_ids(org_id, name=name)


async def _where(session: AsyncSession, user: User, f: TransferFilter, now: datetime) -> ColumnElement[bool] | None:
    """The condition of a list: the filter and what the user may see (None when a filter names an
    unknown org)."""
    codes = [c for c in (f.node_org, f.from_org, f.to_org, f.initiator_org, f.assign_org) if c]
    ids = await org_ids_by_code(session, codes) if codes else {}
    if any(c not in ids for c in codes):
        return None
    conds: list[ColumnElement[bool]] = []
    if f.node_org:
        node_step = and_(
            _pending_step(), col(ApprovalStep.org_id).in_(_scope(ids[f.node_org], f.subtree, "node_scope"))
        )
        if f.overdue is not None:
            late = col(ApprovalStep.remind_at) <= now
            node_step = and_(node_step, late if f.overdue else or_(col(ApprovalStep.remind_at).is_(None), ~late))
        conds.append(exists().where(node_step))
    # An admin's inbox (or 待分配团支部) for an org they act for is visible by definition: skipping
    # the visibility test lets the planner start from the node's pending steps (an index range).
    inbox = f.node_org or f.assign_org
    if not (inbox and await admin_of(session, user, ids[inbox])):
        conds.append(visible(user))
    if f.from_org:
        conds.append(col(Transfer.from_org_id) == ids[f.from_org])
    if f.to_org:
        conds.append(col(Transfer.target_org_id) == ids[f.to_org])
    if f.assign_org:
        conds += [
            col(Transfer.status) == TransferStatus.AWAITING_ASSIGNMENT.value,
            col(Transfer.target_org_id).in_(_scope(ids[f.assign_org], f.subtree, "assign_scope")),
        ]
    if f.status:
        conds.append(col(Transfer.status) == f.status)
    if f.type:
        conds.append(col(Transfer.type) == f.type)
    if f.overdue is not None and not f.node_org:
        late_step = exists().where(and_(_pending_step(), col(ApprovalStep.remind_at) <= now))
        conds.append(late_step if f.overdue else ~late_step)
    if f.initiator_org:
        initiators = select(col(User.username)).where(col(User.org_id) == ids[f.initiator_org])
        conds += [col(Transfer.channel) != Channel.SELF.value, col(Transfer.initiated_by).in_(initiators)]
    return and_(*conds)


def _newest_first(stmt: Select[Any]) -> Select[Any]:
    return stmt.order_by(col(Transfer.created_at).desc(), col(Transfer.id).desc())


async def list_statements(
    session: AsyncSession, user: User, f: TransferFilter, *, page: int, page_size: int, now: datetime
) -> tuple[Select[int], Select[Transfer]] | None:
    """The count and page queries of a list (None when a filter names an unknown org)."""
    where = await _where(session, user, f, now)
    if where is None:
        return None
    count = select(func.count()).select_from(Transfer).where(where)
    rows = _newest_first(select(Transfer).where(where)).offset((page - 1) * page_size).limit(page_size)
    return count, rows


async def matching_ids(
    session: AsyncSession, user: User, f: TransferFilter, *, limit: int = MAX_MATCHING_IDS, now: datetime | None = None
) -> list[int]:
    """The ids of every transfer of a list (not only a page), newest first, at most `limit`."""
    where = await _where(session, user, f, now or datetime.now(UTC))
    if where is None:
        return []
    rows = await session.execute(
        _newest_first(select(col(Transfer.id)).where(where)).limit(min(limit, MAX_MATCHING_IDS))
    )
    return [i for i in rows.scalars().all() if i is not None]


async def list_transfers(
    session: AsyncSession, user: User, f: TransferFilter, *, page: int, page_size: int, now: datetime | None = None
) -> tuple[list[dict[str, Any]], int]:
    now = now or datetime.now(UTC)
    stmts = await list_statements(session, user, f, page=page, page_size=page_size, now=now)
    if stmts is None:
        return [], 0
    count, page_rows = stmts
    total = (await session.execute(count)).scalar_one()
    rows = list((await session.execute(page_rows)).scalars().all())
    return await summaries(session, rows, now), total


async def summaries(session: AsyncSession, rows: list[Transfer], now: datetime) -> list[dict[str, Any]]:
    if not rows:
        return []
    member_ids = {t.member_id for t in rows}
    members = {m.id: m for m in (await session.execute(select(Member).where(col(Member.id).in_(member_ids)))).scalars()}
    steps = (
        (
            await session.execute(
                select(ApprovalStep).where(
                    col(ApprovalStep.transfer_id).in_([t.id for t in rows]), col(ApprovalStep.status) == "pending"
                )
            )
        )
        .scalars()
        .all()
    )
    pending = {s.transfer_id: s for s in steps}
    org_ids = {t.from_org_id for t in rows} | {t.target_org_id for t in rows} | {s.org_id for s in steps}
    codes = await _codes(session, org_ids)
    out = []
    for t in rows:
        m = members[t.member_id]
        s = pending.get(row_id(t.id))
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
                    "overdue": s.remind_at is not None and s.remind_at <= now,
                    "days_waiting": days_waiting(s.started_at, now) if s.started_at else 0,
                },
                "created_at": t.created_at,
                "updated_at": t.updated_at,
            }
        )
    return out


async def _codes(session: AsyncSession, org_ids: set[int]) -> dict[int, str]:
    rows = await session.execute(select(col(Org.id), col(Org.code)).where(col(Org.id).in_(org_ids)))
    return {org_id: code for org_id, code in rows.all() if org_id is not None}


async def get_visible_transfer(session: AsyncSession, user: User, transfer_id: int) -> Transfer | None:
    return (
        await session.execute(select(Transfer).where(col(Transfer.id) == transfer_id, visible(user)))
    ).scalar_one_or_none()


async def transfer_detail(session: AsyncSession, user: User, t: Transfer) -> dict[str, Any]:
    member = await session.get_one(Member, t.member_id)
    steps = (
        (
            await session.execute(
                select(ApprovalStep)
                .where(col(ApprovalStep.transfer_id) == t.id)
                .order_by(col(ApprovalStep.round), col(ApprovalStep.seq))
            )
        )
        .scalars()
        .all()
    )
    latest = max((s.round for s in steps), default=1)
    steps = [s for s in steps if s.round == latest]
    org_ids = {t.from_org_id, t.target_org_id, *(s.org_id for s in steps)} | ({t.branch_id} if t.branch_id else set())
    orgs = {o.id: o for o in (await session.execute(select(Org).where(col(Org.id).in_(org_ids)))).scalars()}
    history = (
        (
            await session.execute(
                select(AuditLog)
                .where(col(AuditLog.entity) == "transfer", col(AuditLog.entity_id) == str(t.id))
                .order_by(col(AuditLog.id))
            )
        )
        .scalars()
        .all()
    )
    whole = await may_see_whole_id(session, user, row_id(member.id), member.branch_id)
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
        stmt = stmt.where(or_(col(Org.name).ilike(like), col(Org.code).ilike(like)))  # case-insensitive on both engines
    if partition == Partition.NATIONAL.value:
        stmt = stmt.where(col(Org.partition).not_in(SPECIAL_PARTITIONS))
    elif partition:
        stmt = stmt.where(col(Org.partition) == partition)
    if kind:
        stmt = stmt.where(col(Org.kind) == kind)
    rows = (await session.execute(stmt.order_by(col(Org.code)).limit(limit))).scalars().all()
    parents = await _codes(session, {o.parent_id for o in rows if o.parent_id})
    return [
        {
            "code": o.code,
            "name": o.name,
            "kind": o.kind,
            "partition": o.partition,
            "branch_level": o.branch_level,
            "parent_code": parents.get(o.parent_id) if o.parent_id else None,
        }
        for o in rows
    ]


# --- for the API and the UI: one read each, on its own session ------------------------------------


async def transfer_page(
    engine: AsyncEngine, user: User, f: TransferFilter, *, page: int, page_size: int
) -> tuple[list[dict[str, Any]], int]:
    """One page of the transfers this user may see, and how many there are in all."""
    async with session_factory(engine)() as session:
        return await list_transfers(session, user, f, page=page, page_size=page_size)


async def visible_detail(engine: AsyncEngine, user: User, transfer_id: int) -> dict[str, Any] | None:
    """The transfer as the detail page shows it, or None when it is not this user's to see."""
    async with session_factory(engine)() as session:
        t = await get_visible_transfer(session, user, transfer_id)
        return None if t is None else await transfer_detail(session, user, t)


async def find_orgs(
    engine: AsyncEngine, *, q: str | None, partition: str | None, kind: str | None, limit: int = 50
) -> list[dict[str, Any]]:
    """Orgs whose name or code contains `q`, in a partition (`national`: outside the special
    three) and of a kind: the org pickers' choices."""
    async with session_factory(engine)() as session:
        return await search_orgs(session, q=q, partition=partition, kind=kind, limit=limit)
