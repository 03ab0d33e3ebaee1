"""TransferWorkflow on its own, its activities mocked: the events it emits on each path, on the
time-skipping server, in milliseconds (the samples-python way). The end-to-end tests beside it
check what the real activities make of those events."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from temporalio import activity
from temporalio.client import WorkflowHandle
from temporalio.worker import Worker

from domain.policy import DEFAULT_POLICY
from domain.transfers import ActorKind, Channel, NodeRole, NodeStatus, TransferStatus, TransferType
from messages.transfers import (
    SYSTEM_ACTOR,
    Actor,
    ApproveInput,
    AssignBranchInput,
    CompletionFollowUp,
    NodeSpec,
    OrgRef,
    ResubmitInput,
    ReturnInput,
    TransferEvent,
    TransferInput,
    TransferView,
    WithdrawInput,
)
from worker import workflow_runner
from workflows.transfer import TransferWorkflow

from .conftest import CLOSED

DAY = timedelta(days=1)
SECOND = timedelta(seconds=1)

WHU = Actor(kind=ActorKind.ORG_ADMIN, username="whu", org_code="WHU")
DFM = Actor(kind=ActorKind.ORG_ADMIN, username="dfm", org_code="DFM")


def out_input(*, target_branch_level: bool = True) -> TransferInput:
    """办理转出 by the school: its own node approved at submission, the receiving org's pending."""
    return TransferInput(
        member_id=7,
        member_name="张三",
        member_id_masked="420106********1234",
        type=TransferType.EMPLOYED_WITH_ORG,
        channel=Channel.OUT,
        from_org=OrgRef(code="WHU-CS-2022-1", name="计算机学院2022级1班团支部"),
        target=OrgRef(code="DFM-RD", name="研发总院团支部")
        if target_branch_level
        else OrgRef(code="DFM", name="东风汽车集团有限公司团委"),
        target_branch_level=target_branch_level,
        form={"employer_name": "东风汽车集团有限公司"},
        nodes=[
            NodeSpec(org_code="WHU", org_name="武汉大学团委", role=NodeRole.SENDING, approved_at_submission=True),
            NodeSpec(org_code="DFM", org_name="东风汽车集团有限公司团委", role=NodeRole.RECEIVING),
        ],
        policy=DEFAULT_POLICY,
        initiator=WHU,
        request_id="req-1",
    )


@dataclass
class Mocked:
    """A worker running the real workflow with the activities replaced by recorders."""

    client: Any
    task_queue: str
    events: list[TransferEvent] = field(default_factory=list)
    follow_ups: list[CompletionFollowUp] = field(default_factory=list)
    handles: list[WorkflowHandle[Any, Any]] = field(default_factory=list)

    def activities(self) -> list:
        @activity.defn(name="apply_event")
        async def apply_event_recorded(event: TransferEvent) -> int:
            self.events.append(event)
            return 1  # the transfer row's id

        @activity.defn(name="follow_up_completion")
        async def follow_up_recorded(f: CompletionFollowUp) -> None:
            self.follow_ups.append(f)

        return [apply_event_recorded, follow_up_recorded]

    async def start(self, inp: TransferInput) -> WorkflowHandle[TransferWorkflow, TransferView]:
        """Start, and wait until the start is recorded (as the service does, with `recorded`): a
        decision is sent only for a transfer that exists."""
        handle = await self.client.start_workflow(
            TransferWorkflow.run, inp, id=f"transfer-{uuid.uuid4().hex[:8]}", task_queue=self.task_queue
        )
        self.handles.append(handle)
        await handle.execute_update(TransferWorkflow.recorded)
        return handle

    async def close(self) -> None:
        """Terminate what a failed test left open: on the time-skipping server an open workflow
        without a worker would stop time from moving for later tests."""
        for handle in self.handles:
            history = await handle.fetch_history()
            if history.events[-1].event_type not in CLOSED:
                await handle.terminate("test teardown")

    @property
    def actions(self) -> list[str]:
        return [e.action for e in self.events]

    def since_start(self, action: str) -> timedelta:
        (event,) = [e for e in self.events if e.action == action]
        return event.at - self.events[0].at


@pytest.fixture
async def mocked(time_skipping_env, task_queue) -> AsyncIterator[Mocked]:
    m = Mocked(time_skipping_env.client, task_queue)
    async with Worker(
        time_skipping_env.client,
        task_queue=task_queue,
        workflows=[TransferWorkflow],
        activities=m.activities(),
        workflow_runner=workflow_runner(),
    ):
        try:
            yield m
        finally:
            await m.close()


async def test_reminded_at_10_days_and_approved_by_the_system_at_15(mocked):
    handle = await mocked.start(out_input())
    result = await handle.result()  # the server skips the time the workflow waits

    assert mocked.actions == ["transfer.started", "node.reminded", "node.auto_approved", "transfer.completed"]
    assert timedelta(0) <= mocked.since_start("node.reminded") - 10 * DAY < SECOND
    assert timedelta(0) <= mocked.since_start("node.auto_approved") - 15 * DAY < SECOND
    started, reminded, auto, completed = mocked.events
    assert [(s.seq, s.status) for s in started.steps] == [(1, NodeStatus.APPROVED), (2, NodeStatus.PENDING)]
    assert started.create is not None and started.current_node_org_code == "DFM"
    assert [(n.kind, n.org_code, n.to_member) for n in started.notifications] == [
        ("node_pending", "DFM", False),
        ("transfer_started", None, True),  # the member is told too (test_member_notices.py)
    ]
    assert [(n.kind, n.org_code) for n in reminded.notifications] == [("node_reminder", "DFM")]
    assert reminded.steps[0].reminded_at == reminded.at
    (step,) = auto.steps
    assert (step.status, step.decided_by, step.comment) == (NodeStatus.AUTO_APPROVED, "system", "系统默认通过")
    assert auto.actor == SYSTEM_ACTOR.username
    assert completed.complete_branch.code == "DFM-RD" and completed.status == TransferStatus.COMPLETED
    assert completed.follow_up is not None and mocked.follow_ups == []  # inside the completion event
    assert [e.key.rsplit("/", 1)[1] for e in mocked.events] == ["1", "2", "3", "4"]
    assert result.status == TransferStatus.COMPLETED and result.nodes[1].status == NodeStatus.AUTO_APPROVED


async def test_return_then_resubmit_starts_a_new_round(mocked):
    handle = await mocked.start(out_input())
    v = await handle.execute_update(
        TransferWorkflow.return_request,
        ReturnInput(round=1, seq=2, actor=DFM, reason_code="form_incomplete", reason_text="工作单位地址未填写"),
    )
    assert v.status == TransferStatus.RETURNED
    v = await handle.execute_update(
        TransferWorkflow.resubmit, ResubmitInput(actor=WHU, form={"employer_name": "东风汽车集团有限公司研发总院"})
    )
    assert v.round == 2 and v.status == TransferStatus.PENDING
    await handle.execute_update(TransferWorkflow.approve, ApproveInput(round=2, seq=2, actor=DFM, comment="同意"))
    result = await handle.result()

    assert mocked.actions == [
        "transfer.started",
        "node.returned",
        "transfer.resubmitted",
        "node.approved",
        "transfer.completed",
    ]
    _, returned, resubmitted, approved, _ = mocked.events
    assert returned.status == TransferStatus.RETURNED
    assert (returned.steps[0].status, returned.steps[0].reason_code) == (NodeStatus.RETURNED, "form_incomplete")
    assert returned.detail["comment"] == "工作单位地址未填写"
    assert {n.kind for n in returned.notifications} == {"transfer_returned"} and len(returned.notifications) == 2
    assert resubmitted.form == {"employer_name": "东风汽车集团有限公司研发总院"}
    assert [(s.round, s.seq, s.status) for s in resubmitted.steps] == [
        (2, 1, NodeStatus.APPROVED),
        (2, 2, NodeStatus.PENDING),
    ]
    assert (approved.steps[0].round, approved.steps[0].comment, approved.actor) == (2, "同意", "dfm")
    assert result.status == TransferStatus.COMPLETED and result.form == resubmitted.form


async def test_withdraw_while_pending(mocked):
    handle = await mocked.start(out_input())
    v = await handle.execute_update(TransferWorkflow.withdraw, WithdrawInput(actor=WHU, reason="去向有变"))
    assert v.status == TransferStatus.WITHDRAWN and v.withdrawn_by == "org"
    assert (await handle.result()).status == TransferStatus.WITHDRAWN

    assert mocked.actions == ["transfer.started", "transfer.withdrawn"]
    withdrawn = mocked.events[1]
    assert withdrawn.detail == {"reason": "去向有变", "by": "org"}
    assert [s.status for s in withdrawn.steps] == [NodeStatus.APPROVED, NodeStatus.WAITING]
    assert withdrawn.current_node_org_code is None
    assert {n.org_code for n in withdrawn.notifications if n.org_code} == {"WHU-CS-2022-1", "DFM-RD"}


async def test_assignment_reminded_at_10_days_then_every_7_until_assigned(mocked, time_skipping_env):
    handle = await mocked.start(out_input(target_branch_level=False))
    v = await handle.execute_update(TransferWorkflow.approve, ApproveInput(round=1, seq=2, actor=DFM))
    assert v.status == TransferStatus.AWAITING_ASSIGNMENT
    await time_skipping_env.sleep(18 * DAY)
    v = await handle.execute_update(
        TransferWorkflow.assign_branch,
        AssignBranchInput(actor=DFM, branch=OrgRef(code="DFM-RD", name="研发总院团支部")),
    )
    assert v.status == TransferStatus.COMPLETED and v.branch.code == "DFM-RD"

    assert mocked.actions == [
        "transfer.started",
        "node.approved",
        "assignment.awaiting",
        "assignment.reminded",
        "assignment.reminded",
        "branch.assigned",
        "transfer.completed",
    ]
    awaiting = mocked.events[2].at
    reminders = [e for e in mocked.events if e.action == "assignment.reminded"]
    assert [e.detail["reminder"] for e in reminders] == [1, 2]
    assert timedelta(0) <= reminders[0].at - awaiting - 10 * DAY < SECOND
    assert timedelta(0) <= reminders[1].at - reminders[0].at - 7 * DAY < SECOND
    assert mocked.events[-1].complete_branch.code == "DFM-RD"
