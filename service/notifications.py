"""The message centre: the notices an account may read and which of them it has read.

Which notices an account's message centre holds is `permissions.notice_visible`: an org admin
those addressed to the orgs they handle (their org, and the orgs below it without an admin
account of their own: a branch's notices reach the nearest committee that acts for it), a member
their own. The workflows' activities write the notices; the read marks are kept here, per account
(`notification_reads`), so one admin reading a notice addressed to their org leaves it unread for
the org's other admins.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Insert, and_, exists, func, literal, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from models import Notification, NotificationRead, Org, User, row_id, table_of, utcnow
from models.db import reader, session_factory, session_scope
from service.errors import refuse
from service.permissions import notice_visible

#: The unread count a page's badge shows at most (then 99+): the count stops there, so a page
#: render never counts more than this many notices.
BADGE_CAP = 100


@dataclass(frozen=True)
class NoticePage:
    items: list[dict[str, Any]]  # newest first
    total: int  # of the list (all, or the unread ones)
    unread: int  # of every notice the account may read


def notice_text(title: str, body: str) -> str:
    """What a notice says in one line."""
    return f"{title}：{body}" if body else title


def _is_unread(user_id: int) -> ColumnElement[bool]:
    return ~(
        exists()
        .where(col(NotificationRead.user_id) == user_id, col(NotificationRead.notification_id) == Notification.id)
        .correlate_except(NotificationRead)
    )


def _unread_statement(user: User) -> Any:
    return select(func.count()).select_from(Notification).where(notice_visible(user), _is_unread(row_id(user.id)))


async def unread_count(engine: AsyncEngine, user: User) -> int:
    """How many notices this account may read and has not read."""
    async with reader(engine).connect() as conn:
        return int((await conn.execute(_unread_statement(user))).scalar_one())


async def unread_badge(engine: AsyncEngine, user: User) -> int:
    """The unread count of the page's 消息 badge, at most `BADGE_CAP`: one indexed query (the
    notices of the orgs the account handles, or the member's, each looked up in the account's
    read marks by primary key)."""
    ids = (
        select(col(Notification.id))
        .where(notice_visible(user), _is_unread(row_id(user.id)))
        .limit(BADGE_CAP)
        .subquery()
    )
    async with reader(engine).connect() as conn:
        return int((await conn.execute(select(func.count()).select_from(ids))).scalar_one())


async def notice_page(
    engine: AsyncEngine, user: User, *, unread_only: bool = False, page: int = 1, page_size: int = 20
) -> NoticePage:
    """A page of the notices this account may read, newest first (`unread_only`: those it has not
    read), each with the account's own read time."""
    uid = row_id(user.id)
    where = [notice_visible(user)]
    if unread_only:
        where.append(_is_unread(uid))
    async with session_factory(engine)() as session:
        total = (await session.execute(select(func.count()).select_from(Notification).where(*where))).scalar_one()
        rows = await session.execute(
            select(Notification, col(NotificationRead.read_at), col(Org.code), col(Org.name))
            .outerjoin(
                NotificationRead,
                and_(col(NotificationRead.notification_id) == Notification.id, col(NotificationRead.user_id) == uid),
            )
            .outerjoin(Org, col(Org.id) == Notification.recipient_org_id)
            .where(*where)
            .order_by(col(Notification.created_at).desc(), col(Notification.id).desc())
            .offset((page - 1) * page_size)
            .limit(page_size)
        )
        items = [
            {
                "id": n.id,
                "kind": n.kind,
                "title": n.title,
                "body": n.body,
                "text": notice_text(n.title, n.body),
                "transfer_id": n.transfer_id,
                "org_code": code,
                "org_name": name,
                "created_at": n.created_at,
                "read_at": read_at,
            }
            for n, read_at, code, name in rows.all()
        ]
        unread = total if unread_only else (await session.execute(_unread_statement(user))).scalar_one()
    return NoticePage(items, total, unread)


def _insert_reads(engine: AsyncEngine) -> Insert:
    """`INSERT … ON CONFLICT DO NOTHING` into notification_reads, in the engine's dialect: a read
    mark is written once per account and notice, whoever clicks twice."""
    dialect_insert = postgresql.insert if engine.dialect.name == "postgresql" else sqlite.insert
    stmt: Insert = dialect_insert(table_of(NotificationRead)).on_conflict_do_nothing(
        index_elements=["user_id", "notification_id"]
    )
    return stmt


async def mark_read(engine: AsyncEngine, user: User, notification_id: int, *, now: datetime | None = None) -> int:
    """Mark one notice read for this account (1 when it was unread, 0 when already read); 404 for
    a notice it may not read."""
    uid = row_id(user.id)
    async with session_scope(engine) as session:
        found = (
            await session.execute(
                select(col(Notification.id)).where(col(Notification.id) == notification_id, notice_visible(user))
            )
        ).first()
        if found is None:
            raise refuse(404, "id", f"消息 {notification_id} 不存在")
        done = await session.execute(
            _insert_reads(engine)
            .values(user_id=uid, notification_id=notification_id, read_at=now or utcnow())
            .returning(col(NotificationRead.notification_id))
        )
        return len(done.all())


async def mark_all_read(engine: AsyncEngine, user: User, *, now: datetime | None = None) -> int:
    """Mark every notice this account may read as read (全部已读); how many were unread."""
    uid = row_id(user.id)
    at = now or utcnow()
    reads = table_of(NotificationRead)
    unread = select(literal(uid, reads.c.user_id.type), col(Notification.id), literal(at, reads.c.read_at.type)).where(
        notice_visible(user), _is_unread(uid)
    )
    async with session_scope(engine) as session:
        done = await session.execute(
            _insert_reads(engine)
            .from_select(["user_id", "notification_id", "read_at"], unread)
            .returning(col(NotificationRead.notification_id))
        )
        return len(done.all())  # the rows written (a row's rowcount is not reported on every driver)
