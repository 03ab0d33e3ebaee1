"""What the UI's pages show, read in one place: who is looking (`Viewer`), the org and people
names beside codes, the clocks the lists and a transfer's page share (还剩N天, a return's expiry),
个人中心 and the home page's counts. 操作中心: `service.ops_pages`; a transfer's page:
`service.transfer_pages`.

Every list is limited to what the viewer may see (`service.permissions.visible`), as in the API.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import col

from domain.policy import policy_for
from domain.roles import Role
from domain.transfers import Channel, TransferStatus
from models import Member, Org, Transfer, User
from models.db import session_factory
from service import auth, queries
from service.permissions import is_org_admin, may_use_web

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


async def session_org_names(session: AsyncSession, codes: Iterable[str | None]) -> dict[str, str]:
    wanted = {c for c in codes if c}
    if not wanted:
        return {}
    rows = await session.execute(select(col(Org.code), col(Org.name)).where(col(Org.code).in_(wanted)))
    return {code: name for code, name in rows.all()}


async def org_names(engine: AsyncEngine, codes: Iterable[str | None]) -> dict[str, str]:
    """Org code → name, for the codes given (empty ones skipped)."""
    async with session_factory(engine)() as session:
        return await session_org_names(session, codes)


def item_codes(items: list[dict[str, Any]], *, node: bool = True) -> set[str | None]:
    return {
        c
        for i in items
        for c in (i["from_org_code"], i["target_org_code"], (i["current_node"] or {}).get("org_code") if node else None)
    }


# --- clocks the lists and a transfer's page share ---------------------------------------------


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
        names = await session_org_names(session, item_codes(items, node=False))
    return MemberPage(member, branch, school, items, names)


# --- the home page -----------------------------------------------------------------------------


async def home_counts(engine: AsyncEngine) -> dict[str, int]:
    """How many orgs, members and transfers the database holds."""
    async with session_factory(engine)() as session:
        return {
            name: (await session.execute(select(func.count()).select_from(table))).scalar_one()
            for name, table in (("orgs", Org), ("members", Member), ("transfers", Transfer))
        }
