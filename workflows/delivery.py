"""DeliveryDispatcherWorkflow: one long-running execution per channel (email, webhook) and database,
id `delivery-<prefix>-<channel>`, started by every worker if it is not running (`worker.py`).

It runs the channel's `dispatch` activity (`activities/delivery.py`) slice after slice: each slice
queues the outbox's work as deliveries and sends what is due, heartbeating; a worker killed
mid-slice misses its heartbeats and the slice is retried on another worker (without a limit: the
dispatcher never gives up; each delivery gives up by itself after a day). After `slices_per_run`
slices it continues as new, so its history stays short. Transfers never wait for it: they only
write outbox rows in their own transactions.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from messages.delivery import DISPATCH_ACTIVITY, DispatcherInput, DispatchReport, DispatchSlice

#: A slice that failed (database down, worker gone) is tried again after 1 s, doubling up to 30 s.
SLICE_RETRY = RetryPolicy(
    initial_interval=timedelta(seconds=1), backoff_coefficient=2.0, maximum_interval=timedelta(seconds=30)
)


@workflow.defn
class DeliveryDispatcherWorkflow:
    def __init__(self) -> None:
        self._config: DispatcherInput | None = None
        self._stop = False

    @workflow.run
    async def run(self, inp: DispatcherInput) -> None:
        self._config = inp
        for _ in range(inp.slices_per_run):
            cfg = self._config
            await workflow.execute_activity(
                DISPATCH_ACTIVITY,
                DispatchSlice(channel=cfg.channel, seconds=cfg.slice_seconds, poll_seconds=cfg.poll_seconds),
                result_type=DispatchReport,
                start_to_close_timeout=timedelta(seconds=cfg.slice_seconds * 2 + 60),
                heartbeat_timeout=timedelta(seconds=cfg.heartbeat_seconds),
                retry_policy=SLICE_RETRY,
            )
            if self._stop:
                return
        await workflow.wait_condition(workflow.all_handlers_finished)
        workflow.continue_as_new(self._config)

    @workflow.signal
    def configure(self, inp: DispatcherInput) -> None:
        """A worker's settings (poll interval, heartbeat timeout), from its next slice on."""
        if self._config is None or inp.channel == self._config.channel:
            self._config = inp

    @workflow.signal
    def stop(self) -> None:
        """End after the current slice (an operator's graceful stop; the next worker to start
        starts it again)."""
        self._stop = True
