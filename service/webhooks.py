"""Webhooks of backend services: registering a receiver for an org's subtree, and reading the
delivery log (`zhtj webhooks`, the page /ui/webhooks for the org's admins).

A receiver gets the transfer events (`messages.delivery.WEBHOOK_EVENTS`) of the transfers from or
to the org or any org below it, POSTed as JSON and signed with its secret (X-Zhtj-Signature:
sha256=<hex HMAC-SHA256 of the raw body>); `activities/delivery.py` sends them.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlsplit

from sqlalchemy import func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from messages.delivery import WEBHOOK_EVENTS, DeliveryChannel
from models.db import session_factory, session_scope
from models.tables import Delivery, Org, Webhook, row_id, utcnow
from service.errors import refuse

LOG_LIMIT_MAX = 500


@dataclass(frozen=True)
class NewWebhook:
    webhook: Webhook
    org_code: str
    secret: str  # shown once


@dataclass(frozen=True)
class WebhookRow:
    id: int
    org_code: str
    url: str
    events: list[str]
    active: bool
    created_by: str | None
    created_at: datetime
    delivered: int
    pending: int
    failed: int


@dataclass(frozen=True)
class LogRow:
    id: int
    webhook_id: int | None
    url: str
    event: str
    delivery_id: str
    transfer_id: int | None
    status: str
    attempts: int
    last_status_code: int | None
    last_error: str | None
    occurred_at: datetime
    created_at: datetime
    last_attempt_at: datetime | None
    delivered_at: datetime | None
    next_attempt_at: datetime


def parse_events(raw: Iterable[str] | None) -> list[str]:
    """The events asked for (comma- or space-separated; none or `all`: every event), in the
    canonical order; a ServiceError names an unknown one."""
    names = [e.strip() for item in (raw or []) for e in item.replace(",", " ").split() if e.strip()]
    if not names or names == ["all"]:
        return list(WEBHOOK_EVENTS)
    unknown = sorted(set(names) - set(WEBHOOK_EVENTS))
    if unknown:
        raise refuse(422, "events", f"未知的事件 {', '.join(unknown)}；可选：{', '.join(WEBHOOK_EVENTS)}")
    return [e for e in WEBHOOK_EVENTS if e in names]


def check_url(url: str) -> str:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise refuse(422, "url", "接收地址须为 http:// 或 https:// 开头的完整网址")
    if len(url) > 500:
        raise refuse(422, "url", "接收地址最长500个字符")
    return url.strip()


async def _org(engine: AsyncEngine, code: str) -> Org:
    async with session_factory(engine)() as session:
        org = (await session.execute(select(Org).where(col(Org.code) == code))).scalar_one_or_none()
    if org is None:
        raise refuse(404, "org", f"组织 {code} 不存在")
    return org


async def add_webhook(
    engine: AsyncEngine, url: str, org_code: str, events: Iterable[str] | None = None, *, created_by: str = "cli"
) -> NewWebhook:
    """Register a receiver; its secret is returned here and never shown again."""
    url = check_url(url)
    chosen = parse_events(events)
    org = await _org(engine, org_code)
    secret = "whsec_" + secrets.token_urlsafe(32)
    async with session_scope(engine) as session:
        hook = Webhook(org_id=row_id(org.id), url=url, events=chosen, secret=secret, created_by=created_by)
        session.add(hook)
        await session.flush()
    return NewWebhook(webhook=hook, org_code=org.code, secret=secret)


async def remove_webhook(engine: AsyncEngine, webhook_id: int, org_code: str | None = None) -> Webhook:
    """Stop a receiver (its log stays; deliveries not yet made are given up)."""
    org_id = row_id((await _org(engine, org_code)).id) if org_code is not None else None
    async with session_scope(engine) as session:
        hook = await session.get(Webhook, webhook_id)
        if hook is None:
            raise refuse(404, "webhook", f"webhook {webhook_id} 不存在")
        if org_id is not None and hook.org_id != org_id:
            raise refuse(404, "webhook", f"webhook {webhook_id} 不属于组织 {org_code}")
        hook.active = False
    return hook


async def list_webhooks(engine: AsyncEngine, org_code: str) -> list[WebhookRow]:
    """The org's receivers, with how many of their deliveries arrived, wait or were given up."""
    org = await _org(engine, org_code)
    async with session_factory(engine)() as session:
        hooks = list(
            (
                await session.execute(select(Webhook).where(col(Webhook.org_id) == org.id).order_by(col(Webhook.id)))
            ).scalars()
        )
        counts: dict[tuple[int, str], int] = {}
        if hooks:
            rows = await session.execute(
                select(col(Delivery.webhook_id), col(Delivery.status), func.count())
                .where(col(Delivery.webhook_id).in_([h.id for h in hooks]))
                .group_by(col(Delivery.webhook_id), col(Delivery.status))
            )
            counts = {(row_id(wid), status): n for wid, status, n in rows}
    return [
        WebhookRow(
            id=row_id(h.id),
            org_code=org.code,
            url=h.url,
            events=list(h.events),
            active=h.active,
            created_by=h.created_by,
            created_at=h.created_at,
            delivered=counts.get((row_id(h.id), "delivered"), 0),
            pending=counts.get((row_id(h.id), "pending"), 0),
            failed=counts.get((row_id(h.id), "failed"), 0),
        )
        for h in hooks
    ]


async def delivery_log(
    engine: AsyncEngine, org_code: str, *, limit: int = 50, status: str | None = None, webhook_id: int | None = None
) -> list[LogRow]:
    """The org's webhook deliveries, newest first."""
    org = await _org(engine, org_code)
    limit = max(1, min(limit, LOG_LIMIT_MAX))
    q = (
        select(Delivery, col(Webhook.url))
        .join(Webhook, col(Webhook.id) == col(Delivery.webhook_id))
        .where(col(Webhook.org_id) == org.id, col(Delivery.channel) == DeliveryChannel.WEBHOOK.value)
    )
    if status:
        q = q.where(col(Delivery.status) == status)
    if webhook_id is not None:
        q = q.where(col(Delivery.webhook_id) == webhook_id)
    q = q.order_by(col(Delivery.created_at).desc(), col(Delivery.id).desc()).limit(limit)
    async with session_factory(engine)() as session:
        rows = (await session.execute(q)).all()
    return [
        LogRow(
            id=row_id(d.id),
            webhook_id=d.webhook_id,
            url=url,
            event=d.event,
            delivery_id=d.delivery_id,
            transfer_id=d.transfer_id,
            status=d.status,
            attempts=d.attempts,
            last_status_code=d.last_status_code,
            last_error=d.last_error,
            occurred_at=d.occurred_at,
            created_at=d.created_at,
            last_attempt_at=d.last_attempt_at,
            delivered_at=d.delivered_at,
            next_attempt_at=d.next_attempt_at,
        )
        for d, url in rows
    ]


async def retry_now(engine: AsyncEngine, org_code: str) -> int:
    """Make the org's pending webhook deliveries due now (after a receiver came back); how many."""
    org = await _org(engine, org_code)
    async with session_scope(engine) as session:
        hook_ids = select(col(Webhook.id)).where(col(Webhook.org_id) == org.id).scalar_subquery()
        result = await session.execute(
            update(Delivery)
            .where(col(Delivery.webhook_id).in_(hook_ids), col(Delivery.status) == "pending")
            .values(next_attempt_at=utcnow())
        )
    return int(getattr(result, "rowcount", 0) or 0)
