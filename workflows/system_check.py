"""SystemCheckWorkflow: proves the whole path (client → server → worker → activity → database).

`zhtj dev` runs it after start and `zhtj check` runs it on demand, so a worker that cannot reach
the database, or a server whose task queue nobody polls, is found before the first transfer.
"""

from __future__ import annotations

from datetime import timedelta

from temporalio import workflow
from temporalio.common import RetryPolicy

with workflow.unsafe.imports_passed_through():
    from activities.system import SystemActivities
    from messages.system import SystemCheckResult


@workflow.defn
class SystemCheckWorkflow:
    @workflow.run
    async def run(self) -> SystemCheckResult:
        return await workflow.execute_activity_method(
            SystemActivities.check_database,
            start_to_close_timeout=timedelta(seconds=30),
            retry_policy=RetryPolicy(maximum_attempts=3, initial_interval=timedelta(seconds=1)),
        )
