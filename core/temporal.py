"""Connecting to Temporal and making sure our custom search attributes exist there."""

from __future__ import annotations

from typing import Any

from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest, ListSearchAttributesRequest
from temporalio.client import Client, WithStartWorkflowOperation, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.contrib.pydantic import pydantic_data_converter
from temporalio.exceptions import ApplicationError
from temporalio.service import RPCError, RPCStatusCode

from core.logging import get_logger
from core.settings import Settings, get_settings
from messages import search_attributes
from messages.errors import INPUT_ERRORS

log = get_logger(__name__)


async def connect(settings: Settings | None = None, *, address: str | None = None) -> Client:
    s = settings or get_settings()
    return await Client.connect(
        address or s.effective_temporal_address,
        namespace=s.temporal_namespace,
        data_converter=pydantic_data_converter,
    )


async def ensure_search_attributes(client: Client, namespace: str | None = None) -> list[str]:
    """Register any of our custom search attributes the server lacks; returns those added.

    The dev server gets them as start flags; an existing cluster or the time-skipping test server
    knows none until they are added, and every workflow task that upserts one would fail.
    """
    ns = namespace or client.namespace
    try:
        have = set(
            (
                await client.operator_service.list_search_attributes(ListSearchAttributesRequest(namespace=ns))
            ).custom_attributes
        )
    except RPCError as e:
        # The time-skipping test server cannot list them; adding is still supported there.
        if e.status != RPCStatusCode.UNIMPLEMENTED:
            raise
        have = set()
    missing = {
        key.name: IndexedValueType.ValueType(key.indexed_value_type)
        for key in search_attributes.ALL
        if key.name not in have
    }
    if not missing:
        return []
    try:
        await client.operator_service.add_search_attributes(
            AddSearchAttributesRequest(namespace=ns, search_attributes=missing)
        )
    except RPCError as e:
        if e.status != RPCStatusCode.ALREADY_EXISTS:
            raise
        return []
    log.info("search attributes registered", names=sorted(missing), namespace=ns)
    return sorted(missing)


_UNAVAILABLE = frozenset({RPCStatusCode.UNAVAILABLE, RPCStatusCode.DEADLINE_EXCEEDED})


def update_failure_status(e: WorkflowUpdateFailedError | RPCError) -> int:
    """What a failed update means, as an HTTP status: 422 when its validator found input that
    breaks a rule, 503 when the server is unreachable, else 409 (the decision no longer fits the
    state; for the server's NOT_FOUND on a workflow id we hold: its run has closed).

    The one classification: `service.errors` turns it into refusals, the activities that end
    holdings skip the 409s (a holding that ended meanwhile)."""
    if isinstance(e, RPCError):
        return 503 if e.status in _UNAVAILABLE else 409
    cause = e.cause
    return 422 if isinstance(cause, ApplicationError) and cause.type in INPUT_ERRORS else 409


async def start_and_wait_recorded(
    client: Client,
    run: Any,
    arg: Any,
    recorded: Any,
    *,
    workflow_id: str,
    task_queue: str,
    result_type: type,
) -> Any:
    """Start a workflow (or find the open one with that id) and get its `recorded` update's answer
    in one round trip (update-with-start): the state once its start is in the database."""
    op = WithStartWorkflowOperation(
        run,
        arg,
        id=workflow_id,
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
    )
    return await client.execute_update_with_start_workflow(
        recorded, start_workflow_operation=op, result_type=result_type
    )
