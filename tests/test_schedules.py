"""The daily digest's Temporal Schedule on the dev server (the time-skipping server has no
Schedules): `zhtj schedules apply` and the worker create it idempotently; triggered, it writes each
admin's digest of the day once; under a rehearsal it fires once a rehearsed day."""

from __future__ import annotations

import asyncio
import signal
import subprocess
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select
from temporalio.client import (
    Client,
    ScheduleActionStartWorkflow,
    ScheduleHandle,
    ScheduleOverlapPolicy,
)
from temporalio.service import RPCError
from temporalio.worker import Worker

from activities.digest import DigestActivities
from core.clock import Calendar, calendar
from core.settings import Settings
from domain.deadlines import SHANGHAI, shanghai_midnight
from domain.digest import DIGEST_KIND
from messages.digest import DIGEST_WORKFLOW, DigestResult
from models import Notification
from models.db import session_factory
from tests.workflows.test_digest import Directory, build_directory
from worker import build_worker, workflow_runner
from workflows.digest import DigestWorkflow, apply_digest_schedule

ZHTJ = str(Path(sys.executable).parent / "zhtj")
#: The calendar variables of the environment the tests run in, which the processes they start must
#: not inherit: these tests choose their calendar.
CALENDAR_VARS = ("ZHTJ_TIME_SCALE", "ZHTJ_REHEARSAL_START", "ZHTJ_REHEARSAL_EPOCH")


@pytest.fixture
def schedule_id() -> str:
    return f"digest-test-{uuid.uuid4().hex[:10]}"


@pytest.fixture
async def schedule(dev_env, schedule_id):
    """The test's schedule handle; deleted at the end, so it never fires for a later test."""
    handle = dev_env.client.get_schedule_handle(schedule_id)
    yield handle
    try:
        await handle.delete()
    except RPCError:
        pass


@pytest.fixture
def env(cli_env, dev_env, task_queue, schedule_id) -> dict[str, str]:
    e = {k: v for k, v in cli_env.items() if k not in CALENDAR_VARS}
    e.update(
        TEMPORAL_ADDRESS=dev_env.client.service_client.config.target_host,
        ZHTJ_TASK_QUEUE=task_queue,
        ZHTJ_DIGEST_SCHEDULE_ID=schedule_id,
    )
    return e


def today() -> date:
    return Calendar().today()


def zhtj(*args: str, env: dict[str, str]) -> str:
    done = subprocess.run([ZHTJ, *args], env=env, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


async def digests(engine) -> dict[str, int]:
    """The digests written: key → the admin's user id."""
    async with session_factory(engine)() as s:
        rows = await s.execute(select(Notification).where(Notification.kind == DIGEST_KIND))
        return {r.key: r.recipient_user_id for r in rows.scalars()}


def expect(d: Directory, day: date) -> dict[str, int]:
    return {f"digest/{u}/{day.isoformat()}/0": u for u in (d.province, d.city, d.township, d.school)}


async def trigger(client: Client, handle: ScheduleHandle, timeout: float = 60) -> DigestResult:
    """Trigger the schedule now and wait for the run it starts."""

    def runs(actions):  # a run started in the same second as another has the same workflow id
        return {(a.action.workflow_id, a.action.first_execution_run_id): a for a in actions}

    before = runs((await handle.describe()).info.recent_actions)
    await handle.trigger()
    deadline = time.monotonic() + timeout
    while True:
        new = [a for k, a in runs((await handle.describe()).info.recent_actions).items() if k not in before]
        if new:
            break
        assert time.monotonic() < deadline, "the trigger started no run"
        await asyncio.sleep(0.1)
    run = new[0].action
    h = client.get_workflow_handle(run.workflow_id, run_id=run.first_execution_run_id, result_type=DigestResult)
    return await asyncio.wait_for(h.result(), timeout=timeout)


async def test_schedules_apply_creates_it_once_and_a_trigger_writes_each_digest_once(
    dev_env, engine, env, schedule, schedule_id, task_queue
):
    assert f"schedule {schedule_id} created" in zhtj("schedules", "apply", env=env)
    assert f"schedule {schedule_id} unchanged" in zhtj("schedules", "apply", env=env)

    desc = await schedule.describe()
    action = desc.schedule.action
    assert isinstance(action, ScheduleActionStartWorkflow)
    assert (action.workflow, action.id, action.task_queue) == (DIGEST_WORKFLOW, schedule_id, task_queue)
    # every day at 00:00 UTC, which is 08:00 in Shanghai
    assert [(i.every, i.offset or timedelta(0)) for i in desc.schedule.spec.intervals] == [
        (timedelta(days=1), timedelta(0))
    ]
    assert desc.schedule.policy.overlap == ScheduleOverlapPolicy.SKIP
    assert "每日待办摘要" in (desc.schedule.state.note or "")
    nxt = desc.info.next_action_times[0].astimezone(SHANGHAI)
    assert (nxt.hour, nxt.minute, nxt.second) == (8, 0, 0)

    day = today()
    tree = await build_directory(engine, day)
    client = dev_env.client
    async with build_worker(client, engine, task_queue=task_queue):  # the worker's own composition
        first = await trigger(client, schedule)
        second = await trigger(client, schedule)
    assert first == DigestResult(day=day, admins=4, written=4, existing=0)
    assert second == DigestResult(day=day, admins=4, written=0, existing=4)
    assert await digests(engine) == expect(tree, day)


def spawn_worker(env: dict[str, str], log: Path) -> subprocess.Popen:
    with open(log, "ab") as out:
        proc = subprocess.Popen([ZHTJ, "worker"], env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while b'"worker started"' not in log.read_bytes():
        assert proc.poll() is None, log.read_text(errors="replace")
        assert time.monotonic() < deadline, "worker did not start"
        time.sleep(0.1)
    return proc


def stop(proc: subprocess.Popen) -> None:
    proc.send_signal(signal.SIGTERM)
    proc.wait(timeout=30)


async def test_the_worker_creates_the_schedule_at_start(dev_env, engine, env, schedule, schedule_id, tmp_path):
    day = today()
    tree = await build_directory(engine, day)
    log = tmp_path / "worker.log"
    worker = spawn_worker(env, log)
    try:
        assert '"outcome": "created"' in log.read_text()
        desc = await schedule.describe()
        assert isinstance(desc.schedule.action, ScheduleActionStartWorkflow)
        assert desc.schedule.action.task_queue == env["ZHTJ_TASK_QUEUE"]
        assert await trigger(dev_env.client, schedule) == DigestResult(day=day, admins=4, written=4, existing=0)
    finally:
        stop(worker)
    # a restart finds the schedule as it is, and a second run of the day writes nothing twice
    log.write_bytes(b"")
    worker = spawn_worker(env, log)
    try:
        assert '"outcome": "unchanged"' in log.read_text()
        assert await trigger(dev_env.client, schedule) == DigestResult(day=day, admins=4, written=0, existing=4)
    finally:
        stop(worker)
    assert await digests(engine) == expect(tree, day)


REHEARSAL_START = date(2026, 6, 20)
SCALE = 86400.0


async def test_a_rehearsal_gets_one_digest_each_rehearsed_day(dev_env, engine, schedule, schedule_id, task_queue):
    """ZHTJ_TIME_SCALE=86400: the schedule fires every second, at 08:00 of each rehearsed day, and
    each run writes the digests of its own rehearsed day."""
    settings = Settings(
        ZHTJ_TIME_SCALE=SCALE,
        ZHTJ_REHEARSAL_START=REHEARSAL_START,
        ZHTJ_REHEARSAL_EPOCH=time.time(),
        ZHTJ_TASK_QUEUE=task_queue,
        ZHTJ_DIGEST_SCHEDULE_ID=schedule_id,
    )
    cal = calendar(settings)

    def rehearsed(d: date) -> datetime:
        """The real instant at which the rehearsal is at 10:00 of day `d`."""
        since_start = shanghai_midnight(d) + timedelta(hours=10) - shanghai_midnight(REHEARSAL_START)
        return datetime.fromtimestamp(cal.epoch, UTC) + since_start / SCALE

    tree = await build_directory(engine, REHEARSAL_START, rehearsed, SCALE)
    client = dev_env.client
    assert await apply_digest_schedule(client, settings) == "created"
    assert await apply_digest_schedule(client, settings) == "unchanged"
    desc = await schedule.describe()
    assert desc.schedule.spec.intervals[0].every == timedelta(seconds=1)
    async with Worker(
        client,
        task_queue=task_queue,
        workflows=[DigestWorkflow],
        activities=[DigestActivities(engine, cal).write_digests],
        workflow_runner=workflow_runner(),
    ):
        await asyncio.sleep(4.5)
        await schedule.pause()
        runs = (await schedule.describe()).info.recent_actions
        results = [
            await client.get_workflow_handle(
                r.action.workflow_id, run_id=r.action.first_execution_run_id, result_type=DigestResult
            ).result()
            for r in runs
        ]
    days = [r.day for r in results]
    assert len(days) >= 3
    assert len(set(days)) == len(days), "two runs wrote the same rehearsed day"
    assert all(r.written == 4 and r.existing == 0 for r in results)
    assert all(REHEARSAL_START <= d <= cal.today() for d in days)
    # each run's day is the rehearsed day of its scheduled time, a second (a rehearsed day) apart
    for r, result in zip(runs, results):
        assert cal.today(r.scheduled_at) == result.day
    rows = await digests(engine)
    assert rows == {k: v for d in days for k, v in expect(tree, d).items()}
    # the school's transfer is approved by the system on 06-21, its retention application on 06-24
    async with session_factory(engine)() as s:
        school = {
            r.key.split("/")[2]: r.title  # digest/<user>/<date>/0
            for r in (await s.execute(select(Notification).where(Notification.recipient_user_id == tree.school)))
            .scalars()
            .all()
        }
    for d in days:
        due = d in (REHEARSAL_START, REHEARSAL_START + timedelta(days=3))
        assert ("明日系统默认通过1件" in school[d.isoformat()]) is due, (d, school[d.isoformat()])
