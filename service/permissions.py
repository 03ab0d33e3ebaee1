"""Who may see and who may do what: the one answer the API, the UI and the decisions share.

The rule: an org's admin acts for their org and every org below it; a member acts only for
themself; a service account starts and reads transfers through the API and decides nothing.
It is written twice over the same tree, for two uses:

- against the org directory (`covers`, `admin_refusal`, `initiator_refusal`): one transfer or one
  org at a time. A refusal is the `ServiceError` the decision raises (`admin_actor`,
  `initiator_actor`); the UI shows an action form when there is none (`abilities`);
- in SQL (`subtree_ids`, `visible`, `admin_of`): to filter lists in the database, and for the
  checks made inside a reader's session (on SQLite a session holds the write lock: the directory
  cache, which opens its own, must not be read inside one).

Who *handles* an org's work (`acting_ids`) is narrower than who may act for it: an org's admins
handle their org and every org below it that has no admin account of its own (a branch, a vacant
township), however deep, stopping at the orgs that have one. So a node at such an org waits in the
inbox and the message centre of its nearest ancestor with an admin account, which may decide it
(an admin acts for every org below theirs), while an admin further up sees it only when asking for
their whole subtree.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import ColumnElement, Select, and_, exists, or_, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Mapped, aliased
from sqlmodel import col

from domain.directory import Directory, OrgInfo
from domain.roles import Role
from domain.transfers import ActorKind, Channel, TransferStatus
from messages.transfers import Actor
from models import ApprovalStep, Notification, Org, Transfer, User
from models.directory import DIRECTORIES
from service.errors import ServiceError, refuse

#: The roles that log in to the web pages (a service account uses the API).
WEB_ROLES = frozenset({Role.ADMIN, Role.MEMBER})


def is_org_admin(user: User) -> bool:
    return user.role == Role.ADMIN and user.org_id is not None


def may_use_web(user: User) -> bool:
    return user.role in WEB_ROLES


def covers(directory: Directory, own_code: str, org: OrgInfo) -> bool:
    """Does the org `own_code` act for `org`: it is `org` or one above it."""
    return org.code == own_code or directory.is_ancestor(own_code, org)


async def directory_for(engine: AsyncEngine, user: User, codes: Iterable[str | None] = ()) -> Directory:
    """The directory holding the user's org and these orgs (the process's cached copy; read it
    outside any session)."""
    return await DIRECTORIES.get(
        engine, codes=[c for c in codes if c], ids=[user.org_id] if user.org_id is not None else []
    )


# --- acting for an org -------------------------------------------------------------------------


def _not_admin() -> ServiceError:
    return refuse(403, "user", "只有组织管理员可以办理")


def admin_refusal(directory: Directory, user: User, org_code: str) -> ServiceError | None:
    """Why this user may not act for `org_code` as its admin (None: they may)."""
    if not is_org_admin(user):
        return _not_admin()
    org = directory.get(org_code)
    if org is None:
        return refuse(404, "org", f"组织 {org_code} 不存在")
    own = directory.by_id(user.org_id)
    if own is None or not covers(directory, own.code, org):
        return refuse(403, "org", f"无权代表{org.name}办理")
    return None


def may_act_for(directory: Directory, user: User, org_code: str) -> bool:
    """An admin or service account of the org or of one above it (`GET /api/me?org=`): may start
    转出 for its members and, an admin, decide its nodes."""
    own = directory.by_id(user.org_id)
    org = directory.get(org_code)
    return (
        user.role in (Role.ADMIN, Role.SERVICE)
        and own is not None
        and org is not None
        and covers(directory, own.code, org)
    )


async def admin_actor(engine: AsyncEngine, user: User, org_code: str) -> Actor:
    """The actor for an admin acting for `org_code`: an admin of that org or of an ancestor."""
    if not is_org_admin(user):
        raise _not_admin()
    no = admin_refusal(await directory_for(engine, user, [org_code]), user, org_code)
    if no is not None:
        raise no
    return Actor(kind=ActorKind.ORG_ADMIN, username=user.username, org_code=org_code, display_name=user.display_name)


def member_refusal(user: User, member_id: int | None = None) -> ServiceError | None:
    """Why this user may not act as the member (`member_id`: that member in particular)."""
    if user.role != Role.MEMBER or user.member_id is None or (member_id is not None and user.member_id != member_id):
        return refuse(403, "user", "只有团员本人可以办理")
    return None


def member_actor(user: User) -> Actor:
    no = member_refusal(user)
    if no is not None:
        raise no
    return Actor(
        kind=ActorKind.MEMBER, username=user.username, member_id=user.member_id, display_name=user.display_name
    )


# --- acting on a transfer ----------------------------------------------------------------------


def initiator_refusal(
    directory: Directory, user: User, *, channel: str, member_id: int, initiator_org_code: str | None
) -> ServiceError | None:
    """Why this user may not act as the transfer's initiator (withdraw or resubmit it): a
    个人发起 is the member's own; any other, the initiating org's (or an org above it)."""
    if channel == Channel.SELF:
        if user.role != Role.MEMBER:
            return refuse(403, "user", "该申请由团员本人发起，只能由本人撤回或重新提交")
        return member_refusal(user, member_id)
    if user.role == Role.MEMBER:
        return refuse(403, "user", "该申请由组织发起，只能由发起组织撤回或重新提交")
    if initiator_org_code is None:
        return _not_admin()
    return admin_refusal(directory, user, initiator_org_code)


async def initiator_actor(
    engine: AsyncEngine, user: User, *, channel: str, member_id: int, initiator_org_code: str | None
) -> Actor:
    directory = await directory_for(engine, user, [initiator_org_code] if channel != Channel.SELF else [])
    no = initiator_refusal(directory, user, channel=channel, member_id=member_id, initiator_org_code=initiator_org_code)
    if no is not None:
        raise no
    if channel == Channel.SELF:
        return member_actor(user)
    return Actor(
        kind=ActorKind.ORG_ADMIN, username=user.username, org_code=initiator_org_code, display_name=user.display_name
    )


@dataclass(frozen=True)
class TransferFacts:
    """What acting on a transfer depends on."""

    status: str
    channel: str
    member_id: int
    target_org_code: str
    step_org_code: str | None  # the node pending now
    initiator_org_code: str | None  # the initiating org (None for 个人发起)


@dataclass(frozen=True)
class Abilities:
    """The decisions this user may send now (the decisions check again when they are sent)."""

    decide: bool = False  # approve or return the pending node
    assign: bool = False  # assign the receiving org's branch
    withdraw: bool = False


def abilities(directory: Directory, user: User, t: TransferFacts) -> Abilities:
    """`directory` must hold the user's org and the orgs of `t` (see `directory_for`)."""
    status = TransferStatus(t.status)
    return Abilities(
        decide=status == TransferStatus.PENDING
        and t.step_org_code is not None
        and admin_refusal(directory, user, t.step_org_code) is None,
        assign=status == TransferStatus.AWAITING_ASSIGNMENT
        and admin_refusal(directory, user, t.target_org_code) is None,
        withdraw=status.is_open
        and initiator_refusal(
            directory, user, channel=t.channel, member_id=t.member_id, initiator_org_code=t.initiator_org_code
        )
        is None,
    )


# --- seeing ------------------------------------------------------------------------------------


def subtree_ids(org_id: int, *, name: str | None = None) -> Select[int]:
    """Ids of an org and every org below it (a recursive CTE: SQLite and PostgreSQL alike). A
    statement reading two subtrees of the same org names one of them (CTE names are unique)."""
    sub = select(col(Org.id)).where(col(Org.id) == org_id).cte(name or f"subtree_{org_id}", recursive=True)
    sub = sub.union_all(select(col(Org.id)).where(col(Org.parent_id) == sub.c.id))
    return select(sub.c.id)


def has_admin_account(org_id: ColumnElement[int | None] | Mapped[int | None]) -> ColumnElement[bool]:
    """The org has an active admin account of its own."""
    return (
        exists()
        .where(col(User.org_id) == org_id, col(User.role) == Role.ADMIN.value, col(User.active).is_(True))
        .correlate_except(User)
    )


def acting_ids(org_id: int, *, name: str | None = None) -> Select[int]:
    """Ids of the orgs an admin of `org_id` handles: the org itself and every org below it reached
    without passing an org with an admin account of its own (the nearest ancestor with one acts
    for a branch or a vacant township). A recursive CTE, indexed on `orgs.parent_id` and
    `users.org_id`; SQLite and PostgreSQL alike."""
    name = name or f"acting_{org_id}"
    sub = select(col(Org.id)).where(col(Org.id) == org_id).cte(name, recursive=True)
    child = aliased(Org, name=f"{name}_child")  # its own name: a list may read `orgs` too
    sub = sub.union_all(
        select(col(child.id)).where(col(child.parent_id) == sub.c.id, ~has_admin_account(col(child.id)))
    )
    return select(sub.c.id)


def notice_visible(user: User) -> ColumnElement[bool]:
    """The condition on `Notification` for the notices this account's message centre holds: an
    org admin those addressed to the orgs they handle (`acting_ids`); a member their own; anyone
    those addressed to their account."""
    own = col(Notification.recipient_user_id) == user.id
    if user.role == Role.MEMBER and user.member_id is not None:
        return or_(col(Notification.member_id) == user.member_id, own)
    if is_org_admin(user):
        assert user.org_id is not None  # an org admin's
        return or_(col(Notification.recipient_org_id).in_(acting_ids(user.org_id)), own)
    return own


def visible(user: User) -> ColumnElement[bool]:
    """The condition on `Transfer` for what this user may read: a member their own; an org's
    admin or service account what comes from, goes to or waits at their org or one below it
    (a service account: not the nodes); anyone what they started."""
    if user.role == Role.MEMBER:
        return col(Transfer.member_id) == (user.member_id or -1)
    own = [col(Transfer.initiated_by) == user.username]
    if user.org_id is None:
        return or_(*own)
    ids = subtree_ids(user.org_id)
    conds = [col(Transfer.from_org_id).in_(ids), col(Transfer.target_org_id).in_(ids), *own]
    if user.role == Role.ADMIN:
        conds.append(
            exists().where(and_(col(ApprovalStep.transfer_id) == Transfer.id, col(ApprovalStep.org_id).in_(ids)))
        )
    return or_(*conds)


async def admin_of(session: AsyncSession, user: User, org_id: int) -> bool:
    """`admin_refusal(...) is None` in SQL, for an org by id: is the user an admin of it or of an
    org above it?"""
    if user.role != Role.ADMIN or user.org_id is None:
        return False
    found = await session.execute(
        select(col(Org.id)).where(col(Org.id) == org_id, col(Org.id).in_(subtree_ids(user.org_id)))
    )
    return found.first() is not None


async def may_see_whole_id(session: AsyncSession, user: User, member_id: int, branch_id: int) -> bool:
    """The whole 身份证号 is shown to the member and to admins of the member's own orgs."""
    if user.role == Role.MEMBER:
        return user.member_id == member_id
    return await admin_of(session, user, branch_id)
