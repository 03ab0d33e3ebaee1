"""What every workflow of this service shares: refusals, waiting with a timeout, retry policy,
and the numbered event journal whose keys make the persisting activities idempotent."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from temporalio import workflow
from temporalio.common import RetryPolicy
from temporalio.exceptions import ApplicationError

with workflow.unsafe.imports_passed_through():
    from messages.transfers import Actor, HistoryEntry


def retry_policy(non_retryable: str) -> RetryPolicy:
    """Persisting activities: retried with backoff, except for data that can never be written."""
    return RetryPolicy(
        initial_interval=timedelta(seconds=1),
        backoff_coefficient=2.0,
        maximum_interval=timedelta(minutes=1),
        non_retryable_error_types=[non_retryable],
    )


class Refused(ApplicationError):
    """A decision that no longer fits the state; the caller gets the message (409)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, type="DecisionRefused", non_retryable=True)


def invalid(message: str) -> ApplicationError:
    """A decision whose input breaks a rule (422)."""
    return ApplicationError(message, type="InvalidInput", non_retryable=True)


async def wait(condition: Callable[[], bool], timeout: timedelta) -> bool:
    """wait_condition with a timeout; False when the time ran out."""
    if timeout <= timedelta(0):
        return condition()
    try:
        await workflow.wait_condition(condition, timeout=timeout)
        return True
    except TimeoutError:
        return condition()


class EventJournal:
    """Numbers a workflow's state changes: the key `<workflow id>/<first run id>/<n>` is unique in
    the audit log, so the activity writing event n writes it once however often it is retried."""

    def __init__(self) -> None:
        self._events = 0
        self.history: list[HistoryEntry] = []

    def next_event(self, action: str, actor: Actor, detail: dict[str, Any] | None) -> dict[str, Any]:
        """Record the entry in the history; the fields every persisted event starts with."""
        self._events += 1
        info = workflow.info()
        now: datetime = workflow.now()
        self.history.append(HistoryEntry(at=now, action=action, actor=actor.label, detail=detail or {}))
        return {
            "key": f"{info.workflow_id}/{info.first_execution_run_id}/{self._events}",
            "workflow_id": info.workflow_id,
            "run_id": info.first_execution_run_id,
            "action": action,
            "actor": actor.username,
            "at": now,
            "detail": detail or {},
        }
