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
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.logging import LogContextInterceptor
from activities.stay_at_school import StayAtSchoolActivities
from activities.system import SystemActivities
from activities.transfers import TransferActivities
from core.logging import get_logger
from service.upload_job import UploadActivities
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


WORKFLOWS = [SystemCheckWorkflow, TransferWorkflow, AbroadRetentionWorkflow, HoldingWorkflow, BulkUploadWorkflow]


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


async def run_worker(client: Client, engine: AsyncEngine, *, task_queue: str) -> None:
    """Serve until SIGINT/SIGTERM, then finish in-flight tasks and stop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    worker = build_worker(client, engine, task_queue=task_queue)
    async with worker:
        log.info("worker started", task_queue=task_queue, namespace=client.namespace)
        await stop.wait()
        log.info("worker stopping", task_queue=task_queue)
    log.info("worker stopped", task_queue=task_queue)
