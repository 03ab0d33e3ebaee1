"""The delivery activities against real receivers on loopback: the outbox an event writes, the
mails an SMTP server (aiosmtpd) receives, the webhooks an HTTP server receives (signature checked
as a receiver would), retries with backoff while a receiver is down, giving up after the limit.

The dispatcher's slice runs in Temporal's ActivityEnvironment (heartbeats, worker shutdown)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest
from sqlalchemy import func, select, update
from temporalio.testing import ActivityEnvironment

from activities.delivery import DeliveryActivities, Outbox, mail_domain
from activities.transfers import TransferActivities
from core.settings import Settings
from domain.transfers import ActorKind, Channel, NodeRole, NodeStatus, TransferStatus, TransferType
from messages.delivery import WEBHOOK_EVENTS, DeliveryChannel, DispatchSlice, retry_delay, signature_valid
from messages.transfers import Actor, NodeSpec, NodeState, NotificationSpec, OrgRef, TransferEvent, TransferInput
from models import Delivery, DeliveryOutbox, Member, Org, User
from models.db import session_factory, session_scope
from seed.demo import seed_demo
from service.webhooks import add_webhook
from tests.delivery_receivers import HttpReceiver, SmtpSink, free_port

AT = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)


def settings(smtp_url: str | None = None, **kw) -> Settings:
    return Settings(
        ZHTJ_SMTP_URL=smtp_url,
        ZHTJ_SMTP_FROM="团组织关系转接 <noreply@zhtj.example.cn>",
        ZHTJ_DELIVERY_RETRY_SECONDS=kw.pop("retry", 0.2),
        ZHTJ_DELIVERY_RETRY_MAX_SECONDS=kw.pop("retry_max", 1.0),
        ZHTJ_DELIVERY_TIMEOUT_SECONDS=kw.pop("timeout", 3.0),
        **kw,
    )


async def dispatch(acts: DeliveryActivities, channel: DeliveryChannel, seconds: float = 1.0):
    return await ActivityEnvironment().run(
        acts.dispatch, DispatchSlice(channel=channel, seconds=seconds, poll_seconds=0.1)
    )


@pytest.fixture
async def world(engine):
    """The demo directory; addresses for the admins of WHU-LIT (a college: its branches have no
    admin account) and DFM (two admins), and for one member of WHU-LIT's first class."""
    await seed_demo(engine, members=50)
    async with session_scope(engine) as s:
        await s.execute(update(User).where(User.username == "whu-lit").values(email="lit@whu.edu.cn"))
        await s.execute(update(User).where(User.username == "dfm").values(email="tw@dfmc.com.cn"))
        dfm = (await s.execute(select(Org).where(Org.code == "DFM"))).scalar_one()
        s.add(User(username="dfm-2", password_hash="x", role="admin", org_id=dfm.id, email="tw2@dfmc.com.cn"))
        s.add(User(username="dfm-3", password_hash="x", role="admin", org_id=dfm.id))  # no address
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
        member.email = "student@example.com"
        branch = await s.get(Org, member.branch_id)
    return engine, member, branch


def started_event(member: Member, branch: Org, key: str = "wf/run/1") -> TransferEvent:
    inp = TransferInput(
        member_id=member.id,
        member_name=member.name,
        member_id_masked="420111********0011",
        type=TransferType.EMPLOYED_WITH_ORG,
        channel=Channel.SELF,
        from_org=OrgRef(code=branch.code, name=branch.name),
        target=OrgRef(code="DFM", name="东风"),
        target_branch_level=False,
        nodes=[
            NodeSpec(org_code="WHU-LIT", org_name="文学院", role=NodeRole.SENDING),
            NodeSpec(org_code="DFM", org_name="东风", role=NodeRole.RECEIVING),
        ],
        initiator=Actor(kind=ActorKind.MEMBER, username="m1", member_id=member.id),
    )
    return TransferEvent(
        key=key,
        workflow_id="wf",
        run_id=key.split("/")[1],
        action="transfer.started",
        actor="m1",
        at=AT,
        status=TransferStatus.PENDING,
        current_node_org_code="WHU-LIT",
        steps=[
            NodeState(
                round=1, seq=1, org_code="WHU-LIT", org_name="文学院", role=NodeRole.SENDING, status=NodeStatus.PENDING
            ),
            NodeState(round=1, seq=2, org_code="DFM", org_name="东风", role=NodeRole.RECEIVING),
        ],
        notifications=[
            NotificationSpec(
                kind="node_pending", org_code="WHU-LIT", title="有新的组织关系转接申请待审批", body="请审批"
            ),
            NotificationSpec(kind="transfer_update", org_code="DFM", title="将有团员转入", body="知悉"),
            NotificationSpec(kind="transfer_update", org_code=branch.code, title="班级知悉", body="班级"),
            NotificationSpec(kind="transfer_update", to_member=True, title="申请已提交", body="等待审批"),
        ],
        create=inp,
    )


def transfer_activities(engine, s: Settings) -> TransferActivities:
    acts = TransferActivities(engine)
    acts._outbox = Outbox(s)
    return acts


async def deliveries(engine, channel: DeliveryChannel | None = None) -> list[Delivery]:
    async with session_factory(engine)() as s:
        q = select(Delivery).order_by(Delivery.id)
        if channel is not None:
            q = q.where(Delivery.channel == channel.value)
        return list((await s.execute(q)).scalars())


async def outbox_count(engine) -> int:
    async with session_factory(engine)() as s:
        return (await s.execute(select(func.count()).select_from(DeliveryOutbox))).scalar_one()


async def test_outbox_only_for_channels_with_work(world):
    engine, member, branch = world
    # no SMTP, no webhook: the event writes nothing for delivery
    await transfer_activities(engine, settings()).apply_event(started_event(member, branch))
    assert await outbox_count(engine) == 0
    # SMTP set: one email row for the event (its four notifications)
    await transfer_activities(engine, settings("smtp://127.0.0.1:1")).apply_event(
        started_event(member, branch, "wf/run2/1")
    )
    async with session_factory(engine)() as s:
        (row,) = (await s.execute(select(DeliveryOutbox))).scalars().all()
    assert (row.channel, row.notifications, row.action, row.status) == ("email", 4, "transfer.started", "pending")
    # a webhook registered: the next event also gets a webhook row (looked up once a second)
    await add_webhook(engine, "http://127.0.0.1:1/h", "WHU")
    await transfer_activities(engine, settings()).apply_event(started_event(member, branch, "wf/run3/1"))
    async with session_factory(engine)() as s:
        rows = (await s.execute(select(DeliveryOutbox.channel).order_by(DeliveryOutbox.id))).scalars().all()
    assert rows == ["email", "webhook"]


async def test_mails_reach_admins_committee_fallback_and_member_once(world):
    engine, member, branch = world
    sink = SmtpSink().start()
    try:
        s = settings(sink.url)
        acts = transfer_activities(engine, s)
        event = started_event(member, branch)
        await acts.apply_event(event)
        await acts.apply_event(event)  # a retried activity queues nothing twice
        report = await dispatch(DeliveryActivities(engine, s), DeliveryChannel.EMAIL)
        assert (report.queued, report.delivered, report.retried, report.failed) == (5, 5, 0, 0)
        assert await outbox_count(engine) == 0
        # a second slice sends nothing again
        again = await dispatch(DeliveryActivities(engine, s), DeliveryChannel.EMAIL, 0.3)
        assert again.delivered == 0
    finally:
        sink.stop()

    by_subject: dict[str, list] = {}
    for m in sink.mails:
        by_subject.setdefault(m.subject, []).append(m)
    assert {subject: sorted(r for m in ms for r in m.rcpt) for subject, ms in by_subject.items()} == {
        "班级知悉": ["lit@whu.edu.cn"],  # a branch without an admin account: its college's admins
        "将有团员转入": ["tw2@dfmc.com.cn", "tw@dfmc.com.cn"],  # both admins with an address
        "有新的组织关系转接申请待审批": ["lit@whu.edu.cn"],
        "申请已提交": ["student@example.com"],  # the member
    }
    # one Message-ID per notification: the same for both DFM admins, distinct across notifications
    ids = {subject: {m.message_id for m in ms} for subject, ms in by_subject.items()}
    assert all(len(v) == 1 for v in ids.values()) and len({next(iter(v)) for v in ids.values()}) == 4
    assert all(i.endswith("@zhtj.example.cn>") for v in ids.values() for i in v)
    assert "请审批" in by_subject["有新的组织关系转接申请待审批"][0].body
    assert mail_domain("noreply@a.b") == "a.b" and mail_domain("名称 <x@y.z>") == "y.z"


async def test_smtp_down_delays_mail_and_loses_none(world):
    engine, member, branch = world
    sink = SmtpSink()  # its port is free: nothing listens until it starts
    s = settings(sink.url, retry=0.2, retry_max=0.4)
    await transfer_activities(engine, s).apply_event(started_event(member, branch))
    down = await dispatch(DeliveryActivities(engine, s), DeliveryChannel.EMAIL, 1.0)
    assert down.delivered == 0 and down.retried >= 5 and down.failed == 0
    rows = await deliveries(engine)
    assert {r.status for r in rows} == {"pending"} and all(r.attempts >= 1 and r.last_error for r in rows)
    first_ids = {r.key: r.delivery_id for r in rows}
    sink.start()
    try:
        up = await dispatch(DeliveryActivities(engine, s), DeliveryChannel.EMAIL, 1.5)
    finally:
        sink.stop()
    assert up.delivered == 5
    rows = await deliveries(engine)
    assert {r.status for r in rows} == {"delivered"} and {r.key: r.delivery_id for r in rows} == first_ids
    assert len(sink.mails) == 5 and len(sink.unique()) == 5


async def test_webhook_signed_retried_with_the_same_id_then_delivered(world):
    engine, member, branch = world
    receiver = HttpReceiver(status=503)
    try:
        hook = await add_webhook(engine, receiver.url, "DFM", ["transfer.started,node.approved"])
        other = await add_webhook(engine, receiver.url + "/other", "HB-YC", None)  # not in the transfer's orgs
        s = settings()
        acts = transfer_activities(engine, s)
        tid = await acts.apply_event(started_event(member, branch))
        # an action that is no webhook event, and one the hook did not ask for
        for n, action in ((2, "branch.assigned"), (3, "node.pending")):
            await acts.apply_event(
                TransferEvent(
                    key=f"wf/run/{n}",
                    workflow_id="wf",
                    run_id="run",
                    transfer_id=tid,
                    action=action,
                    actor="system",
                    at=AT,
                    status=TransferStatus.PENDING,
                )
            )
        d = DeliveryActivities(engine, s)
        failing = await dispatch(d, DeliveryChannel.WEBHOOK, 0.8)
        assert failing.queued == 1 and failing.delivered == 0 and failing.retried >= 2
        (row,) = await deliveries(engine, DeliveryChannel.WEBHOOK)
        assert (row.status, row.last_status_code, row.recipient) == ("pending", 503, receiver.url)
        receiver.status = 200
        ok = await dispatch(d, DeliveryChannel.WEBHOOK, 1.0)
        assert ok.delivered == 1
    finally:
        receiver.stop()
    bodies = receiver.verified(hook.secret)
    assert len(bodies) >= 3 and len({json.dumps(b, sort_keys=True) for b in bodies}) == 1  # the same body each time
    body = bodies[0]
    assert set(body) == {"event", "delivery_id", "occurred_at", "transfer"}
    assert (body["event"], body["occurred_at"]) == ("transfer.started", "2026-07-01T08:00:00Z")
    assert body["transfer"] == {
        "id": tid,
        "workflow_id": "wf",
        "type": "employed_with_org",
        "status": "pending",
        "from_org": branch.code,
        "to_org": "DFM",
        "current_node": "WHU-LIT",
        "member_id_masked": member.id_number[:6] + "********" + member.id_number[-4:],
    }
    assert {r.headers["x-zhtj-delivery"] for r in receiver.requests} == {body["delivery_id"]}
    assert all(r.headers["x-zhtj-event"] == "transfer.started" for r in receiver.requests)
    assert not signature_valid(
        other.secret, receiver.requests[0].body, receiver.requests[0].headers["x-zhtj-signature"]
    )
    (row,) = await deliveries(engine, DeliveryChannel.WEBHOOK)
    assert (row.status, row.delivery_id, row.last_status_code) == ("delivered", body["delivery_id"], 200)


async def test_given_up_after_the_limit(world):
    engine, member, branch = world
    port = free_port()  # nothing listens: connection refused
    await add_webhook(engine, f"http://127.0.0.1:{port}/h", "WHU", None)
    s = settings(ZHTJ_DELIVERY_GIVE_UP_HOURS=0.5 / 3600)  # half a second
    await transfer_activities(engine, s).apply_event(started_event(member, branch))
    report = await dispatch(DeliveryActivities(engine, s), DeliveryChannel.WEBHOOK, 1.5)
    assert report.failed == 1 and report.delivered == 0
    (row,) = await deliveries(engine, DeliveryChannel.WEBHOOK)
    assert row.status == "failed" and row.attempts >= 2 and "ConnectError" in row.last_error


def test_backoff_doubles_up_to_the_maximum():
    from datetime import timedelta

    one, cap = timedelta(seconds=30), timedelta(hours=1)
    assert [retry_delay(n, one, cap).total_seconds() for n in (1, 2, 3, 4)] == [30, 60, 120, 240]
    assert retry_delay(50, one, cap) == cap
    assert len(WEBHOOK_EVENTS) == 11
