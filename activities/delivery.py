"""Delivery channels, outside every transfer's execution: mail (SMTP) and webhooks.

Two halves:

- `Outbox`: in the transaction of an event that writes notifications (`activities/transfers.py`,
  `activities/stay_at_school.py`), one small row per channel that has work: `email` when the event
  wrote notifications and ZHTJ_SMTP_URL is set, `webhook` when a transfer's action is a webhook
  event and some webhook is registered (looked up at most once a second per process). Nothing
  else happens on the transfer's path: no recipient is resolved, nothing is sent.
- `DeliveryActivities.dispatch`: one slice (a minute) of a channel's dispatcher
  (`workflows/delivery.py`), heartbeating. It turns outbox rows into deliveries, one per
  recipient (a mail to an address, a POST to a webhook) with a stable id (the Message-ID, the
  delivery id), and deletes them in the same transaction; then it sends the deliveries that are
  due, several at once, and records each attempt: delivered, or tried again with backoff
  (ZHTJ_DELIVERY_RETRY_SECONDS doubling up to ZHTJ_DELIVERY_RETRY_MAX_SECONDS) until
  ZHTJ_DELIVERY_GIVE_UP_HOURS after it was queued, then failed.

A worker killed mid-slice leaves its deliveries pending (an attempt is recorded after it ended);
the dispatcher's next slice runs on another worker and sends them again with the same id, so each
is received at least once and once after the receiver drops repeats by that id.
"""

from __future__ import annotations

import asyncio
import json
import smtplib
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from sqlalchemy import delete, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlmodel import col
from temporalio import activity

from core.logging import get_logger
from core.mail import Mail, SmtpServer, send_mail
from core.settings import Settings, get_settings
from domain.directory import Directory
from domain.idcard import mask
from domain.roles import Role
from messages.delivery import (
    DISPATCH_ACTIVITY,
    SIGNATURE_HEADER,
    DeliveryChannel,
    DeliveryStatus,
    DispatchReport,
    DispatchSlice,
    delivery_key,
    message_id,
    retry_delay,
    sign,
    webhook_delivery_id,
    webhook_event,
)
from models.db import session_factory, transaction
from models.directory import DIRECTORIES, chunked
from models.tables import Delivery, DeliveryOutbox, Member, Notification, Transfer, User, Webhook, row_id, utcnow

log = get_logger(__name__)

#: Outbox rows turned into deliveries per transaction.
EXPAND_BATCH = 200
#: Deliveries in flight at once per channel, and to one receiver (a webhook's URL, the SMTP
#: server): a receiver that hangs holds its own slots until the timeout, not the channel's.
IN_FLIGHT = {DeliveryChannel.EMAIL: 8, DeliveryChannel.WEBHOOK: 32}
PER_RECEIVER = {DeliveryChannel.EMAIL: 8, DeliveryChannel.WEBHOOK: 4}

MAIL_FOOTER = "\n\n——\n团组织关系转接（学社衔接）系统自动发送，请登录系统查看详情。请勿直接回复本邮件。"


# --- the outbox: written with the event ---------------------------------------------------------


class Outbox:
    """Which channels get work from an event, decided inside the event's transaction."""

    def __init__(self, settings: Settings | None = None, *, recheck_seconds: float = 1.0) -> None:
        s = settings or get_settings()
        self.email = s.smtp_url is not None
        self.recheck_seconds = recheck_seconds
        self._webhooks = False
        self._checked_at = float("-inf")

    async def _any_webhook(self, db: AsyncConnection | AsyncSession) -> bool:
        now = time.monotonic()
        if now - self._checked_at >= self.recheck_seconds:
            found = await db.execute(select(col(Webhook.id)).where(col(Webhook.active)).limit(1))
            self._webhooks = found.first() is not None
            self._checked_at = now
        return self._webhooks

    async def rows(
        self,
        db: AsyncConnection | AsyncSession,
        *,
        event_key: str,
        notifications: int,
        entity: str,
        entity_id: int,
        action: str,
        status: str,
        at: datetime,
        current_node_org_id: int | None = None,
    ) -> list[dict[str, Any]]:
        """The outbox rows of one event (none when no channel has work)."""
        common = {
            "event_key": event_key,
            "notifications": notifications,
            "entity": entity,
            "entity_id": entity_id,
            "action": action,
            "status": status,
            "current_node_org_id": current_node_org_id,
            "at": at,
        }
        out: list[dict[str, Any]] = []
        if self.email and notifications:
            out.append({"channel": DeliveryChannel.EMAIL.value, **common})
        if entity == "transfer" and webhook_event(action) is not None and await self._any_webhook(db):
            out.append({"channel": DeliveryChannel.WEBHOOK.value, **common})
        return out


# --- the dispatcher's slice ---------------------------------------------------------------------


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def mail_domain(sender: str) -> str:
    """The domain of the sender's address (`名称 <a@b>` or `a@b`), for Message-IDs."""
    address = sender.rsplit("<", 1)[-1].rstrip(">").strip()
    return address.rsplit("@", 1)[-1] if "@" in address else "zhtj.invalid"


@dataclass
class _Attempt:
    """The outcome of one attempt of one delivery."""

    ok: bool
    status_code: int | None = None
    error: str | None = None
    permanent: bool = False  # refused for good (a 5xx SMTP reply to the recipient)


class DeliveryActivities:
    def __init__(self, engine: AsyncEngine, settings: Settings | None = None) -> None:
        self.engine = engine
        self.settings = settings or get_settings()
        s = self.settings
        self.smtp = SmtpServer.from_url(s.smtp_url) if s.smtp_url else None
        self.retry_initial = timedelta(seconds=s.delivery_retry_seconds)
        self.retry_max = timedelta(seconds=s.delivery_retry_max_seconds)
        self.give_up = timedelta(hours=s.delivery_give_up_hours)
        self.timeout = s.delivery_timeout_seconds
        self.domain = mail_domain(s.smtp_from)

    @activity.defn(name=DISPATCH_ACTIVITY)
    async def dispatch(self, req: DispatchSlice) -> DispatchReport:
        """Queue and send the channel's work for `req.seconds`: the outbox is read every
        `req.poll_seconds` (at once again while it is full), due deliveries are started whenever a
        slot is free, each attempt recorded as it ends. Returns early when the worker shuts down
        (the attempts still running are abandoned: their deliveries stay pending and are sent
        again)."""
        report = DispatchReport()
        loop = asyncio.get_running_loop()
        end = loop.time() + req.seconds
        beat = asyncio.create_task(self._heartbeat())
        shutdown = asyncio.ensure_future(activity.wait_for_worker_shutdown())
        try:
            async with httpx.AsyncClient(timeout=self.timeout, follow_redirects=False) as http:
                sends = _Sends(self, req.channel, http, report)
                try:
                    while not shutdown.done() and (left := end - loop.time()) > 0:
                        sends.changed.clear()
                        full = await self._queue(req.channel, report)
                        await sends.start_due()
                        if not full:
                            woken = asyncio.ensure_future(sends.changed.wait())  # an attempt ended
                            await asyncio.wait(
                                {shutdown, woken},
                                timeout=min(req.poll_seconds, left),
                                return_when=asyncio.FIRST_COMPLETED,
                            )
                            woken.cancel()
                finally:
                    await sends.finish(abandon=shutdown.done())
        finally:
            beat.cancel()
            shutdown.cancel()
        return report

    @staticmethod
    async def _heartbeat() -> None:
        """Heartbeat while the slice runs: a killed worker's slice is given to another worker
        once the heartbeat timeout passes."""
        while True:
            activity.heartbeat()
            await asyncio.sleep(1.0)

    async def _queue(self, channel: DeliveryChannel, report: DispatchReport) -> bool:
        """Queue one batch of the outbox; True when it was full (more is waiting)."""
        if channel == DeliveryChannel.EMAIL:
            queued, full = await self._queue_mail()
        else:
            queued, full = await self._queue_webhooks()
        report.queued += queued
        return full

    # --- outbox → deliveries ---

    async def _outbox(self, channel: DeliveryChannel) -> list[Any]:
        async with session_factory(self.engine)() as session:
            return list(
                (
                    await session.execute(
                        select(DeliveryOutbox)
                        .where(col(DeliveryOutbox.channel) == channel.value)
                        .order_by(col(DeliveryOutbox.id))
                        .limit(EXPAND_BATCH)
                    )
                ).scalars()
            )

    async def _store(self, outbox_ids: Sequence[int], deliveries: list[dict[str, Any]]) -> None:
        """Insert the deliveries (a key seen before is left as it is) and delete the outbox rows
        they came from, in one transaction."""
        insert_ = postgresql.insert if self.engine.dialect.name == "postgresql" else sqlite.insert
        async with transaction(self.engine) as conn:
            for chunk in chunked(deliveries, 100):
                await conn.execute(insert_(Delivery).on_conflict_do_nothing(index_elements=["key"]), list(chunk))
            for ids in chunked(list(outbox_ids)):
                await conn.execute(delete(DeliveryOutbox).where(col(DeliveryOutbox.id).in_(ids)))

    def _delivery(self, *, channel: DeliveryChannel, key: str, recipient: str, **fields: Any) -> dict[str, Any]:
        now = utcnow()
        return {
            "key": delivery_key(channel, key, recipient),
            "channel": channel.value,
            "recipient": recipient,
            "status": DeliveryStatus.PENDING.value,
            "attempts": 0,
            "next_attempt_at": now,
            "created_at": now,
            "last_attempt_at": None,
            "last_status_code": None,
            "last_error": None,
            "delivered_at": None,
            **fields,
        }

    async def _queue_mail(self) -> tuple[int, bool]:
        rows = await self._outbox(DeliveryChannel.EMAIL)
        if not rows:
            return 0, False
        keys = [f"{r.event_key}/{i}" for r in rows for i in range(r.notifications)]
        notes: list[Notification] = []
        async with session_factory(self.engine)() as session:
            for chunk in chunked(keys):
                notes += (await session.execute(select(Notification).where(col(Notification.key).in_(chunk)))).scalars()
        recipients = await self._mail_recipients(notes)
        deliveries = [
            self._delivery(
                channel=DeliveryChannel.EMAIL,
                key=n.key,
                recipient=address,
                delivery_id=message_id(n.key, self.domain),
                event=n.kind,
                notification_id=n.id,
                webhook_id=None,
                transfer_id=n.transfer_id,
                subject=n.title[:200],
                payload=(n.body or n.title) + MAIL_FOOTER,
                occurred_at=n.created_at,
            )
            for n in notes
            for address in recipients.get(row_id(n.id), [])
        ]
        await self._store([row_id(r.id) for r in rows], deliveries)
        return len(deliveries), len(rows) >= EXPAND_BATCH

    async def _mail_recipients(self, notes: Sequence[Notification]) -> dict[int, list[str]]:
        """The addresses of each notification: of an org, its admins (an org without an admin
        account: its nearest ancestor committee's admins); of a member, their address and their
        login's; of an account, its address."""
        org_ids = {n.recipient_org_id for n in notes if n.recipient_org_id is not None}
        member_ids = {n.member_id for n in notes if n.member_id is not None}
        user_ids = {n.recipient_user_id for n in notes if n.recipient_user_id is not None}
        # the directory cache reads in a session of its own: outside this one (on SQLite a
        # session holds the write lock)
        directory = await DIRECTORIES.get(self.engine, ids=org_ids) if org_ids else Directory([])
        chains = {org_id: _chain(directory, org_id) for org_id in org_ids}
        async with session_factory(self.engine)() as session:
            admins = await _admin_addresses(session, {i for chain in chains.values() for i in chain})
            by_member, by_user = await _member_and_user_addresses(session, member_ids, user_ids)
        by_org = {org_id: _org_addresses(directory, chain, admins) for org_id, chain in chains.items()}
        out: dict[int, list[str]] = {}
        for n in notes:
            addresses: list[str] = []
            if n.recipient_org_id is not None:
                addresses += by_org.get(n.recipient_org_id, [])
            if n.member_id is not None:
                addresses += by_member.get(n.member_id, [])
            if n.recipient_user_id is not None and n.recipient_user_id in by_user:
                addresses.append(by_user[n.recipient_user_id])
            out[row_id(n.id)] = _distinct(addresses)
        return out

    async def _queue_webhooks(self) -> tuple[int, bool]:
        rows = await self._outbox(DeliveryChannel.WEBHOOK)
        if not rows:
            return 0, False
        async with session_factory(self.engine)() as session:
            hooks = list((await session.execute(select(Webhook).where(col(Webhook.active)))).scalars())
            transfer_ids = sorted({r.entity_id for r in rows if r.entity_id is not None})
            transfers: dict[int, Transfer] = {}
            for chunk in chunked(transfer_ids):
                for row in (await session.execute(select(Transfer).where(col(Transfer.id).in_(chunk)))).scalars():
                    transfers[row_id(row.id)] = row
            masked: dict[int, str] = {}
            for chunk in chunked(sorted({t.member_id for t in transfers.values()})):
                for mid, id_number in await session.execute(
                    select(col(Member.id), col(Member.id_number)).where(col(Member.id).in_(chunk))
                ):
                    masked[row_id(mid)] = mask(id_number)
        org_ids = {i for t in transfers.values() for i in (t.from_org_id, t.target_org_id)}
        org_ids |= {r.current_node_org_id for r in rows if r.current_node_org_id is not None}
        directory = await DIRECTORIES.get(self.engine, ids=org_ids) if hooks and org_ids else Directory([])
        deliveries: list[dict[str, Any]] = []
        for r in rows:
            event = webhook_event(r.action)
            found = transfers.get(r.entity_id) if r.entity_id is not None else None
            if event is None or found is None:
                continue
            t = found
            scope = set(_chain(directory, t.from_org_id)) | set(_chain(directory, t.target_org_id))
            for hook in hooks:
                if hook.org_id not in scope or event not in hook.events:
                    continue
                did = webhook_delivery_id(r.event_key, row_id(hook.id))
                body = {
                    "event": event,
                    "delivery_id": did,
                    "occurred_at": _iso(r.at),
                    "transfer": {
                        "id": t.id,
                        "workflow_id": t.workflow_id,
                        "type": t.type,
                        "status": r.status,
                        "from_org": _code(directory, t.from_org_id),
                        "to_org": _code(directory, t.target_org_id),
                        "current_node": _code(directory, r.current_node_org_id),
                        "member_id_masked": masked.get(t.member_id, ""),
                    },
                }
                deliveries.append(
                    self._delivery(
                        channel=DeliveryChannel.WEBHOOK,
                        key=r.event_key,
                        recipient=str(hook.id),
                        delivery_id=did,
                        event=event,
                        notification_id=None,
                        webhook_id=hook.id,
                        transfer_id=t.id,
                        subject=None,
                        payload=json.dumps(body, ensure_ascii=False, separators=(",", ":")),
                        occurred_at=r.at,
                    )
                )
        # the recipient column shows the URL; the key is per webhook (its URL may be changed)
        urls = {row_id(h.id): h.url for h in hooks}
        for d in deliveries:
            d["recipient"] = urls[d["webhook_id"]]
        await self._store([row_id(r.id) for r in rows], deliveries)
        return len(deliveries), len(rows) >= EXPAND_BATCH

    # --- sending ---

    async def _due(
        self, channel: DeliveryChannel, exclude: Iterable[int], limit: int
    ) -> tuple[list[Delivery], dict[int, Webhook]]:
        """The channel's deliveries due now (oldest first, not those in flight), and their webhooks."""
        async with session_factory(self.engine)() as session:
            q = select(Delivery).where(
                col(Delivery.channel) == channel.value,
                col(Delivery.status) == DeliveryStatus.PENDING.value,
                col(Delivery.next_attempt_at) <= utcnow(),
            )
            skip = list(exclude)
            if skip:
                q = q.where(col(Delivery.id).not_in(skip))
            due = list(
                (
                    await session.execute(q.order_by(col(Delivery.next_attempt_at), col(Delivery.id)).limit(limit))
                ).scalars()
            )
            hooks: dict[int, Webhook] = {}
            hook_ids = sorted({d.webhook_id for d in due if d.webhook_id is not None})
            if hook_ids:
                found = await session.execute(select(Webhook).where(col(Webhook.id).in_(hook_ids)))
                hooks = {row_id(h.id): h for h in found.scalars()}
        return due, hooks

    async def attempt(self, d: Delivery, http: httpx.AsyncClient, hook: Webhook | None) -> _Attempt:
        if d.channel == DeliveryChannel.EMAIL.value:
            return await self._send_mail(d)
        return await self._post(http, d, hook)

    async def _send_mail(self, d: Delivery) -> _Attempt:
        if self.smtp is None:
            return _Attempt(ok=False, error="ZHTJ_SMTP_URL is not set")
        mail = Mail(
            sender=self.settings.smtp_from,
            to=d.recipient,
            subject=d.subject or "",
            body=d.payload,
            message_id=d.delivery_id,
        )
        try:
            await send_mail(self.smtp, mail, seconds=self.timeout)
        except smtplib.SMTPRecipientsRefused as e:
            codes = [code for code, _msg in e.recipients.values()]
            return _Attempt(ok=False, error=_short(e), permanent=bool(codes) and all(c >= 500 for c in codes))
        except (smtplib.SMTPException, OSError) as e:
            return _Attempt(ok=False, error=_short(e))
        return _Attempt(ok=True)

    async def _post(self, http: httpx.AsyncClient, d: Delivery, hook: Webhook | None) -> _Attempt:
        if hook is None or not hook.active:
            return _Attempt(ok=False, error="webhook removed", permanent=True)
        body = d.payload.encode()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "User-Agent": "zhtj-transfer-webhook/1",
            SIGNATURE_HEADER: sign(hook.secret, body),
            "X-Zhtj-Event": d.event,
            "X-Zhtj-Delivery": d.delivery_id,
        }
        try:
            r = await http.post(hook.url, content=body, headers=headers)
        except httpx.HTTPError as e:
            return _Attempt(ok=False, error=_short(e))
        if 200 <= r.status_code < 300:
            return _Attempt(ok=True, status_code=r.status_code)
        return _Attempt(ok=False, status_code=r.status_code, error=f"HTTP {r.status_code}")

    async def record(self, d: Delivery, o: _Attempt, report: DispatchReport) -> None:
        """Record one attempt: delivered; or pending again after the backoff; or failed (refused
        for good, or the give-up time has passed)."""
        now = utcnow()
        attempts = d.attempts + 1
        values: dict[str, Any] = {
            "attempts": attempts,
            "last_attempt_at": now,
            "last_status_code": o.status_code,
            "last_error": None if o.ok else (o.error or "")[:500],
        }
        if o.ok:
            values |= {"status": DeliveryStatus.DELIVERED.value, "delivered_at": now}
            report.delivered += 1
        elif o.permanent or now - d.created_at >= self.give_up:
            values["status"] = DeliveryStatus.FAILED.value
            report.failed += 1
            log.warning("delivery given up", channel=d.channel, delivery_id=d.delivery_id, error=o.error)
        else:
            values["next_attempt_at"] = now + retry_delay(attempts, self.retry_initial, self.retry_max)
            report.retried += 1
        async with transaction(self.engine) as conn:
            await conn.execute(update(Delivery).where(col(Delivery.id) == d.id).values(**values))
        log.info(
            "delivery attempted",
            channel=d.channel,
            delivery_id=d.delivery_id,
            ok=o.ok,
            status_code=o.status_code,
            error=o.error,
            attempts=attempts,
        )


class _Sends:
    """The attempts of one slice in flight: at most IN_FLIGHT of the channel, PER_RECEIVER to one
    receiver; each records its outcome when it ends and wakes the slice's loop (`changed`)."""

    def __init__(
        self, acts: DeliveryActivities, channel: DeliveryChannel, http: httpx.AsyncClient, report: DispatchReport
    ) -> None:
        self.acts = acts
        self.channel = channel
        self.http = http
        self.report = report
        self.tasks: dict[int, asyncio.Task[None]] = {}
        self.per_receiver: dict[str, int] = {}
        self.changed = asyncio.Event()

    async def start_due(self) -> int:
        free = IN_FLIGHT[self.channel] - len(self.tasks)
        if free <= 0:
            return 0
        due, hooks = await self.acts._due(self.channel, self.tasks.keys(), free * 4)
        started = 0
        for d in due:
            receiver = d.recipient if self.channel == DeliveryChannel.WEBHOOK else "smtp"
            if len(self.tasks) >= IN_FLIGHT[self.channel]:
                break
            if self.per_receiver.get(receiver, 0) >= PER_RECEIVER[self.channel]:
                continue
            self.per_receiver[receiver] = self.per_receiver.get(receiver, 0) + 1
            hook = hooks.get(d.webhook_id) if d.webhook_id is not None else None
            self.tasks[row_id(d.id)] = asyncio.create_task(self._one(d, hook, receiver))
            started += 1
        return started

    async def _one(self, d: Delivery, hook: Webhook | None, receiver: str) -> None:
        try:
            outcome = await self.acts.attempt(d, self.http, hook)
            await self.acts.record(d, outcome, self.report)
        except Exception as e:  # noqa: BLE001 - recording failed (database): the delivery stays due
            log.warning("delivery not recorded", delivery_id=d.delivery_id, error=_short(e))
        finally:
            self.tasks.pop(row_id(d.id), None)
            self.per_receiver[receiver] -= 1
            self.changed.set()

    async def finish(self, *, abandon: bool) -> None:
        """Wait for the attempts in flight (the slice's end), or cancel them (the worker stops)."""
        tasks = list(self.tasks.values())
        if abandon:
            for t in tasks:
                t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _short(e: BaseException) -> str:
    text = str(e) or type(e).__name__
    return f"{type(e).__name__}: {text}"[:500]


def _distinct(items: Iterable[str]) -> list[str]:
    seen: dict[str, None] = {}
    for item in items:
        item = item.strip()
        if item and item.lower() not in {s.lower() for s in seen}:
            seen[item] = None
    return list(seen)


def _chain(directory: Directory, org_id: int | None) -> list[int]:
    """The org's id and its ancestors', nearest first."""
    org = directory.by_id(org_id)
    if org is None:
        return [org_id] if org_id is not None else []
    return [o.id for o in [org, *directory.ancestors(org)] if o.id is not None]


def _code(directory: Directory, org_id: int | None) -> str | None:
    org = directory.by_id(org_id)
    return org.code if org is not None else None


async def _member_and_user_addresses(
    session: AsyncSession, member_ids: set[int], user_ids: set[int]
) -> tuple[dict[int, list[str]], dict[int, str]]:
    """A member's addresses (their own and their login's), by member id; an account's, by user id."""
    by_member: dict[int, list[str]] = {}
    for chunk in chunked(sorted(member_ids)):
        for mid, email in await session.execute(
            select(col(Member.id), col(Member.email)).where(col(Member.id).in_(chunk), col(Member.email).is_not(None))
        ):
            if email:
                by_member.setdefault(row_id(mid), []).append(email)
        for mid, email in await session.execute(
            select(col(User.member_id), col(User.email)).where(
                col(User.member_id).in_(chunk), col(User.active), col(User.email).is_not(None)
            )
        ):
            if email:
                by_member.setdefault(row_id(mid), []).append(email)
    by_user: dict[int, str] = {}
    for chunk in chunked(sorted(user_ids)):
        for uid, email in await session.execute(
            select(col(User.id), col(User.email)).where(
                col(User.id).in_(chunk), col(User.active), col(User.email).is_not(None)
            )
        ):
            if email:
                by_user[row_id(uid)] = email
    return by_member, by_user


async def _admin_addresses(session: AsyncSession, org_ids: Iterable[int]) -> dict[int, list[str | None]]:
    """Each org's active admin accounts' addresses (None for an account without one), by org id."""
    out: dict[int, list[str | None]] = {}
    for chunk in chunked(sorted(set(org_ids))):
        for org_id, email in await session.execute(
            select(col(User.org_id), col(User.email)).where(
                col(User.org_id).in_(chunk), col(User.role) == Role.ADMIN.value, col(User.active)
            )
        ):
            out.setdefault(row_id(org_id), []).append(email)
    return out


def _org_addresses(directory: Directory, chain: list[int], admins: dict[int, list[str | None]]) -> list[str]:
    """The org's admins' addresses; an org without an admin account: the admins' of its nearest
    ancestor committee (an org with approval authority) that has admin accounts."""
    if not chain:
        return []
    own, *ancestors = chain
    if own in admins:
        return [a for a in admins[own] if a]
    for org_id in ancestors:
        org = directory.by_id(org_id)
        if org is not None and org.approval_authority and org_id in admins:
            return [a for a in admins[org_id] if a]
    return []
