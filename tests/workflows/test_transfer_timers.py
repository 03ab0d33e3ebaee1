"""Timer paths on the time-skipping test server, with the real, unscaled 10 d / 15 d / 30 d clocks."""

from datetime import timedelta

from domain.policy import DEFAULT_POLICY
from domain.transfers import Channel, NodeStatus, TransferStatus, TransferType
from worker import build_worker

DAY = timedelta(days=1)


async def test_reminder_once_at_10_days_and_auto_approval_at_15(ts_driver):
    d = ts_driver
    assert DEFAULT_POLICY.remind_after == 10 * DAY and DEFAULT_POLICY.auto_approve_after == 15 * DAY
    member = await d.member_in("WHU-CS-2022-1")
    async with build_worker(d.client, d.engine, task_queue=d.task_queue):
        v = (await d.start(member, type=TransferType.UNEMPLOYED, channel=Channel.SELF, target="HB-WH-HS-GS-TMP")).view
        first = v.nodes[0]
        assert first.remind_at - first.started_at == 10 * DAY and first.deadline - first.started_at == 15 * DAY

        await d.env.sleep(9 * DAY)
        assert await d.notifications(v, "node_reminder") == []
        await d.env.sleep(2 * DAY)  # day 11
        assert len(await d.notifications(v, "node_reminder")) == 1
        step = (await d.steps(v))[0]
        assert step.status == "pending" and step.reminded_at is not None  # overdue in lists
        await d.env.sleep(3 * DAY)  # day 14: still one reminder, not yet approved
        assert len(await d.notifications(v, "node_reminder")) == 1
        assert (await d.steps(v))[0].status == "pending"

        await d.env.sleep(2 * DAY)  # day 16: 系统默认通过, the next node's clock starts
        v = await d.view(v)
        assert v.nodes[0].status == NodeStatus.AUTO_APPROVED and v.nodes[0].comment == "系统默认通过"
        assert timedelta(0) <= v.nodes[0].decided_at - first.deadline < timedelta(seconds=1)
        assert v.nodes[1].status == NodeStatus.PENDING
        assert timedelta(0) <= v.nodes[1].started_at - v.nodes[0].decided_at < timedelta(seconds=1)
        steps = await d.steps(v)
        assert (steps[0].status, steps[0].decided_by, steps[0].comment) == ("auto_approved", "system", "系统默认通过")

        # the second node is left alone too: it is reminded once and approved by the system
        await d.env.sleep(16 * DAY)
        result = await d.handle(v).result()
    assert result.status == TransferStatus.COMPLETED
    assert [n.status for n in result.nodes] == [NodeStatus.AUTO_APPROVED, NodeStatus.AUTO_APPROVED]
    assert len(await d.notifications(result, "node_reminder")) == 2
    assert [s.status for s in await d.steps(result)] == ["auto_approved", "auto_approved"]
    assert (await d.member(member.id)).branch_id == await d.org_id("HB-WH-HS-GS-TMP")


async def test_returned_request_expires_after_30_days(ts_driver):
    d = ts_driver
    member = await d.member_in("WHU-CS-2022-2")
    async with build_worker(d.client, d.engine, task_queue=d.task_queue):
        v = (
            await d.start(
                member,
                type=TransferType.EMPLOYED_WITH_ORG,
                channel=Channel.OUT,
                target="DFM",
                by="whu",
            )
        ).view
        h = d.handle(v)
        await d.return_request(v, "dfm", "wrong_target", "应转入襄阳基地团委")
        await d.env.sleep(29 * DAY)
        assert (await d.view(v)).status == TransferStatus.RETURNED
        await d.env.sleep(2 * DAY)
        result = await h.result()
    assert result.status == TransferStatus.EXPIRED
    assert (await d.transfer_row(result)).status == "expired"
    told = await d.notifications(result, "transfer_update")
    assert {n.recipient_org_id for n in told if n.recipient_org_id} == {
        await d.org_id("WHU-CS-2022-2"),
        await d.org_id("DFM"),
    }
    assert any(n.member_id == member.id for n in told)
    assert (await d.member(member.id)).branch_id == member.branch_id


async def test_assignment_reminders_repeat_and_nothing_completes_without_assignment(ts_driver):
    d = ts_driver
    member = await d.member_in("WHU-CS-2022-3")
    async with build_worker(d.client, d.engine, task_queue=d.task_queue):
        v = (
            await d.start(
                member,
                type=TransferType.EMPLOYED_WITH_ORG,
                channel=Channel.OUT,
                target="DFM",
                by="whu",
            )
        ).view
        await d.approve(v, "dfm")
        v = await d.view(v)
        assert v.status == TransferStatus.AWAITING_ASSIGNMENT
        approved_at = v.nodes[1].decided_at
        assert timedelta(0) <= v.next_reminder_at - (approved_at + 10 * DAY) < timedelta(seconds=1)

        await d.env.sleep(9 * DAY)
        assert await d.notifications(v, "assignment_reminder") == []
        await d.env.sleep(2 * DAY)  # day 11
        assert len(await d.notifications(v, "assignment_reminder")) == 1
        await d.env.sleep(7 * DAY)  # day 18
        assert len(await d.notifications(v, "assignment_reminder")) == 2
        await d.env.sleep(60 * DAY)  # day 78: every 7 days, never completed by itself
        reminders = await d.notifications(v, "assignment_reminder")
        assert len(reminders) == 2 + 60 // 7
        v = await d.view(v)
        assert v.status == TransferStatus.AWAITING_ASSIGNMENT
        assert (await d.transfer_row(v)).status == "awaiting_assignment"
        assert (await d.member(member.id)).branch_id == member.branch_id

        v = await d.assign_branch(v, "dfm", "DFM-HQ")
    assert v.status == TransferStatus.COMPLETED
    assert (await d.member(member.id)).branch_id == await d.org_id("DFM-HQ")
