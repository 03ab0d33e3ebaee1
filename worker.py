"""The worker: registers workflows and activities on the task queue and serves them.

The task queue is the caller's (`Settings.task_queue`, ZHTJ_TASK_QUEUE): the one setting the
worker, the API and the CLI share."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.service import RPCError
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.delivery import DeliveryActivities
from activities.digest import DigestActivities
from activities.logging import LogContextInterceptor
from activities.stay_at_school import StayAtSchoolActivities
from activities.system import SystemActivities
from activities.transfers import TransferActivities
from core.logging import get_logger
from core.settings import Settings, get_settings
from messages.delivery import DeliveryChannel, DispatcherInput, dispatcher_id
from service.upload_job import UploadActivities
from workflows.delivery import DeliveryDispatcherWorkflow
from workflows.digest import DigestWorkflow, apply_digest_schedule
from workflows.holding import HoldingWorkflow
from workflows.retention import AbroadRetentionWorkflow
from workflows.system_check import SystemCheckWorkflow
from workflows.transfer import TransferWorkflow
from workflows.upload import BulkUploadWorkflow

log = get_logger(__name__)


def workflow_runner() -> SandboxedWorkflowRunner:
    """The sandbox every workflow runs in (the worker and the replay tests alike).

    Its runtime restrictions stay on: a workflow that reads the clock, does I/O or starts a
    thread fails its task. Modules are passed through from the host instead of re-imported for
    each execution: our workflow modules hold no state of their own to isolate (constants,
    classes, pure functions; tests/workflows/test_transfer_paths.py checks that a whole transfer
    leaves every global of theirs as it was)."""
    return SandboxedWorkflowRunner(restrictions=SandboxRestrictions.default.with_passthrough_all_modules())


WORKFLOWS = [
    SystemCheckWorkflow,
    TransferWorkflow,
    AbroadRetentionWorkflow,
    HoldingWorkflow,
    BulkUploadWorkflow,
    DigestWorkflow,
    DeliveryDispatcherWorkflow,
]


def activities_for(engine: AsyncEngine, client: Client | None = None) -> list[Callable[..., Any]]:
    system = SystemActivities(engine)
    transfers = TransferActivities(engine, client)
    stay = StayAtSchoolActivities(engine)
    return [
        system.check_database,
        transfers.apply_event,
        transfers.follow_up_completion,
        stay.apply_retention_event,
        stay.apply_holding_event,
        # the bulk upload job: service-layer activities (they start rows through the one gate),
        # which BulkUploadWorkflow names by their registered names
        *UploadActivities(engine, client).all(),
        DigestActivities(engine).write_digests,
        # mail and webhooks, sent by the channels' dispatchers (workflows/delivery.py)
        DeliveryActivities(engine).dispatch,
    ]


def build_worker(client: Client, engine: AsyncEngine, *, task_queue: str) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        workflows=WORKFLOWS,
        activities=activities_for(engine, client),
        interceptors=[LogContextInterceptor()],
        # On SIGTERM (a deploy), running activities get this long to finish before cancellation.
        graceful_shutdown_timeout=timedelta(seconds=10),
        workflow_runner=workflow_runner(),
    )


async def start_dispatchers(client: Client, *, task_queue: str, settings: Settings | None = None) -> list[str]:
    """Start each channel's dispatcher unless it runs (webhooks always; mail when ZHTJ_SMTP_URL
    is set) and give a running one this worker's settings; returns their workflow ids."""
    s = settings or get_settings()
    channels = [DeliveryChannel.WEBHOOK] + ([DeliveryChannel.EMAIL] if s.smtp_url else [])
    ids = []
    for channel in channels:
        inp = DispatcherInput(
            channel=channel, poll_seconds=s.delivery_poll_seconds, heartbeat_seconds=s.delivery_heartbeat_seconds
        )
        handle = await client.start_workflow(
            DeliveryDispatcherWorkflow.run,
            inp,
            id=dispatcher_id(s.workflow_id_prefix, channel),
            task_queue=task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
            id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE,
        )
        await handle.signal(DeliveryDispatcherWorkflow.configure, inp)
        ids.append(handle.id)
    return ids


async def run_worker(client: Client, engine: AsyncEngine, *, task_queue: str) -> None:
    """Serve until SIGINT/SIGTERM, then finish in-flight tasks and stop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    worker = build_worker(client, engine, task_queue=task_queue)
    await apply_schedules(client, task_queue=task_queue)
    async with worker:
        try:
            dispatchers = await start_dispatchers(client, task_queue=task_queue)
        except Exception as e:  # noqa: BLE001 - the transfers run without them; the next worker starts them
            log.warning("delivery dispatchers not started", error=f"{type(e).__name__}: {e}")
        else:
            log.info("delivery dispatchers running", workflow_ids=dispatchers)
        log.info("worker started", task_queue=task_queue, namespace=client.namespace)
        await stop.wait()
        log.info("worker stopping", task_queue=task_queue)
    log.info("worker stopped", task_queue=task_queue)


async def apply_schedules(client: Client, *, task_queue: str) -> None:
    """Create (or bring up to date) the schedules the worker's workflows run on: the daily digest
    (`workflows.digest`). A server that refuses is logged, not fatal: transfers still run, and
    `zhtj schedules apply` can apply it later."""
    s = get_settings()
    try:
        outcome = await apply_digest_schedule(client, s, task_queue=task_queue)
    except RPCError as e:
        log.error("digest schedule not applied", schedule_id=s.digest_schedule_id, error=str(e))
        return
    log.info("digest schedule applied", schedule_id=s.digest_schedule_id, outcome=outcome)
