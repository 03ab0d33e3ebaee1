"""What the UI's pages show, read in one place: who is looking (`Viewer`), the 操作中心 lists, a
transfer's page with the decisions this viewer may send (`service.permissions.abilities`, the
answer the decisions check), 个人中心, and the org and people names beside codes.

Every list is limited to what the viewer may see (`service.permissions.visible`), as in the API.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import col

from domain.policy import policy_for
from domain.roles import Role
from domain.transfers import Channel, TransferStatus
from models import ApprovalStep, Member, Org, Transfer, User, row_id
from models.db import session_factory
from service import auth, queries
from service.permissions import (
    Abilities,
    TransferFacts,
    abilities,
    directory_for,
    is_org_admin,
    may_use_web,
    subtree_ids,
    visible,
)

# --- who is looking ----------------------------------------------------------------------------


@dataclass(frozen=True)
class OrgAdmin:
    user: User
    org: Org


@dataclass(frozen=True)
class MemberSelf:
    user: User
    member: Member


@dataclass(frozen=True)
class Viewer:
    """A web login: an org's admin (with their org) or a member (with their member row)."""

    user: User
    org: Org | None = None
    member: Member | None = None

    def as_org_admin(self) -> OrgAdmin | None:
        return OrgAdmin(self.user, self.org) if is_org_admin(self.user) and self.org is not None else None

    def as_member(self) -> MemberSelf | None:
        return MemberSelf(self.user, self.member) if self.user.role == Role.MEMBER and self.member is not None else None


async def viewer(engine: AsyncEngine, user_id: int) -> Viewer | None:
    """The active web login with this id (None for a service account, or no such login)."""
    user = await auth.load_user(engine, user_id)
    if user is None or not may_use_web(user):
        return None
    async with session_factory(engine)() as session:
        org = await session.get(Org, user.org_id) if user.org_id else None
        member = await session.get(Member, user.member_id) if user.member_id else None
    return Viewer(user, org, member)


async def _org_names(session: AsyncSession, codes: Iterable[str | None]) -> dict[str, str]:
    wanted = {c for c in codes if c}
    if not wanted:
        return {}
    rows = await session.execute(select(col(Org.code), col(Org.name)).where(col(Org.code).in_(wanted)))
    return {code: name for code, name in rows.all()}


async def org_names(engine: AsyncEngine, codes: Iterable[str | None]) -> dict[str, str]:
    """Org code → name, for the codes given (empty ones skipped)."""
    async with session_factory(engine)() as session:
        return await _org_names(session, codes)


def _item_codes(items: list[dict[str, Any]], *, node: bool = True) -> set[str | None]:
    return {
        c
        for i in items
        for c in (i["from_org_code"], i["target_org_code"], (i["current_node"] or {}).get("org_code") if node else None)
    }


# --- 操作中心 ----------------------------------------------------------------------------------


#: The lists of 操作中心: 待我审批, 被退回 (what the org started, returned to it), 待分配团支部, 全部可见.
OPS_SCOPES = ("pending", "returned", "assign", "all")


def days_left(due_at: datetime, now: datetime, *, time_scale: float = 1.0) -> int:
    """Whole days from `now` until `due_at`, rounded up (还剩N天), 0 once it is due; a day is the
    policy's day (`ZHTJ_TIME_SCALE` times shorter than a real one)."""
    left = (due_at - now) * time_scale
    return math.ceil(left / timedelta(days=1)) if left > timedelta(0) else 0


@dataclass(frozen=True)
class ReturnedInfo:
    """Why and by whom a returned request was returned, and how long it waits for a correction."""

    org_name: str  # the node that returned it
    by: str | None  # username
    at: datetime | None
    reason_code: str | None
    reason_text: str | None
    expires_at: datetime | None  # `returned_expiry` after the return: the workflow then closes it
    days_left: int


def returned_info(
    org_name: str,
    by: str | None,
    at: datetime | None,
    reason_code: str | None,
    reason_text: str | None,
    *,
    now: datetime,
    time_scale: float,
) -> ReturnedInfo:
    expires = at + policy_for(time_scale).returned_expiry if at is not None else None
    left = days_left(expires, now, time_scale=time_scale) if expires is not None else 0
    return ReturnedInfo(org_name, by, at, reason_code, reason_text, expires, left)


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
        names = await _org_names(session, _item_codes(items))
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


# --- a transfer --------------------------------------------------------------------------------


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
        names = await _org_names(session, [d["from_org_code"], d["target_org_code"], d["branch_code"]])
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


# --- 个人中心 ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class MemberPage:
    member: Member
    branch: Org
    school: Org | None
    items: list[dict[str, Any]] = field(default_factory=list)  # their transfers, newest first
    names: dict[str, str] = field(default_factory=dict)

    @property
    def has_open(self) -> bool:
        return any(TransferStatus(i["status"]).is_open for i in self.items)

    @property
    def returned_count(self) -> int:
        """Their own requests (个人发起) returned and waiting for their correction (个人中心's 被退回)."""
        return sum(
            i["status"] == TransferStatus.RETURNED.value and i["channel"] == Channel.SELF.value for i in self.items
        )


async def member_page(engine: AsyncEngine, me: MemberSelf) -> MemberPage:
    member = me.member
    async with session_factory(engine)() as session:
        branch = await session.get_one(Org, member.branch_id)
        school = await session.get(Org, member.school_id) if member.school_id else None
        items, _ = await queries.list_transfers(session, me.user, queries.TransferFilter(), page=1, page_size=50)
        names = await _org_names(session, _item_codes(items, node=False))
    return MemberPage(member, branch, school, items, names)


# --- the home page -----------------------------------------------------------------------------


async def home_counts(engine: AsyncEngine) -> dict[str, int]:
    """How many orgs, members and transfers the database holds."""
    async with session_factory(engine)() as session:
        return {
            name: (await session.execute(select(func.count()).select_from(table))).scalar_one()
            for name, table in (("orgs", Org), ("members", Member), ("transfers", Transfer))
        }
