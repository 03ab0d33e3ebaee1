"""Delivery outside the transfer's execution, end to end on the dev server: the dispatcher
workflows (started as a worker starts them) mail a transfer's notices to a real SMTP server and
POST its events to a real HTTP receiver; SMTP down for a while delays mail and loses none; a
receiver that hangs does not slow the transfer's decisions; a worker killed mid-delivery ends with
every notice received once after dropping repeats by its id."""

from __future__ import annotations

import asyncio
import os
import signal
import statistics
import time
from pathlib import Path

import pytest
from sqlalchemy import select, update

from core.settings import reset_settings_cache
from domain.transfers import Channel, TransferStatus, TransferType
from messages.delivery import DeliveryChannel, dispatcher_id, message_id, webhook_event
from models import AuditLog, Delivery, Member, Notification, Org, User
from models.db import session_factory, session_scope
from service.webhooks import add_webhook
from tests.delivery_receivers import HangingReceiver, HttpReceiver, SmtpSink
from tests.workflows.test_worker_crash import _spawn_worker
from worker import build_worker, start_dispatchers

SENDER_DOMAIN = "zhtj.example.cn"
LIT, DFM, DFM2, STUDENT = "lit@whu.edu.cn", "tw@dfmc.com.cn", "tw2@dfmc.com.cn", "student@example.com"


def delivery_env(d, smtp_url: str | None, **extra: str) -> dict[str, str]:
    env = {
        "ZHTJ_WORKFLOW_ID_PREFIX": d.prefix,
        "ZHTJ_SMTP_FROM": f"noreply@{SENDER_DOMAIN}",
        "ZHTJ_DELIVERY_POLL_SECONDS": "0.2",
        "ZHTJ_DELIVERY_RETRY_SECONDS": "0.3",
        "ZHTJ_DELIVERY_RETRY_MAX_SECONDS": "1",
        "ZHTJ_DELIVERY_TIMEOUT_SECONDS": "5",
        **extra,
    }
    if smtp_url:
        env["ZHTJ_SMTP_URL"] = smtp_url
    return env


@pytest.fixture
def settings_env(monkeypatch):
    """Set delivery settings in this process's environment (the in-process worker reads them)."""

    def apply(env: dict[str, str]) -> None:
        for k, v in env.items():
            monkeypatch.setenv(k, v)
        reset_settings_cache()

    monkeypatch.delenv("ZHTJ_SMTP_URL", raising=False)
    yield apply
    reset_settings_cache()


async def addresses(engine) -> Member:
    """Addresses for WHU-LIT's admin (a college: its branches have no admin account), DFM's two
    admins, and the member who will move; the member is returned."""
    async with session_scope(engine) as s:
        await s.execute(update(User).where(User.username == "whu-lit").values(email=LIT))
        await s.execute(update(User).where(User.username == "dfm").values(email=DFM))
        dfm = (await s.execute(select(Org).where(Org.code == "DFM"))).scalar_one()
        s.add(User(username="dfm-2", password_hash="x", role="admin", org_id=dfm.id, email=DFM2))
        member = (
            (
                await s.execute(
                    select(Member)
                    .join(Org, Org.id == Member.branch_id)
                    .where(Org.code.like("WHU-LIT-2022-%"))
                    .order_by(Member.id)
                )
            )
            .scalars()
            .first()
        )
        member.email = STUDENT
        return member


async def life(d, member) -> tuple[object, list[float]]:
    """A whole transfer: started by the member, approved by WHU-LIT then DFM, a branch assigned;
    returns its result and how long each decision took to answer."""
    v = (await d.start(member, type=TransferType.EMPLOYED_WITH_ORG, channel=Channel.SELF, target="DFM")).view
    took = []
    for decide in (
        lambda: d.approve(v, "whu-lit"),
        lambda: d.approve(v, "dfm"),
        lambda: d.assign_branch(v, "dfm", "DFM-HQ"),
    ):
        t0 = time.perf_counter()
        await decide()
        took.append(time.perf_counter() - t0)
    result = await asyncio.wait_for(d.handle(v).result(), timeout=60)
    assert result.status == TransferStatus.COMPLETED
    return result, took


def expected_recipients(note: Notification, branch_ids: set[int], dfm_id: int) -> list[str]:
    if note.member_id is not None:
        return [STUDENT]
    if note.recipient_org_id == dfm_id:
        return [DFM, DFM2]
    assert note.recipient_org_id in branch_ids, note  # WHU-LIT or its branch (through the college)
    return [LIT]


async def expected_mail(d, result) -> set[tuple[str, str]]:
    """(Message-ID, recipient) of every mail the transfer's notices should make."""
    t = await d.transfer_row(result)
    async with session_factory(d.engine)() as s:
        notes = (await s.execute(select(Notification).where(Notification.transfer_id == t.id))).scalars().all()
        lit_ids = set((await s.execute(select(Org.id).where(Org.code.like("WHU-LIT%")))).scalars().all())
    dfm_id = await d.org_id("DFM")
    assert len(notes) >= 4
    return {(message_id(n.key, SENDER_DOMAIN), r) for n in notes for r in expected_recipients(n, lit_ids, dfm_id)}


async def expected_events(d, result) -> list[str]:
    """The webhook events of the transfer's actions, in order."""
    return [e for a in await d.audit(result) if (e := webhook_event(a.action)) is not None]


async def wait_until(check, seconds: float = 60.0, what: str = "") -> None:
    deadline = time.monotonic() + seconds
    while not await check():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)


async def all_delivered(engine, n: int) -> bool:
    async with session_factory(engine)() as s:
        statuses = (await s.execute(select(Delivery.status))).scalars().all()
    return len(statuses) >= n and set(statuses) == {"delivered"}


async def stop_dispatchers(d) -> None:
    for channel in DeliveryChannel:
        h = d.client.get_workflow_handle(dispatcher_id(d.prefix, channel))
        try:
            await h.terminate("test teardown")
        except Exception:
            pass


@pytest.mark.parametrize("smtp_down_first", [False, True], ids=["smtp-up", "smtp-down-for-a-while"])
async def test_a_transfers_life_by_mail_and_webhook(dev_driver, settings_env, smtp_down_first):
    d = dev_driver
    member = await addresses(d.engine)
    sink = SmtpSink()
    receiver = HttpReceiver()
    if not smtp_down_first:
        sink.start()
    settings_env(delivery_env(d, sink.url))
    dfm_hook = await add_webhook(d.engine, receiver.url, "DFM")  # every event of transfers to DFM
    whu_hook = await add_webhook(d.engine, receiver.url + "?whu", "WHU", ["transfer.completed"])  # the from side
    await add_webhook(d.engine, receiver.url + "?yc", "HB-YC")  # neither side: nothing
    try:
        async with build_worker(d.client, d.engine, task_queue=d.task_queue):
            ids = await start_dispatchers(d.client, task_queue=d.task_queue)
            assert ids == [
                dispatcher_id(d.prefix, DeliveryChannel.WEBHOOK),
                dispatcher_id(d.prefix, DeliveryChannel.EMAIL),
            ]
            result, _ = await life(d, member)
            want_mail = await expected_mail(d, result)
            want_events = await expected_events(d, result)
            assert want_events[0] == "transfer.started" and want_events[-1] == "transfer.completed"
            assert "transfer.awaiting_assignment" in want_events and "node.approved" in want_events
            if smtp_down_first:
                # the transfer is done; its mails wait, retried with backoff, none given up
                await asyncio.sleep(1.5)
                async with session_factory(d.engine)() as s:
                    mails = (await s.execute(select(Delivery).where(Delivery.channel == "email"))).scalars().all()
                assert mails and {m.status for m in mails} == {"pending"} and all(m.attempts >= 1 for m in mails)
                assert sink.mails == []
                sink.start()

            async def arrived() -> bool:
                return sink.unique() >= want_mail and len(receiver.requests) >= len(want_events) + 1

            await wait_until(arrived, what="mail and webhooks")
            await wait_until(lambda: all_delivered(d.engine, len(want_mail) + len(want_events) + 1), what="log")
        await asyncio.sleep(0.5)  # anything sent twice would have arrived by now
    finally:
        await stop_dispatchers(d)
        sink.stop()
        receiver.stop()

    assert sink.unique() == want_mail and len(sink.mails) == len({m.message_id + str(m.rcpt) for m in sink.mails})
    subjects = {m.subject for m in sink.mails}
    assert {"有新的组织关系转接申请待审批", "组织关系转接已办结"} <= subjects
    assert all(m.to in m.rcpt and len(m.rcpt) == 1 for m in sink.mails)

    to_dfm = [r for r in receiver.requests if r.path.endswith("/hooks/zhtj")]
    to_whu = [r for r in receiver.requests if r.path.endswith("?whu")]
    assert not [r for r in receiver.requests if r.path.endswith("?yc")]
    receiver.requests = to_dfm
    bodies = sorted(receiver.verified(dfm_hook.secret), key=lambda b: b["occurred_at"])
    assert [b["event"] for b in bodies] == want_events
    assert len({b["delivery_id"] for b in bodies}) == len(bodies)
    last = bodies[-1]["transfer"]
    assert (last["id"], last["workflow_id"], last["status"], last["to_org"]) == (
        result.transfer_id,
        result.workflow_id,
        "completed",
        "DFM",
    )
    assert "*" in last["member_id_masked"] and member.id_number not in str(bodies)
    assert bodies[0]["transfer"]["current_node"] == "WHU-LIT"
    receiver.requests = to_whu
    assert [b["event"] for b in receiver.verified(whu_hook.secret)] == ["transfer.completed"]


async def test_a_hanging_receiver_does_not_slow_the_decisions(dev_driver, settings_env):
    d = dev_driver
    await addresses(d.engine)
    hanging = HangingReceiver()
    settings_env(delivery_env(d, None, ZHTJ_DELIVERY_TIMEOUT_SECONDS="5"))
    try:
        async with build_worker(d.client, d.engine, task_queue=d.task_queue):
            await start_dispatchers(d.client, task_queue=d.task_queue)
            members = [await d.member_in("WHU-LIT", i) for i in range(1, 5)]
            # without webhooks (warm-up, then the baseline)
            await life(d, members[0])
            _, before = await life(d, members[1])
            hook = await add_webhook(d.engine, hanging.url, "DFM")
            await asyncio.sleep(1.2)  # the workers see the new webhook within a second
            results = []
            took: list[float] = []
            for m in members[2:]:
                result, t = await life(d, m)
                results.append(result)
                took += t
            # both transfers completed while their events still wait for the receiver
            events = sum([len(await expected_events(d, r)) for r in results])

            async def hook_rows() -> list[Delivery]:
                async with session_factory(d.engine)() as s:
                    q = select(Delivery).where(Delivery.webhook_id == hook.webhook.id)
                    return list((await s.execute(q)).scalars())

            async def all_queued() -> bool:
                return len(await hook_rows()) == events

            await wait_until(all_queued, 5, "the events queued while the receiver hangs")
            rows = await hook_rows()
            assert len(rows) == events >= 2 * 5 and {r.status for r in rows} == {"pending"}
            assert {r.transfer_id for r in rows} == {r.transfer_id for r in results}
            assert all(r.attempts <= 1 and r.last_status_code is None for r in rows)
    finally:
        await stop_dispatchers(d)
        hanging.stop()
    # the decisions answered as fast as without webhooks (a receiver in the path would add 5 s each)
    assert max(took) < 2.0, took
    assert statistics.median(took) < statistics.median(before) + 0.5, (took, before)


async def test_worker_killed_mid_delivery_every_notice_once_after_dropping_repeats(dev_driver, database_url, tmp_path):
    d = dev_driver
    member = await addresses(d.engine)
    sink = SmtpSink(delay=1.0).start()  # each answer takes a second: the kill lands mid-delivery
    receiver = HttpReceiver(delay=1.0)
    hook = await add_webhook(d.engine, receiver.url, "DFM")
    env = dict(
        os.environ,
        DATABASE_URL=database_url,
        TEMPORAL_ADDRESS=d.client.service_client.config.target_host,
        ZHTJ_TASK_QUEUE=d.task_queue,
        ZHTJ_DATA_DIR=str(tmp_path),
        ZHTJ_LOG_FORMAT="json",
        **delivery_env(d, sink.url, ZHTJ_DELIVERY_HEARTBEAT_SECONDS="2"),
    )
    log = tmp_path / "worker.log"
    first = _spawn_worker(env, log)
    second = None
    try:
        result, _ = await life(d, member)

        async def in_flight() -> bool:
            return bool(sink.mails) and bool(receiver.requests)

        await wait_until(in_flight, 30, "the first deliveries")
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        before_kill = len(sink.mails) + len(receiver.requests)
        second = _spawn_worker(env, log)
        want_mail = await expected_mail(d, result)
        want_events = await expected_events(d, result)

        async def arrived() -> bool:
            return sink.unique() >= want_mail and len({r.headers["x-zhtj-delivery"] for r in receiver.requests}) >= len(
                want_events
            )

        await wait_until(arrived, 90, "every notice after the restart")
        await wait_until(lambda: all_delivered(d.engine, len(want_mail) + len(want_events)), 60, "the log")
    finally:
        for p in (first, second):
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGTERM)
                p.wait(timeout=30)
        await stop_dispatchers(d)
        sink.stop()
        receiver.stop()

    assert before_kill >= 2
    # every notice arrived; some more than once (those in flight when the worker died), each with
    # the same id every time, so dropping repeats by it leaves each exactly once
    assert sink.unique() == want_mail
    bodies = receiver.verified(hook.secret)
    by_id: dict[str, list[dict]] = {}
    for b in bodies:
        by_id.setdefault(b["delivery_id"], []).append(b)
    assert all(len({str(x) for x in same}) == 1 for same in by_id.values())
    assert sorted(same[0]["event"] for same in by_id.values()) == sorted(want_events)
    repeats = len(sink.mails) + len(bodies) - len(want_mail) - len(by_id)
    assert repeats >= 1, "nothing was in flight when the worker was killed"
    assert Path(log).exists()
    async with session_factory(d.engine)() as s:
        actions = (await s.execute(select(AuditLog.action))).scalars().all()
    assert actions.count("transfer.completed") == 1
