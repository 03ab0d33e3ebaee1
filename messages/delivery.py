"""Delivery channels (email, webhooks): what crosses the dispatcher workflow's boundary, the webhook
events a transfer's actions map to, the stable ids of a delivery and the webhook signature.

Plain types and pure functions (the standard library's hashlib/hmac): safe in the workflow sandbox.
"""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import timedelta
from enum import StrEnum

from pydantic import BaseModel


class DeliveryChannel(StrEnum):
    EMAIL = "email"
    WEBHOOK = "webhook"


class DeliveryStatus(StrEnum):
    PENDING = "pending"  # waiting for its (next) attempt
    DELIVERED = "delivered"  # the SMTP server accepted it / the receiver answered 2xx
    FAILED = "failed"  # given up (a day of attempts, or the webhook was removed)


#: The webhook events, as a transfer's actions (the audit log's `action`) name them.
WEBHOOK_EVENT_BY_ACTION: dict[str, str] = {
    "transfer.started": "transfer.started",
    "node.pending": "node.pending",
    "node.reminded": "node.reminded",
    "node.approved": "node.approved",
    "node.auto_approved": "node.auto_approved",
    "node.returned": "transfer.returned",
    "transfer.resubmitted": "transfer.resubmitted",
    "transfer.withdrawn": "transfer.withdrawn",
    "assignment.awaiting": "transfer.awaiting_assignment",
    "transfer.completed": "transfer.completed",
    "transfer.expired": "transfer.expired",
}
WEBHOOK_EVENTS: tuple[str, ...] = tuple(WEBHOOK_EVENT_BY_ACTION.values())

#: The registered name of the dispatcher's activity (`activities.delivery.DeliveryActivities.dispatch`).
DISPATCH_ACTIVITY = "delivery.dispatch"

#: The header carrying `sha256=<hex HMAC-SHA256 of the raw body with the webhook's secret>`.
SIGNATURE_HEADER = "X-Zhtj-Signature"

_DELIVERY_NAMESPACE = uuid.UUID("6f1d2c4e-5b0a-4f43-9a57-3c1d0e7b2a90")


def dispatcher_id(prefix: str, channel: DeliveryChannel) -> str:
    """The id of a channel's dispatcher workflow: one per database, so ZHTJ_WORKFLOW_ID_PREFIX
    (distinct per database sharing a namespace) is part of it."""
    return f"delivery-{prefix.rstrip('-')}-{channel.value}"


def webhook_event(action: str) -> str | None:
    """The webhook event of a transfer's action; None for an action no receiver is told of."""
    return WEBHOOK_EVENT_BY_ACTION.get(action)


def delivery_key(channel: DeliveryChannel, source_key: str, recipient: str) -> str:
    """The unique key of one delivery: of a notification (email) or an event (webhook) to one
    recipient; a fixed-length digest, as keys and addresses may be long."""
    return hashlib.sha256(f"{channel.value}\0{source_key}\0{recipient}".encode()).hexdigest()


def webhook_delivery_id(event_key: str, webhook_id: int) -> str:
    """The delivery id a receiver drops repeats by: the same for every attempt of one event to
    one webhook."""
    return str(uuid.uuid5(_DELIVERY_NAMESPACE, f"{event_key}\0{webhook_id}"))


def message_id(notification_key: str, domain: str) -> str:
    """The Message-ID of a notification's mail: the same for every attempt and every recipient."""
    digest = hashlib.sha256(notification_key.encode()).hexdigest()[:32]
    return f"<zhtj.{digest}@{domain}>"


def sign(secret: str, body: bytes) -> str:
    """The value of X-Zhtj-Signature for a raw body."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def signature_valid(secret: str, body: bytes, header: str | None) -> bool:
    """What a receiver checks (in constant time)."""
    return header is not None and hmac.compare_digest(sign(secret, body), header)


def retry_delay(attempts: int, initial: timedelta, maximum: timedelta) -> timedelta:
    """How long after its `attempts`-th failed attempt a delivery is tried again: doubling from
    `initial`, at most `maximum`."""
    factor: int = 2 ** min(max(attempts - 1, 0), 30)
    delay: timedelta = initial * factor
    return min(delay, maximum)


class DispatcherInput(BaseModel):
    """A channel's dispatcher: it runs `dispatch` slices of `slice_seconds` one after the other
    (each polling every `poll_seconds`) and continues as new after `slices_per_run`."""

    channel: DeliveryChannel
    slice_seconds: float = 60.0
    poll_seconds: float = 2.0
    heartbeat_seconds: float = 10.0
    slices_per_run: int = 100


class DispatchSlice(BaseModel):
    channel: DeliveryChannel
    seconds: float
    poll_seconds: float


class DispatchReport(BaseModel):
    """What one slice did."""

    queued: int = 0  # deliveries made from the outbox
    delivered: int = 0
    retried: int = 0  # failed attempts to be tried again
    failed: int = 0  # given up
