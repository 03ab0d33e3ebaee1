"""What the persisting activities share: applying an event once, keyed in the audit log.

Every event a workflow sends to be persisted carries a unique key (``workflow id/first run id/event
number``). Its transaction writes an audit row under that key, so the key is the event's claim: a
retry of an applied event finds the key (`already_applied`) and writes nothing, and an attempt
that loses a race to a concurrent attempt of the same event fails on the unique key, which
`apply_once` turns into that attempt's answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession
from sqlmodel import col

from core.logging import get_logger
from models.db import session_factory
from models.tables import AuditLog

log = get_logger(__name__)

T = TypeVar("T")


def json_safe(value: Any) -> Any:
    """A value for a JSON column: dicts, lists and scalars as they are, anything else as text."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def audit_row(
    *, key: str, at: datetime, actor: str, action: str, entity: str, entity_id: int, detail: dict[str, Any]
) -> dict[str, Any]:
    """The audit row recording an applied event: its key claims the event (unique)."""
    return {
        "key": key,
        "at": at,
        "actor": actor,
        "action": action,
        "entity": entity,
        "entity_id": str(entity_id),
        "detail": json_safe(detail),
    }


async def applied_entity(db: AsyncSession | AsyncConnection, key: str) -> str | None:
    """The id of the row an event changed, recorded with its key; None when it was not applied."""
    return (await db.execute(select(col(AuditLog.entity_id)).where(col(AuditLog.key) == key))).scalar()


async def already_applied(db: AsyncSession | AsyncConnection, key: str, action: str) -> str | None:
    """Inside an event's transaction: the entity id when the event's key is in the audit log (a
    retry of an applied event, which then writes nothing), else None."""
    entity_id = await applied_entity(db, key)
    if entity_id is not None:
        log.info("event already applied", key=key, action=action)
    return entity_id


async def apply_once(
    engine: AsyncEngine, key: str, apply: Callable[[], Awaitable[T]], *, applied: Callable[[str], T]
) -> T:
    """Run `apply`, the event's transaction (which writes its audit row); when it fails on a
    unique key because a concurrent attempt of the same event committed first, answer
    `applied(entity id)` from that attempt's audit row."""
    try:
        return await apply()
    except IntegrityError:
        # A concurrent attempt of the same event committed first: its key now exists.
        async with session_factory(engine)() as session:
            entity_id = await applied_entity(session, key)
        if entity_id is None:
            raise
        return applied(entity_id)
