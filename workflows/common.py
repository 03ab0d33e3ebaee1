"""What every workflow of this service shares: refusals, waiting with a timeout, retry policy,
and the event journal: numbered state changes, each written by one idempotent activity, with the
search attributes operators filter on and the fields every view carries."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Generic, TypeVar

from pydantic import BaseModel
from temporalio import workflow
from temporalio.common import RetryPolicy, SearchAttributeUpdate
from temporalio.exceptions import ApplicationError
from temporalio.types import MethodAsyncSingleParam

with workflow.unsafe.imports_passed_through():
    from messages.errors import ErrorType
    from messages.transfers import Actor, HistoryEntry, NotificationSpec

#: How long one attempt of a persisting activity may take (one database transaction).
EVENT_TIMEOUT = timedelta(seconds=30)

EventT = TypeVar("EventT", bound=BaseModel)
ResultT = TypeVar("ResultT")


def retry_policy(non_retryable: ErrorType) -> RetryPolicy:
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
        super().__init__(message, type=ErrorType.DECISION_REFUSED, non_retryable=True)


def invalid(message: str) -> ApplicationError:
    """A decision whose input breaks a rule (422)."""
    return ApplicationError(message, type=ErrorType.INVALID_INPUT, non_retryable=True)


def invalid_return_ground(message: str) -> ApplicationError:
    """A return on a ground §III.4 forbids (422)."""
    return ApplicationError(message, type=ErrorType.INVALID_RETURN_GROUND, non_retryable=True)


async def wait(condition: Callable[[], bool], limit: timedelta) -> bool:
    """wait_condition with a timeout (`limit` from now); False when the time ran out."""
    if limit <= timedelta(0):
        return condition()
    try:
        await workflow.wait_condition(condition, timeout=limit)
        return True
    except TimeoutError:
        return condition()


class EventJournal(Generic[EventT, ResultT]):
    """A workflow's state changes, numbered: the key `<workflow id>/<first run id>/<n>` is unique
    in the audit log, so the activity writing event n writes it once however often it is retried.

    `write_event` is the one way a workflow records a change: the entry in its history, the
    search attributes as the state sets them, then the event, built as `event` from the journal's
    fields, `event_fields()` and the caller's, written by the `persist` activity."""

    def __init__(
        self,
        event: type[EventT],
        persist: MethodAsyncSingleParam[Any, EventT, ResultT],
        non_retryable: ErrorType,
    ) -> None:
        self._events = 0
        self.history: list[HistoryEntry] = []
        self._event_type = event
        self._persist = persist
        self._retry = retry_policy(non_retryable)

    # --- what each workflow gives -------------------------------------------------------------

    def search_attributes(self) -> list[SearchAttributeUpdate[Any]]:
        """Every custom search attribute as the state sets it now."""
        raise NotImplementedError

    def upsert_changes_only(self) -> bool:
        """Whether to upsert only the attributes whose value changed (else all, every event)."""
        return False

    def event_fields(self) -> dict[str, Any]:
        """What every event of this workflow carries besides the journal's fields (its status)."""
        return {}

    # --- shared ---------------------------------------------------------------------------------

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

    def upsert_search_attributes(self) -> None:
        updates = self.search_attributes()
        if self.upsert_changes_only():
            # every upsert is a visibility write on the server: send only what changed (a decision
            # that leaves the status and the current node as they were changes nothing there)
            current = workflow.info().typed_search_attributes
            updates = [u for u in updates if current.get(u.key) != u.value]
            if not updates:
                return
        workflow.upsert_search_attributes(updates)

    async def write_event(
        self,
        action: str,
        actor: Actor,
        *,
        notify: list[NotificationSpec] | None = None,
        detail: dict[str, Any] | None = None,
        **fields: Any,
    ) -> ResultT:
        """Record a state change: history, search attributes, and the idempotent persist activity."""
        journal = self.next_event(action, actor, detail)
        self.upsert_search_attributes()
        event = self._event_type(**journal, **self.event_fields(), notifications=notify or [], **fields)
        return await workflow.execute_activity_method(
            self._persist, event, start_to_close_timeout=EVENT_TIMEOUT, retry_policy=self._retry
        )

    def view_fields(self, request_id: str | None, *, timeline: bool = True) -> dict[str, Any]:
        """The fields every view has: the workflow id, the start's request id, the timeline."""
        return {
            "workflow_id": workflow.info().workflow_id,
            "request_id": request_id,
            "history": list(self.history) if timeline else [],
        }
