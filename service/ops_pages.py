"""操作中心, the UI's lists of transfers for an org's admin: 待我审批, 被退回, 待分配团支部, 全部可见,
with their counts, the returns waiting for a correction, and 全选符合条件的.

Every list is limited to what the viewer may see (`service.permissions.visible`), as in the API.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import col

from domain.transfers import TransferStatus
from models import ApprovalStep, Member, Org, Transfer, User
from models.db import session_factory
from service import queries
from service.pages import OrgAdmin, ReturnedInfo, item_codes, returned_info, session_org_names
from service.permissions import visible

#: The lists of 操作中心: 待我审批, 被退回 (what the org started, returned to it), 待分配团支部, 全部可见.
OPS_SCOPES = ("pending", "returned", "assign", "all")


@dataclass(frozen=True)
class OpsPage:
    items: list[dict[str, Any]]
    total: int
    overdue_count: int  # waiting at the admin's org past the reminder
    assign_count: int  # approved, waiting for the admin's org to assign a branch
    names: dict[str, str]
    returned_count: int = 0  # started by the admin's org, returned, waiting for a correction
    returned: dict[int, ReturnedInfo] = field(default_factory=dict)  # of the items returned


def ops_filter(
    admin: OrgAdmin, scope: str, *, type: str | None, status: str | None, overdue: bool | None
) -> queries.TransferFilter:
    """The filter of one of 操作中心's lists (`OPS_SCOPES`)."""
    own = admin.org.code
    f = queries.TransferFilter(type=type, status=status, overdue=overdue)
    if scope == "pending":
        f.node_org = own
    elif scope == "returned":
        f.initiator_org, f.status = own, TransferStatus.RETURNED.value
    elif scope == "assign":
        f.to_org, f.status = own, TransferStatus.AWAITING_ASSIGNMENT.value
    return f


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
) -> OpsPage:
    own, user = admin.org.code, admin.user
    f = ops_filter(admin, scope, type=type, status=status, overdue=overdue)
    awaiting = TransferStatus.AWAITING_ASSIGNMENT.value
    now = datetime.now(UTC)
    async with session_factory(engine)() as session:
        items, total = await queries.list_transfers(session, user, f, page=page, page_size=page_size, now=now)
        _, overdue_count = await queries.list_transfers(
            session, user, queries.TransferFilter(node_org=own, overdue=True), page=1, page_size=1
        )
        _, assign_count = await queries.list_transfers(
            session, user, queries.TransferFilter(to_org=own, status=awaiting), page=1, page_size=1
        )
        _, returned_count = await queries.list_transfers(
            session, user, ops_filter(admin, "returned", type=None, status=None, overdue=None), page=1, page_size=1
        )
        names = await session_org_names(session, item_codes(items))
        returned = await _returned(
            session,
            [i["id"] for i in items if i["status"] == TransferStatus.RETURNED.value],
            now=now,
            time_scale=time_scale,
        )
    return OpsPage(items, total, overdue_count, assign_count, names, returned_count, returned)


async def ops_ids(
    engine: AsyncEngine,
    admin: OrgAdmin,
    scope: str,
    *,
    type: str | None,
    status: str | None,
    overdue: bool | None,
    limit: int = queries.MAX_MATCHING_IDS,
) -> list[int]:
    """Every id of one of 操作中心's lists (全选符合条件的), newest first, at most `limit`."""
    f = ops_filter(admin, scope, type=type, status=status, overdue=overdue)
    async with session_factory(engine)() as session:
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
