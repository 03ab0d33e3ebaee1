"""DigestWorkflow and its schedule: each admin's daily digest (`domain.digest`), once a calendar day.

**The schedule.** A Temporal Schedule (`zhtj-daily-digest`, ZHTJ_DIGEST_SCHEDULE_ID; visible in
Temporal UI under Schedules) starts the workflow at 08:00 (Asia/Shanghai) of each calendar day: every
day, or under ZHTJ_TIME_SCALE every rehearsed day (a day divided by the scale, phased on the
rehearsal's epoch). The worker applies it at start and `zhtj schedules apply` on demand
(`apply_digest_schedule`): created when missing, else brought to this spec, keeping its state (an
operator's pause stays). A run still going when the next is due makes the schedule skip that one.

**The run.** The day is the calendar day of the schedule's action time (the
`TemporalScheduledStartTime` search attribute the schedule sets; the workflow's start time when
started by hand), so a late or caught-up run still writes the day it was for. One activity writes
each admin's digest of that day once (key `digest/<user id>/<date>`): its input, recorded in
history, carries that instant, so a retried attempt, a replay after a worker restart or a second
run of the same day writes the digests that are missing and nothing twice.
"""

from __future__ import annotations

import dataclasses
from datetime import timedelta
from typing import Literal

from temporalio import workflow
from temporalio.client import (
    Client,
    Schedule,
    ScheduleActionStartWorkflow,
    ScheduleAlreadyRunningError,
    ScheduleIntervalSpec,
    ScheduleOverlapPolicy,
    SchedulePolicy,
    ScheduleSpec,
    ScheduleState,
    ScheduleUpdate,
    ScheduleUpdateInput,
)
from temporalio.common import RetryPolicy, SearchAttributeKey

with workflow.unsafe.imports_passed_through():
    from core.clock import calendar
    from core.settings import Settings
    from domain.deadlines import shanghai_midnight
    from domain.digest import DIGEST_HOUR, schedule_timing
    from messages.digest import (
        DIGEST_WORKFLOW,
        SCHEDULED_START_TIME,
        WRITE_DIGESTS_ACTIVITY,
        DigestInput,
        DigestRequest,
        DigestResult,
    )

#: One attempt reads what is pending and writes every admin's digest in one transaction.
WRITE_TIMEOUT = timedelta(minutes=1)
#: Retried with backoff for up to an hour (a database restart); then the run fails, visibly, and
#: the next day's run is the next chance.
WRITE_RETRY = RetryPolicy(initial_interval=timedelta(seconds=1), maximum_interval=timedelta(minutes=1))
WRITE_GIVE_UP = timedelta(hours=1)
SCHEDULED_AT = SearchAttributeKey.for_datetime(SCHEDULED_START_TIME)


@workflow.defn(name=DIGEST_WORKFLOW)
class DigestWorkflow:
    @workflow.run
    async def run(self, inp: DigestInput) -> DigestResult:
        info = workflow.info()
        at = info.typed_search_attributes.get(SCHEDULED_AT) or info.workflow_start_time
        result: DigestResult = await workflow.execute_activity(
            WRITE_DIGESTS_ACTIVITY,
            DigestRequest(at=at, day=inp.day),
            result_type=DigestResult,
            start_to_close_timeout=WRITE_TIMEOUT,
            schedule_to_close_timeout=WRITE_GIVE_UP,
            retry_policy=WRITE_RETRY,
        )
        return result


# --- the schedule (client side: the worker at start, `zhtj schedules apply`) ----------------------

#: A missed action (the server was down) is still taken within this long after its time.
CATCHUP_MIN = timedelta(minutes=1)


def digest_schedule(settings: Settings, *, task_queue: str | None = None) -> Schedule:
    """The schedule of these settings: DigestWorkflow at 08:00 of each calendar day."""
    cal = calendar(settings)
    # a Unix time at which a calendar day began: the rehearsal's first day, or a Shanghai midnight
    day_began_at = cal.epoch if cal.rehearsal else shanghai_midnight(cal.today()).timestamp()
    every, offset = schedule_timing(settings.time_scale, day_began_at)
    return Schedule(
        action=ScheduleActionStartWorkflow(
            DigestWorkflow.run,
            DigestInput(),
            id=settings.digest_schedule_id,
            task_queue=task_queue or settings.task_queue,
        ),
        spec=ScheduleSpec(intervals=[ScheduleIntervalSpec(every=every, offset=offset)]),
        policy=SchedulePolicy(overlap=ScheduleOverlapPolicy.SKIP, catchup_window=max(every, CATCHUP_MIN)),
        state=ScheduleState(note=f"每日待办摘要：每个日历日{DIGEST_HOUR}:00（Asia/Shanghai）为每位组织管理员写一次"),
    )


def _same(have: Schedule, want: Schedule) -> bool:
    """Whether the schedule on the server already does what `want` says."""

    def intervals(s: Schedule) -> list[tuple[timedelta, timedelta]]:
        return [(i.every, i.offset or timedelta(0)) for i in s.spec.intervals]

    a, b = have.action, want.action
    return (
        isinstance(a, ScheduleActionStartWorkflow)
        and isinstance(b, ScheduleActionStartWorkflow)
        and (a.workflow, a.id, a.task_queue) == (b.workflow, b.id, b.task_queue)
        and intervals(have) == intervals(want)
        and not have.spec.calendars
        and not have.spec.cron_expressions
        and (have.policy.overlap, have.policy.catchup_window) == (want.policy.overlap, want.policy.catchup_window)
    )


async def apply_digest_schedule(
    client: Client, settings: Settings, *, task_queue: str | None = None
) -> Literal["created", "updated", "unchanged"]:
    """Create the digest schedule, or bring an existing one to these settings (keeping its state:
    paused or not, its note). Idempotent: every worker start and `zhtj schedules apply` call it."""
    want = digest_schedule(settings, task_queue=task_queue)
    try:
        await client.create_schedule(settings.digest_schedule_id, want)
        return "created"
    except ScheduleAlreadyRunningError:
        pass
    changed = False

    def update(inp: ScheduleUpdateInput) -> ScheduleUpdate | None:
        nonlocal changed
        have = inp.description.schedule
        if _same(have, want):
            return None
        changed = True
        return ScheduleUpdate(schedule=dataclasses.replace(want, state=have.state))

    await client.get_schedule_handle(settings.digest_schedule_id).update(update)
    return "updated" if changed else "unchanged"
