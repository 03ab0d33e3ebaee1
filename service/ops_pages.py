"""操作中心, the UI's lists of transfers for an org's admin: 待我审批, 被退回, 待分配团支部, 全部可见,
with their counts (and the abroad-study applications waiting for the school), the returns
waiting for a correction, and 全选符合条件的. 待我审批 reads the orgs the admin handles
(`permissions.acting_ids`: a branch's node waits for its nearest ancestor with an admin account),
or every org below theirs (`subtree`), with the org each request waits at.

Every list is limited to what the viewer may see (`service.permissions.visible`), as in the API.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import col

from domain.holdings import RetentionStatus
from domain.transfers import TransferStatus
from models import ApprovalStep, Member, Org, Transfer, User, row_id
from models.db import session_factory
from models.tables import AbroadRetention
from service import queries
from service.errors import refuse
from service.pages import OrgAdmin, ReturnedInfo, item_codes, returned_info, session_org_names
from service.permissions import acting_ids, admin_of, subtree_ids, visible

#: The lists of 操作中心: 待我审批, 被退回 (what the org started, returned to it), 待分配团支部, 全部可见.
OPS_SCOPES = ("pending", "returned", "assign", "all")


@dataclass(frozen=True)
class NodeOrgCount:
    """An org of the inbox's scope with requests waiting at it (the 组织 filter's choices)."""

    code: str
    name: str
    count: int


@dataclass(frozen=True)
class OpsPage:
    items: list[dict[str, Any]]
    total: int
    overdue_count: int  # waiting at the orgs of the inbox's scope past the reminder
    assign_count: int  # approved, waiting for the admin's org (or one it handles) to assign a branch
    names: dict[str, str]
    returned_count: int = 0  # started by the admin's org, returned, waiting for a correction
    returned: dict[int, ReturnedInfo] = field(default_factory=dict)  # of the items returned
    pending_count: int = 0  # waiting for a decision at the orgs of the inbox's scope
    retention_count: int = 0  # abroad-study retention applications waiting for the school's decision
    node_orgs: list[NodeOrgCount] = field(default_factory=list)  # where requests wait, in the scope


def ops_filter(
    admin: OrgAdmin,
    scope: str,
    *,
    type: str | None,
    status: str | None,
    overdue: bool | None,
    subtree: bool = False,
    org: str | None = None,
) -> queries.TransferFilter:
    """The filter of one of 操作中心's lists (`OPS_SCOPES`). 待我审批 and 待分配团支部 read the orgs the
    admin handles (their org and those below it without an admin account of their own), or with
    `subtree` every org below; `org` narrows them to one org of that scope (checked by `ops_page`)."""
    own = admin.org.code
    f = queries.TransferFilter(type=type, status=status, overdue=overdue, subtree=subtree)
    if scope == "pending":
        f.node_org = org or own
    elif scope == "returned":
        f.initiator_org, f.status = own, TransferStatus.RETURNED.value
    elif scope == "assign":
        f.assign_org = org or own
    return f


async def _org_in_scope(session: AsyncSession, admin: OrgAdmin, org: str | None) -> None:
    """`org` (the 组织 filter) must be the admin's org or one below it."""
    if not org:
        return
    found = (await session.execute(select(col(Org.id)).where(col(Org.code) == org))).scalar_one_or_none()
    if found is None:
        raise refuse(404, "org", f"组织 {org} 不存在")
    if not await admin_of(session, admin.user, found):
        raise refuse(403, "org", f"无权查看{org}的待办")


async def _node_orgs(session: AsyncSession, org_id: int, subtree: bool, limit: int = 200) -> list[NodeOrgCount]:
    """The orgs of the scope where requests wait for a decision, the busiest first."""
    scope = subtree_ids(org_id) if subtree else acting_ids(org_id)
    n = func.count()
    rows = await session.execute(
        select(col(Org.code), col(Org.name), n)
        .join(ApprovalStep, col(ApprovalStep.org_id) == Org.id)
        .where(col(ApprovalStep.status) == "pending", col(ApprovalStep.org_id).in_(scope))
        .group_by(col(Org.code), col(Org.name))
        .order_by(n.desc(), col(Org.code))
        .limit(limit)
    )
    return [NodeOrgCount(code, name, count) for code, name, count in rows.all()]


async def _retentions_waiting(session: AsyncSession, org_id: int, subtree: bool) -> int:
    """Pending abroad-study retention applications of the schools in the scope."""
    scope = subtree_ids(org_id) if subtree else acting_ids(org_id)
    return (
        await session.execute(
            select(func.count(col(AbroadRetention.id))).where(
                col(AbroadRetention.status) == RetentionStatus.PENDING.value,
                col(AbroadRetention.school_id).in_(scope),
            )
        )
    ).scalar_one()


async def _count(session: AsyncSession, user: User, f: queries.TransferFilter) -> int:
    _, total = await queries.list_transfers(session, user, f, page=1, page_size=1)
    return total


async def _returned(
    session: AsyncSession, transfer_ids: list[int], *, now: datetime, time_scale: float
) -> dict[int, ReturnedInfo]:
    """The latest return of each of these transfers."""
    if not transfer_ids:
        return {}
    rows = await session.execute(
        select(ApprovalStep, col(Org.name))
        .join(Org, col(Org.id) == ApprovalStep.org_id)
        .where(col(ApprovalStep.transfer_id).in_(transfer_ids), col(ApprovalStep.status) == "returned")
        .order_by(col(ApprovalStep.round))
    )
    return {
        step.transfer_id: returned_info(
            name, step.decided_by, step.decided_at, step.reason_code, step.comment, now=now, time_scale=time_scale
        )
        for step, name in rows.all()
    }


async def ops_page(
    engine: AsyncEngine,
    admin: OrgAdmin,
    scope: str,
    *,
    type: str | None,
    status: str | None,
    overdue: bool | None,
    page: int,
    page_size: int,
    time_scale: float = 1.0,
    subtree: bool = False,
    org: str | None = None,
) -> OpsPage:
    """A page of one of 操作中心's lists and what waits for the admin: the counts follow the inbox's
    scope (the orgs the admin handles, or with `subtree` every org below theirs), whatever `org`
    narrows the list to."""
    user = admin.user
    f = ops_filter(admin, scope, type=type, status=status, overdue=overdue, subtree=subtree, org=org)
    now = datetime.now(UTC)

    def whole(which: str, overdue: bool | None = None) -> queries.TransferFilter:
        return ops_filter(admin, which, type=None, status=None, overdue=overdue, subtree=subtree)

    async with session_factory(engine)() as session:
        await _org_in_scope(session, admin, org)
        items, total = await queries.list_transfers(session, user, f, page=page, page_size=page_size, now=now)
        overdue_count = await _count(session, user, whole("pending", overdue=True))
        pending_count = await _count(session, user, whole("pending"))
        assign_count = await _count(session, user, whole("assign"))
        returned_count = await _count(session, user, whole("returned"))
        own_id = row_id(admin.org.id)
        retention_count = await _retentions_waiting(session, own_id, subtree)
        node_orgs = await _node_orgs(session, own_id, subtree)
        names = await session_org_names(session, item_codes(items))
        returned = await _returned(
            session,
            [i["id"] for i in items if i["status"] == TransferStatus.RETURNED.value],
            now=now,
            time_scale=time_scale,
        )
    return OpsPage(
        items,
        total,
        overdue_count,
        assign_count,
        names,
        returned_count,
        returned,
        pending_count=pending_count,
        retention_count=retention_count,
        node_orgs=node_orgs,
    )


async def ops_ids(
    engine: AsyncEngine,
    admin: OrgAdmin,
    scope: str,
    *,
    type: str | None,
    status: str | None,
    overdue: bool | None,
    limit: int = queries.MAX_MATCHING_IDS,
    subtree: bool = False,
    org: str | None = None,
) -> list[int]:
    """Every id of one of 操作中心's lists (全选符合条件的), newest first, at most `limit`."""
    f = ops_filter(admin, scope, type=type, status=status, overdue=overdue, subtree=subtree, org=org)
    async with session_factory(engine)() as session:
        await _org_in_scope(session, admin, org)
        return await queries.matching_ids(session, admin.user, f, limit=limit)


async def member_names(engine: AsyncEngine, user: User, transfer_ids: list[int]) -> dict[int, str]:
    """Transfer id → its member's name, for the transfers this user may see."""
    async with session_factory(engine)() as session:
        rows = await session.execute(
            select(col(Transfer.id), col(Member.name))
            .join(Member, col(Member.id) == Transfer.member_id)
            .where(col(Transfer.id).in_(transfer_ids), visible(user))
        )
        return {tid: name for tid, name in rows.all() if tid is not None}
