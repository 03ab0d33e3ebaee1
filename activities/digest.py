"""The digest activity: each admin's daily digest (`domain.digest`), written once per calendar day.

One transaction reads what is pending (the transfers' current nodes and the abroad-study retention
applications), the orgs above those nodes and their active admins, and inserts one `notifications`
row per admin with something to say (kind `digest`, addressed to the admin's login). The row's
unique key `digest/<user id>/<date>` is the digest's claim: a retried attempt, a second run of the
same day or a concurrent attempt inserts nothing for an admin whose digest is there
(`ON CONFLICT DO NOTHING`), and writes those it lacks.

Instants (a node's start and deadline, the run's time) become dates on the one calendar
(`core.clock`): under a rehearsal, rehearsed dates.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine
from sqlmodel import col
from temporalio import activity

from activities.delivery import Outbox
from core.clock import Calendar, calendar
from core.logging import get_logger
from domain.digest import DIGEST_KIND, Digest, NodeKind, PendingNode, digest_key, digests_by_admin, render
from domain.holdings import RetentionStatus
from domain.roles import Role
from domain.transfers import NodeStatus, TransferStatus
from messages.digest import WRITE_DIGESTS_ACTIVITY, DigestRequest, DigestResult
from models.db import transaction
from models.tables import (
    AbroadRetention,
    ApprovalStep,
    DeliveryOutbox,
    Member,
    Notification,
    Org,
    Transfer,
    User,
    table_of,
    utcnow,
)

log = get_logger(__name__)

#: Rows per insert statement (PostgreSQL takes at most 32767 parameters in one).
INSERT_CHUNK = 500


class DigestActivities:
    def __init__(self, engine: AsyncEngine, cal: Calendar | None = None) -> None:
        self.engine = engine
        self._calendar = cal  # None: the process's calendar (its settings), read at each run
        self._outbox = Outbox()  # a digest is mailed too when SMTP is configured

    @property
    def calendar(self) -> Calendar:
        return self._calendar or calendar()

    @activity.defn(name=WRITE_DIGESTS_ACTIVITY)
    async def write_digests(self, req: DigestRequest) -> DigestResult:
        cal = self.calendar
        day = req.day or cal.today(req.at)
        async with transaction(self.engine) as conn:
            rows = await digest_rows(conn, cal, day)
            written = await self.write_rows(conn, rows)
        result = DigestResult(day=day, admins=len(rows), written=written, existing=len(rows) - written)
        log.info("digests written", day=day.isoformat(), admins=result.admins, written=written)
        return result

    async def write_rows(self, conn: AsyncConnection, rows: Sequence[dict[str, Any]]) -> int:
        """Insert the digests not yet written; returns how many this call inserted."""
        insert = postgresql.insert if conn.dialect.name == "postgresql" else sqlite.insert
        written = 0
        for i in range(0, len(rows), INSERT_CHUNK):
            stmt = (
                insert(table_of(Notification))
                .values(list(rows[i : i + INSERT_CHUNK]))
                .on_conflict_do_nothing(index_elements=["key"])
                .returning(table_of(Notification).c.key)
            )
            keys = [k for (k,) in (await conn.execute(stmt)).all()]
            written += len(keys)
            outbox: list[dict[str, Any]] = []
            for key in keys:  # only the digests this call wrote: their mail, in the same transaction
                event_key = key.rsplit("/", 1)[0]
                outbox += await self._outbox.rows(
                    conn,
                    event_key=event_key,
                    notifications=1,
                    entity="digest",
                    entity_id=int(event_key.split("/")[1]),
                    action="digest",
                    status="written",
                    at=utcnow(),
                )
            if outbox:
                await conn.execute(insert(table_of(DeliveryOutbox)).values(outbox))
        return written


async def digest_rows(conn: AsyncConnection, cal: Calendar, day: date) -> list[dict[str, Any]]:
    """The notification rows of the digests of `day`: one per admin with something to say."""
    nodes = await pending_nodes(conn, cal)
    parents = await org_parents(conn, {n.org_id for n in nodes})
    admins = await active_admins(conn, set(parents))
    return [digest_row(user_id, d) for user_id, d in digests_by_admin(admins, parents, nodes, day).items()]


def digest_row(user_id: int, d: Digest) -> dict[str, Any]:
    title, body = render(d)
    return {
        "key": digest_key(user_id, d.day),
        "kind": DIGEST_KIND,
        "recipient_org_id": None,  # one admin's: not every admin of the org reads it
        "recipient_user_id": user_id,
        "member_id": None,
        "transfer_id": None,
        "title": title,
        "body": body,
        "created_at": utcnow(),
        "read_at": None,
    }


def calendar_day(cal: Calendar, instant: datetime) -> date:
    """The calendar's day at a real instant. A fast rehearsal puts an instant long before its
    epoch (a row of an earlier rehearsal) before year 1: the first day there is, then."""
    try:
        return cal.today(instant)
    except OverflowError:
        return date.min if instant.timestamp() < cal.epoch else date.max


async def pending_nodes(conn: AsyncConnection, cal: Calendar) -> list[PendingNode]:
    """The nodes deciding now: each pending transfer's current node and each pending retention
    application, with their start and deadline as calendar dates."""
    steps = await conn.execute(
        select(
            col(Transfer.id),
            col(ApprovalStep.org_id),
            col(Org.name),
            col(Member.name),
            col(ApprovalStep.started_at),
            col(ApprovalStep.deadline),
        )
        .join(Transfer, col(Transfer.id) == col(ApprovalStep.transfer_id))
        .join(Member, col(Member.id) == col(Transfer.member_id))
        .join(Org, col(Org.id) == col(ApprovalStep.org_id))
        .where(
            col(ApprovalStep.status) == NodeStatus.PENDING.value,
            col(Transfer.status) == TransferStatus.PENDING.value,
            col(ApprovalStep.started_at).is_not(None),
            col(ApprovalStep.deadline).is_not(None),
        )
    )
    retentions = await conn.execute(
        select(
            col(AbroadRetention.id),
            col(AbroadRetention.school_id),
            col(Org.name),
            col(Member.name),
            col(AbroadRetention.submitted_at),
            col(AbroadRetention.deadline),
        )
        .join(Member, col(Member.id) == col(AbroadRetention.member_id))
        .join(Org, col(Org.id) == col(AbroadRetention.school_id))
        .where(col(AbroadRetention.status) == RetentionStatus.PENDING.value, col(AbroadRetention.deadline).is_not(None))
    )
    return [
        PendingNode(kind, ref, org_id, org_name, member_name, calendar_day(cal, started), calendar_day(cal, deadline))
        for kind, rows in ((NodeKind.TRANSFER, steps), (NodeKind.RETENTION, retentions))
        for ref, org_id, org_name, member_name, started, deadline in rows.all()
        if ref is not None and started is not None and deadline is not None  # (the query says so)
    ]


async def org_parents(conn: AsyncConnection, org_ids: set[int]) -> dict[int, int | None]:
    """These orgs and every org above them: id → parent id (a recursive CTE, SQLite and PostgreSQL)."""
    if not org_ids:
        return {}
    up = (
        select(col(Org.id), col(Org.parent_id)).where(col(Org.id).in_(sorted(org_ids))).cte("digest_up", recursive=True)
    )
    up = up.union(select(col(Org.id), col(Org.parent_id)).join(up, col(Org.id) == up.c.parent_id))
    return {org_id: parent_id for org_id, parent_id in (await conn.execute(select(up.c.id, up.c.parent_id))).all()}


async def active_admins(conn: AsyncConnection, org_ids: set[int]) -> dict[int, int]:
    """The active admin logins of these orgs: user id → org id."""
    if not org_ids:
        return {}
    rows = await conn.execute(
        select(col(User.id), col(User.org_id)).where(
            col(User.role) == Role.ADMIN.value,
            col(User.active).is_(True),
            col(User.org_id).in_(sorted(org_ids)),
        )
    )
    return {user_id: org_id for user_id, org_id in rows.all() if user_id is not None and org_id is not None}
