"""The bare baseline: a workflow with the same activities and updates as a two-node transfer with
branch assignment, doing nothing in them. Run its worker with `python -m bench.bare worker`.

Its worker runs the workflow with the same runner as ours (worker.workflow_runner: the sandbox's
restrictions without per-execution imports), so the ratio measures what our workflow, activities
and service layer add to Temporal, not the choice of runner; with BARE_RUNNER=unsandboxed it runs
without any sandbox, the cheapest Temporal can be, for the strict ratio. Its updates answer with a
small value; ours answer with the transfer's state."""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta

from temporalio import activity, workflow
from temporalio.client import Client, WithStartWorkflowOperation
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.worker import Worker

TASK_QUEUE = "zhtj-bench-bare"
ACTIVITIES_PER_TRANSFER = 7  # started, approved, pending, approved, awaiting, assigned, completed
UPDATES_PER_TRANSFER = 4  # recorded (with the start), approve, approve, assign


@activity.defn
async def noop(step: int) -> int:
    return step


@workflow.defn
class BareTransfer:
    def __init__(self) -> None:
        self.decided = 0
        self.waits = 0
        self.written = False
        self.done = False

    async def _act(self, step: int) -> None:
        await workflow.execute_activity(noop, step, start_to_close_timeout=timedelta(seconds=30))

    async def _wait_decision(self, n: int) -> None:
        self.waits += 1
        await workflow.wait_condition(lambda: self.decided >= n)

    @workflow.run
    async def run(self) -> int:
        await self._act(1)  # started (first node pending)
        self.written = True
        await self._wait_decision(1)
        await self._act(3)  # second node pending
        await self._wait_decision(2)
        await self._act(5)  # awaiting assignment
        await self._wait_decision(3)
        await self._act(7)  # completed
        self.done = True
        await workflow.wait_condition(workflow.all_handlers_finished)
        return 7

    @workflow.update
    async def recorded(self) -> int:
        await workflow.wait_condition(lambda: self.written)
        return 1

    @workflow.update
    async def decide(self, step: int) -> int:
        mark = self.waits
        await self._act(step)
        self.decided += 1
        await workflow.wait_condition(lambda: self.waits > mark or self.done)
        return step


async def run_one(client: Client, wid: str) -> None:
    op = WithStartWorkflowOperation(
        BareTransfer.run, id=wid, task_queue=TASK_QUEUE, id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING
    )
    await client.execute_update_with_start_workflow(BareTransfer.recorded, start_workflow_operation=op)
    handle = client.get_workflow_handle(wid)
    for step in (2, 4, 6):
        await handle.execute_update(BareTransfer.decide, step)
    await handle.result()


async def _worker() -> None:
    import signal

    from temporalio.worker import UnsandboxedWorkflowRunner

    from bench import bare  # the workflow from its module, not from __main__ (the sandbox imports it by name)
    from worker import workflow_runner

    client = await Client.connect(os.environ["TEMPORAL_ADDRESS"])
    runner = UnsandboxedWorkflowRunner() if os.environ.get("BARE_RUNNER") == "unsandboxed" else workflow_runner()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with Worker(
        client, task_queue=TASK_QUEUE, workflows=[bare.BareTransfer], activities=[bare.noop], workflow_runner=runner
    ):
        print("bare worker started", flush=True)
        await stop.wait()


if __name__ == "__main__":
    import sys

    if sys.argv[1:] == ["worker"]:
        asyncio.run(_worker())
        sys.stdout.flush()
        os._exit(0)
