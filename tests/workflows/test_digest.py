"""DigestWorkflow (on the time-skipping server, the restart on the dev server): each admin's digest
of a day is written once, however often the day is run, an attempt retried or the worker
restarted under it."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

import pytest
from sqlalchemy import select
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError
from temporalio.worker import Worker

from activities.digest import DigestActivities, digest_rows
from core.clock import Calendar
from domain.deadlines import SHANGHAI, shanghai_date
from domain.digest import DIGEST_KIND
from domain.orgs import OrgKind
from domain.roles import Role
from messages.digest import WRITE_DIGESTS_ACTIVITY, DigestInput, DigestRequest, DigestResult
from models import ApprovalStep, Notification, Transfer, User
from models.db import session_factory, session_scope, transaction
from models.tables import AbroadRetention
from tests.factories import add_member, add_org, add_user
from worker import workflow_runner
from workflows.digest import DigestWorkflow

DAY = date(2026, 6, 20)


def at(day: date, hour: int = 10) -> datetime:
    """`hour` o'clock of a Shanghai calendar day, as an aware instant."""
    return datetime.combine(day, time(hour), tzinfo=SHANGHAI).astimezone(UTC)


@dataclass
class Directory:
    """Who is who in the test's tree (user ids by role)."""

    province: int
    city: int
    township: int
    school: int
    idle: int  # an admin with nothing to do
    inactive: int  # an admin whose login is switched off


async def pending_transfer(s, member, node_org, *, begun: datetime, scale: float, status="pending", step="pending"):
    t = Transfer(
        workflow_id=f"transfer-{uuid.uuid4().hex[:8]}",
        run_id=uuid.uuid4().hex,
        member_id=member.id,
        type="unemployed",
        channel="out",
        status=status,
        from_org_id=member.branch_id,
        target_org_id=node_org.id,
        current_node_org_id=node_org.id,
    )
    s.add(t)
    await s.flush()
    s.add(
        ApprovalStep(
            transfer_id=t.id,
            seq=1,
            org_id=node_org.id,
            status=step,
            started_at=begun,
            remind_at=begun + timedelta(days=10) / scale,
            deadline=begun + timedelta(days=15) / scale,
        )
    )
    return t


async def build_directory(
    engine, day: date = DAY, when: Callable[[date], datetime] = at, scale: float = 1.0
) -> Directory:
    """A province → city → township, and a school under the city, with their admins and nodes, on
    `day` (`when`: the real instant of 10:00 of a calendar day; `scale`: the clocks' time scale):

    - township: a transfer pending 12 days (overdue);
    - school: a transfer pending 14 days (overdue, and the system approves it tomorrow) and a
      retention application pending 11 days (overdue);
    - township 2: a transfer pending 2 days (nothing to say), and an old decided node;
    """
    async with session_scope(engine) as s:
        province = await add_org(s, "P", OrgKind.PROVINCE, name="省团委")
        city = await add_org(s, "P-C", OrgKind.CITY, parent=province, name="市团委")
        county = await add_org(s, "P-C-X", OrgKind.COUNTY, parent=city, name="区团委")
        township = await add_org(s, "P-C-X-T", OrgKind.TOWNSHIP, parent=county, name="甲街道团工委")
        township2 = await add_org(s, "P-C-X-T2", OrgKind.TOWNSHIP, parent=county, name="乙街道团工委")
        school = await add_org(s, "P-S", OrgKind.SCHOOL, parent=city, name="某大学团委")
        college = await add_org(s, "P-S-1", OrgKind.COLLEGE, parent=school, name="某学院团委")
        branch = await add_org(s, "P-S-1-B", OrgKind.BRANCH, parent=college, name="2022级团支部")
        abroad = await add_org(s, "P-S-A", OrgKind.ABROAD_STUDY_BRANCH, parent=school, name="出国团支部")
        members = [await add_member(s, branch, name=n) for n in ("张一", "李二", "王三", "赵四", "钱五")]

        def before(n: int) -> datetime:
            return when(day - timedelta(days=n))

        await pending_transfer(s, members[0], township, begun=before(12), scale=scale)
        await pending_transfer(s, members[1], school, begun=before(14), scale=scale)
        await pending_transfer(s, members[2], township2, begun=before(2), scale=scale)
        await pending_transfer(
            s, members[4], township2, begun=before(40), scale=scale, status="completed", step="approved"
        )
        submitted = before(11)
        s.add(
            AbroadRetention(
                workflow_id=f"retention-{members[3].id}",
                run_id=uuid.uuid4().hex,
                member_id=members[3].id,
                school_id=school.id,
                from_branch_id=branch.id,
                branch_id=abroad.id,
                abroad_place="英国",
                abroad_from=day,
                abroad_to=day + timedelta(days=365),
                contact_name="赵父",
                contact_phone="13800000000",
                status="pending",
                submitted_at=submitted,
                remind_at=submitted + timedelta(days=10) / scale,
                deadline=submitted + timedelta(days=15) / scale,
            )
        )
        users = {
            name: (await add_user(s, name, Role.ADMIN, org=org)).id
            for name, org in (
                ("province", province),
                ("city", city),
                ("township", township),
                ("school", school),
                ("idle", township2),
                ("inactive", province),
            )
        }
        await add_user(s, "member-zhang", Role.MEMBER, member=members[0])
        await add_user(s, "service", Role.SERVICE, org=school)
        (await s.get(User, users["inactive"])).active = False
    return Directory(**users)


async def digests(engine) -> list[Notification]:
    async with session_factory(engine)() as s:
        rows = await s.execute(select(Notification).where(Notification.kind == DIGEST_KIND).order_by(Notification.key))
        return list(rows.scalars())


def expect(d: Directory, day: date) -> dict[str, int]:
    """The digests of `day`: key → the admin's user id."""
    return {f"digest/{u}/{day.isoformat()}/0": u for u in (d.province, d.city, d.township, d.school)}


@pytest.fixture
async def tree(engine):
    return await build_directory(engine)


def worker(client: Client, activities: DigestActivities, task_queue: str) -> Worker:
    return Worker(
        client,
        task_queue=task_queue,
        workflows=[DigestWorkflow],
        activities=[activities.write_digests],
        workflow_runner=workflow_runner(),
    )


async def run_digest(client: Client, task_queue: str, day: date | None = DAY) -> DigestResult:
    return await client.execute_workflow(
        DigestWorkflow.run,
        DigestInput(day=day),
        id=f"digest-test-{uuid.uuid4().hex[:8]}",
        task_queue=task_queue,
        result_type=DigestResult,
        execution_timeout=timedelta(days=1),
    )


async def test_each_admin_gets_one_digest_of_the_day_even_run_twice(time_skipping_env, engine, tree, task_queue):
    client = time_skipping_env.client
    async with worker(client, DigestActivities(engine), task_queue):
        first = await run_digest(client, task_queue)
        second = await run_digest(client, task_queue)
    assert first == DigestResult(day=DAY, admins=4, written=4, existing=0)
    assert second == DigestResult(day=DAY, admins=4, written=0, existing=4)
    rows = await digests(engine)
    assert {r.key: r.recipient_user_id for r in rows} == expect(tree, DAY)
    by_user = {r.recipient_user_id: r for r in rows}
    assert all(r.recipient_org_id is None and r.transfer_id is None for r in rows)
    # the province and the city act for everything below them; the school and the township for their own
    assert by_user[tree.province].title == "每日待办（6月20日）：超过10天未审批3件，明日系统默认通过1件"
    assert by_user[tree.city].body == by_user[tree.province].body
    assert by_user[tree.school].title == "每日待办（6月20日）：超过10天未审批2件，明日系统默认通过1件"
    assert by_user[tree.township].title == "每日待办（6月20日）：超过10天未审批1件"
    school = by_user[tree.school].body
    assert "· 李二的转接申请，待某大学团委审批，已等待14天" in school
    assert "· 赵四的出国（境）学习研究保留团组织关系申请，待某大学团委审批，已等待11天" in school
    assert "明日（2026-06-21）将由系统默认通过（1件）：\n· 李二的转接申请，待某大学团委审批" in school
    assert "张一" not in school and "王三" not in by_user[tree.province].body


async def test_another_day_gets_its_own_digest(time_skipping_env, engine, tree, task_queue):
    client = time_skipping_env.client
    async with worker(client, DigestActivities(engine), task_queue):
        await run_digest(client, task_queue, DAY)
        nxt = await run_digest(client, task_queue, DAY + timedelta(days=1))
    # 06-21: the school's transfer reaches its deadline today (no longer "tomorrow"); still overdue
    assert nxt == DigestResult(day=DAY + timedelta(days=1), admins=4, written=4, existing=0)
    rows = await digests(engine)
    assert {r.key for r in rows} == set(expect(tree, DAY)) | set(expect(tree, DAY + timedelta(days=1)))
    later = {r.recipient_user_id: r for r in rows if r.key.endswith("2026-06-21/0")}
    assert later[tree.school].title == "每日待办（6月21日）：超过10天未审批2件"


class FailsAfterCommit(DigestActivities):
    """The first attempt writes every digest, commits and then fails (its answer is lost)."""

    @activity.defn(name=WRITE_DIGESTS_ACTIVITY)
    async def write_digests(self, req: DigestRequest) -> DigestResult:
        result = await super().write_digests(req)
        if activity.info().attempt == 1:
            raise ApplicationError("lost after the commit")
        return result


async def test_a_retried_attempt_writes_nothing_twice(time_skipping_env, engine, tree, task_queue):
    client = time_skipping_env.client
    async with worker(client, FailsAfterCommit(engine), task_queue):
        result = await run_digest(client, task_queue)
    assert result == DigestResult(day=DAY, admins=4, written=0, existing=4)
    assert {r.key: r.recipient_user_id for r in await digests(engine)} == expect(tree, DAY)


class DiesAfterOne(DigestActivities):
    """Writes one admin's digest, commits, and hangs until its worker goes away under it."""

    def __init__(self, engine) -> None:
        super().__init__(engine)
        self.hanging = asyncio.Event()

    @activity.defn(name=WRITE_DIGESTS_ACTIVITY)
    async def write_digests(self, req: DigestRequest) -> DigestResult:
        async with transaction(self.engine) as conn:
            rows = await digest_rows(conn, self.calendar, req.day or self.calendar.today(req.at))
            await self.write_rows(conn, rows[:1])
        self.hanging.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def test_a_worker_restart_during_a_run_loses_nothing(dev_env, engine, tree, task_queue):
    """On the dev server (the time-skipping one does not move a workflow off the sticky queue of
    a worker that went away): the second worker replays the run and writes what is missing."""
    client = dev_env.client
    dying = DiesAfterOne(engine)
    first = worker(client, dying, task_queue)
    handle = await client.start_workflow(
        DigestWorkflow.run,
        DigestInput(day=DAY),
        id=f"digest-test-{uuid.uuid4().hex[:8]}",
        task_queue=task_queue,
        execution_timeout=timedelta(days=1),
    )
    async with first:
        await asyncio.wait_for(dying.hanging.wait(), timeout=30)
    assert len(await digests(engine)) == 1  # the first worker is gone with one digest written
    async with worker(client, DigestActivities(engine), task_queue):
        result = await asyncio.wait_for(handle.result(), timeout=120)
    assert result.day == DAY and result.admins == 4 and result.written == 3 and result.existing == 1
    assert {r.key: r.recipient_user_id for r in await digests(engine)} == expect(tree, DAY)


async def test_without_a_day_the_run_writes_the_calendar_day_of_its_start(time_skipping_env, engine, tree, task_queue):
    """Started by hand (no schedule): the calendar's day at the workflow's start."""
    client = time_skipping_env.client
    async with worker(client, DigestActivities(engine), task_queue):
        handle = await client.start_workflow(
            DigestWorkflow.run,
            DigestInput(),
            id=f"digest-test-{uuid.uuid4().hex[:8]}",
            task_queue=task_queue,
            execution_timeout=timedelta(days=1),
        )
        result = await handle.result()
    started = (await handle.fetch_history()).events[0].event_time.ToDatetime(tzinfo=UTC)
    assert result.day == shanghai_date(started)
    rows = await digests(engine)
    assert len(rows) == result.admins == result.written
    assert all(r.key.endswith(f"/{result.day.isoformat()}/0") for r in rows)


async def test_a_rehearsal_counts_rehearsed_days(engine, tree):
    """The activity alone: the run's instant and the nodes' instants become days of the rehearsal
    (here the calendar runs at real speed from 2040-01-01, which began at DAY's midnight)."""
    cal = Calendar(start=date(2040, 1, 1), epoch=at(DAY, 0).timestamp(), scale=1.0)
    result = await DigestActivities(engine, cal).write_digests(DigestRequest(at=at(DAY, 12)))
    assert result == DigestResult(day=date(2040, 1, 1), admins=4, written=4, existing=0)
    rows = {r.recipient_user_id: r for r in await digests(engine)}
    assert set(rows) == set(expect(tree, DAY).values())
    assert rows[tree.province].title == "每日待办（1月1日）：超过10天未审批3件，明日系统默认通过1件"
    assert "明日（2040-01-02）" in rows[tree.province].body
    # a rehearsed day of a second: the same run's instant is 12 hours × 86400 = 43200 days later
    fast = Calendar(start=date(2040, 1, 1), epoch=at(DAY, 0).timestamp(), scale=86400.0)
    assert (await DigestActivities(engine, fast).write_digests(DigestRequest(at=at(DAY, 12)))).day == date(
        2040, 1, 1
    ) + timedelta(days=43200)


async def test_with_smtp_configured_each_new_digest_is_queued_for_mail_once(engine, tree, monkeypatch):
    """The digest reaches the admin by email too: the rows a run writes queue their mail in the
    same transaction (the delivery dispatcher sends it to the admin's address); a second run of
    the day writes no digest and queues no mail."""
    from core.settings import reset_settings_cache
    from models.tables import DeliveryOutbox

    monkeypatch.setenv("ZHTJ_SMTP_URL", "smtp://127.0.0.1:2525")
    reset_settings_cache()
    try:
        acts = DigestActivities(engine)
        await acts.write_digests(DigestRequest(day=DAY, at=at(DAY)))
        await acts.write_digests(DigestRequest(day=DAY, at=at(DAY)))
    finally:
        monkeypatch.delenv("ZHTJ_SMTP_URL")
        reset_settings_cache()
    async with session_factory(engine)() as s:
        queued = (await s.execute(select(DeliveryOutbox))).scalars().all()
    assert sorted((q.channel, f"{q.event_key}/0", q.notifications) for q in queued) == sorted(
        ("email", key, 1) for key in expect(tree, DAY)
    )
