"""A transfer's page in the UI: the transfer as the API answers it, with the decisions this viewer
may send (`service.permissions.abilities`, the answer the decisions check), the pending node's
clock and the receiving org's choices."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import col

from domain.transfers import Channel, TransferStatus
from models import ApprovalStep, Org, Transfer, User, row_id
from models.db import session_factory
from service import queries
from service.pages import OrgAdmin, ReturnedInfo, days_left, returned_info, session_org_names
from service.permissions import Abilities, TransferFacts, abilities, directory_for, subtree_ids, visible


@dataclass(frozen=True)
class NodeClock:
    """The pending node's time: 还剩N天 until 系统默认通过, and whether its reminder has gone."""

    org_name: str
    deadline: datetime
    days_left: int
    reminded: bool  # past `remind_at` (10 days): 已超过10天未审批


@dataclass(frozen=True)
class TransferPage:
    detail: dict[str, Any]  # as the API answers it (`queries.transfer_detail`)
    can: Abilities
    branches: list[Org]  # the branches `can.assign` chooses from
    people: dict[str, str | None]  # username → display name, for the timeline
    names: dict[str, str]
    clock: NodeClock | None = None  # the pending node's
    returned: ReturnedInfo | None = None  # while it is returned
    target_partition: str | None = None  # the receiving org's partition (the resubmit form's answer)
    receiving: list[Org] = field(default_factory=list)  # 办理转入's choices, for its resubmit form

    @property
    def may_resubmit(self) -> bool:
        """修改后重新提交: the initiator (who may withdraw it) of a returned request."""
        return self.can.withdraw and self.detail["status"] == TransferStatus.RETURNED.value


def _clocks(d: dict[str, Any], *, now: datetime, time_scale: float) -> tuple[NodeClock | None, ReturnedInfo | None]:
    """The pending node's clock and the return of a returned request, from its latest round."""
    clock = returned = None
    for n in d["nodes"]:
        if n["status"] == "pending" and n["deadline"] is not None:
            late = n["reminded_at"] is not None or (n["remind_at"] is not None and n["remind_at"] <= now)
            clock = NodeClock(n["org_name"], n["deadline"], days_left(n["deadline"], now, time_scale=time_scale), late)
        elif n["status"] == "returned" and d["status"] == TransferStatus.RETURNED.value:
            returned = returned_info(
                n["org_name"],
                n["decided_by"],
                n["decided_at"],
                n["reason_code"],
                n["comment"],
                now=now,
                time_scale=time_scale,
            )
    return clock, returned


async def _facts(session: AsyncSession, t: Transfer, target_org_code: str) -> TransferFacts:
    step_org = (
        await session.execute(
            select(col(Org.code))
            .join(ApprovalStep, col(ApprovalStep.org_id) == Org.id)
            .where(col(ApprovalStep.transfer_id) == t.id, col(ApprovalStep.status) == "pending")
            .order_by(col(ApprovalStep.round).desc())
        )
    ).first()
    initiator_org = None
    if t.channel != Channel.SELF and t.initiated_by:
        initiator_org = (
            await session.execute(
                select(col(Org.code)).join(User, col(User.org_id) == Org.id).where(col(User.username) == t.initiated_by)
            )
        ).scalar_one_or_none()
    return TransferFacts(
        status=t.status,
        channel=t.channel,
        member_id=t.member_id,
        target_org_code=target_org_code,
        step_org_code=step_org[0] if step_org is not None else None,
        initiator_org_code=initiator_org,
    )


async def _branches(session: AsyncSession, org_id: int) -> list[Org]:
    """The branch-level orgs under the receiving org that can receive."""
    rows = await session.execute(
        select(Org)
        .where(col(Org.id).in_(subtree_ids(org_id)), col(Org.branch_level).is_(True), col(Org.can_receive).is_(True))
        .order_by(col(Org.code))
        .limit(500)
    )
    return list(rows.scalars().all())


async def transfer_page(
    engine: AsyncEngine, user: User, transfer_id: int, *, time_scale: float = 1.0
) -> TransferPage | None:
    """The transfer's page, or None when it is not this user's to see."""
    async with session_factory(engine)() as session:
        t = await queries.get_visible_transfer(session, user, transfer_id)
        if t is None:
            return None
        d = await queries.transfer_detail(session, user, t)
        facts = await _facts(session, t, d["target_org_code"])
        actors = {h["actor"] for h in d["history"]} | {n["decided_by"] for n in d["nodes"] if n["decided_by"]}
        rows = await session.execute(
            select(col(User.username), col(User.display_name)).where(col(User.username).in_(actors))
        )
        people: dict[str, str | None] = {u: n for u, n in rows.all()}
        names = await session_org_names(session, [d["from_org_code"], d["target_org_code"], d["branch_code"]])
        target_partition = (
            await session.execute(select(col(Org.partition)).where(col(Org.id) == t.target_org_id))
        ).scalar_one()
    people["system"] = "系统"
    # the directory is read outside the session (on SQLite a session holds the write lock)
    directory = await directory_for(
        engine, user, [facts.step_org_code, facts.target_org_code, facts.initiator_org_code]
    )
    can = abilities(directory, user, facts)
    branches: list[Org] = []
    if can.assign:
        async with session_factory(engine)() as session:
            branches = await _branches(session, t.target_org_id)
    clock, returned = _clocks(d, now=datetime.now(UTC), time_scale=time_scale)
    page = TransferPage(d, can, branches, people, names, clock, returned, target_partition)
    if page.may_resubmit and t.channel == Channel.IN and user.org_id is not None:
        async with session_factory(engine)() as session:
            page.receiving.extend(await _receiving(session, user.org_id))
    return page


async def transfer_kind(engine: AsyncEngine, user: User, transfer_id: int) -> tuple[str, str] | None:
    """The transfer's type and channel (what its forms hold), or None when it is not this user's to see."""
    async with session_factory(engine)() as session:
        row = (
            await session.execute(
                select(col(Transfer.type), col(Transfer.channel)).where(col(Transfer.id) == transfer_id, visible(user))
            )
        ).first()
    return (row[0], row[1]) if row is not None else None


async def sees_transfer(engine: AsyncEngine, user: User, transfer_id: int) -> bool:
    async with session_factory(engine)() as session:
        return await queries.get_visible_transfer(session, user, transfer_id) is not None


async def _receiving(session: AsyncSession, org_id: int) -> list[Org]:
    rows = await session.execute(
        select(Org)
        .where(col(Org.id).in_(subtree_ids(org_id)), col(Org.can_receive).is_(True))
        .order_by(col(Org.code))
        .limit(300)
    )
    return list(rows.scalars().all())


async def receiving_orgs(engine: AsyncEngine, admin: OrgAdmin) -> list[Org]:
    """办理转入's choices: the admin's own org and the orgs below it that can receive."""
    async with session_factory(engine)() as session:
        return await _receiving(session, row_id(admin.org.id))
