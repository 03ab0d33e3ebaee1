"""apply_event writes each event once, however often it runs (a retried activity)."""

from datetime import UTC, datetime

from sqlalchemy import func, select

from activities.transfers import TransferActivities
from domain.transfers import ActorKind, Channel, NodeRole, NodeStatus, TransferStatus, TransferType
from messages.transfers import Actor, NodeSpec, NodeState, NotificationSpec, OrgRef, TransferEvent, TransferInput
from models import ApprovalStep, AuditLog, Notification, Transfer
from models.db import session_factory
from seed.demo import seed_demo

AT = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)


async def _counts(engine) -> tuple[int, ...]:
    async with session_factory(engine)() as s:
        return tuple(
            [
                (await s.execute(select(func.count()).select_from(m))).scalar_one()
                for m in (Transfer, ApprovalStep, Notification, AuditLog)
            ]
        )


async def test_each_event_is_written_once(engine):
    await seed_demo(engine, members=50)
    acts = TransferActivities(engine)
    inp = TransferInput(
        member_id=1,
        member_name="张三",
        member_id_masked="420111********0011",
        type=TransferType.EMPLOYED_WITH_ORG,
        channel=Channel.OUT,
        from_org=OrgRef(code="WHU-CS-2022-1", name="班"),
        target=OrgRef(code="DFM", name="东风"),
        target_branch_level=False,
        nodes=[
            NodeSpec(org_code="WHU-CS", org_name="学院", role=NodeRole.SENDING, approved_at_submission=True),
            NodeSpec(org_code="DFM", org_name="东风", role=NodeRole.RECEIVING),
        ],
        initiator=Actor(kind=ActorKind.ORG_ADMIN, username="whu", org_code="WHU"),
    )
    steps = [
        NodeState(
            round=1,
            seq=1,
            org_code="WHU-CS",
            org_name="学院",
            role=NodeRole.SENDING,
            status=NodeStatus.APPROVED,
            decided_at=AT,
        ),
        NodeState(
            round=1,
            seq=2,
            org_code="DFM",
            org_name="东风",
            role=NodeRole.RECEIVING,
            status=NodeStatus.PENDING,
            started_at=AT,
        ),
    ]
    started = TransferEvent(
        key="wf/run/1",
        workflow_id="wf",
        run_id="run",
        action="transfer.started",
        actor="whu",
        at=AT,
        status=TransferStatus.PENDING,
        current_node_org_code="DFM",
        steps=steps,
        notifications=[NotificationSpec(kind="node_pending", org_code="DFM", title="待审批")],
        create=inp,
    )
    tid = await acts.apply_event(started)
    once = await _counts(engine)
    assert once == (1, 2, 1, 1)
    assert await acts.apply_event(started) == tid  # the retry: the run's row exists, nothing written
    assert await _counts(engine) == once

    approved = steps[1].model_copy(update={"status": NodeStatus.APPROVED, "decided_at": AT, "decided_by": "dfm"})
    decided = TransferEvent(
        key="wf/run/2",
        workflow_id="wf",
        run_id="run",
        transfer_id=tid,
        action="node.approved",
        actor="dfm",
        at=AT,
        status=TransferStatus.AWAITING_ASSIGNMENT,
        steps=[approved],
    )
    assert await acts.apply_event(decided) == tid
    twice = await _counts(engine)
    assert twice == (1, 2, 1, 2)
    assert await acts.apply_event(decided) == tid
    assert await _counts(engine) == twice
    async with session_factory(engine)() as s:
        t = await s.get(Transfer, tid)
        assert t.status == "awaiting_assignment" and t.current_node_org_id is None
