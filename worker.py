"""The worker: registers workflows and activities on the task queue and serves them."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client
from temporalio.worker import Worker
from temporalio.worker.workflow_sandbox import SandboxedWorkflowRunner, SandboxRestrictions

from activities.logging import LogContextInterceptor
from activities.stay_at_school import StayAtSchoolActivities
from activities.system import SystemActivities
from activities.transfers import TransferActivities
from core.logging import get_logger
from workflows.stay_at_school import AbroadRetentionWorkflow, HoldingWorkflow
from workflows.system_check import SystemCheckWorkflow
from workflows.transfer import TransferWorkflow

TASK_QUEUE = "zhtj-transfer"

log = get_logger(__name__)

#: Modules the workflow sandbox may take from the host as they are: our pure message types and
#: rules (pydantic models and dataclasses), nothing with I/O. Heavy modules (models, sqlalchemy)
#: stay out: workflow code never imports them.
PASSTHROUGH_MODULES: Sequence[str] = ("pydantic", "pydantic_core", "annotated_types", "messages", "domain")


def workflow_runner() -> SandboxedWorkflowRunner:
    """The sandbox every workflow runs in (the worker and the replay tests alike).

    Its runtime restrictions stay on: a workflow that reads the clock, does I/O or starts a
    thread fails its task. What is switched off is re-importing every module for each execution
    (`passthrough_all_modules`): that import was most of the CPU a new transfer costs the worker,
    and our workflow modules hold no state of their own to isolate (constants, classes, pure
    functions; tests/workflows/test_transfer_paths.py checks that a whole transfer leaves every
    global of theirs as it was)."""
    return SandboxedWorkflowRunner(
        restrictions=SandboxRestrictions.default.with_passthrough_modules(
            *PASSTHROUGH_MODULES
        ).with_passthrough_all_modules()
    )


WORKFLOWS = [SystemCheckWorkflow, TransferWorkflow, AbroadRetentionWorkflow, HoldingWorkflow]


def activities_for(engine: AsyncEngine, client: Client | None = None) -> list:
    system = SystemActivities(engine)
    transfers = TransferActivities(engine, client)
    stay = StayAtSchoolActivities(engine)
    return [
        system.check_database,
        transfers.apply_event,
        transfers.follow_up_completion,
        stay.apply_retention_event,
        stay.apply_holding_event,
    ]


def precompile_workflows() -> None:
    """Write the workflow modules' bytecode.

    The sandbox imports a workflow's module afresh for every workflow it runs; without a .pyc
    (PYTHONDONTWRITEBYTECODE, a fresh checkout) that means compiling the source each time, a
    tenth of the worker's CPU under load. A read-only install (pip-installed, or a container)
    already has its bytecode; failures here are harmless."""
    import compileall

    import workflows

    compileall.compile_dir(str(Path(workflows.__file__).parent), quiet=2)


def build_worker(client: Client, engine: AsyncEngine, *, task_queue: str = TASK_QUEUE) -> Worker:
    precompile_workflows()
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


async def run_worker(client: Client, engine: AsyncEngine, *, task_queue: str = TASK_QUEUE) -> None:
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
