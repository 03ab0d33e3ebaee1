"""Every notice reaches a person: the member is told, in Chinese, when their transfer starts, when
each node is decided (approved, or 系统默认通过), when it is returned (why, what to do, and by when),
when it is resubmitted, completed (the new branch and its contact) or expired.

The events the workflow emits, with the activities mocked (fast, on the time-skipping server), and
one whole transfer with the real activities: the member's rows in `notifications`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import inspect, select, text
from temporalio.worker import Worker

from activities.transfers import TransferActivities
from domain.policy import DEFAULT_POLICY
from domain.transfers import ActorKind, Channel, NodeRole, NodeStatus, TransferStatus, TransferType
from messages.transfers import (
    Actor,
    ApproveInput,
    AssignBranchInput,
    NodeSpec,
    NodeState,
    NotificationSpec,
    OrgRef,
    ResubmitInput,
    ReturnInput,
    TransferEvent,
    TransferInput,
)
from models import Notification
from models.db import session_factory
from seed.demo import seed_demo
from worker import build_worker, workflow_runner
from workflows.transfer import TransferWorkflow

from .conftest import FORMS
from .test_transfer_workflow import DFM, Mocked, out_input

DAY = timedelta(days=1)
MEMBER = Actor(kind=ActorKind.MEMBER, username="m7", member_id=7, display_name="张三")
HUB = Actor(kind=ActorKind.ORG_ADMIN, username="whu-cs", org_code="WHU-CS")


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


def told(m: Mocked) -> list[tuple[str, NotificationSpec]]:
    """The member's notices, with the action of the event that carries each."""
    return [(e.action, n) for e in m.events for n in e.notifications if n.to_member]


def self_input() -> TransferInput:
    """个人发起 with three nodes: the sending side, its superior, the receiving org (not branch-level)."""
    return TransferInput(
        member_id=7,
        member_name="张三",
        member_id_masked="420106********1234",
        type=TransferType.EMPLOYED_WITH_ORG,
        channel=Channel.SELF,
        from_org=OrgRef(code="WHU-CS-2022-1", name="计算机学院2022级1班团支部"),
        target=OrgRef(code="DFM", name="东风汽车集团有限公司团委"),
        target_branch_level=False,
        nodes=[
            NodeSpec(org_code="WHU-CS", org_name="武汉大学计算机学院团委", role=NodeRole.SENDING),
            NodeSpec(org_code="WHU", org_name="武汉大学团委", role=NodeRole.SENDING_SUPERIOR),
            NodeSpec(org_code="DFM", org_name="东风汽车集团有限公司团委", role=NodeRole.RECEIVING),
        ],
        policy=DEFAULT_POLICY,
        initiator=MEMBER,
    )


async def test_the_member_is_told_every_step_of_a_whole_life(mocked, time_skipping_env):
    handle = await mocked.start(self_input())
    await handle.execute_update(TransferWorkflow.approve, ApproveInput(round=1, seq=1, actor=HUB, comment="同意转出"))
    await time_skipping_env.sleep(15 * DAY + timedelta(seconds=1))  # the second node: 系统默认通过
    v = await handle.query(TransferWorkflow.status_query)
    assert [n.status for n in v.nodes] == [NodeStatus.APPROVED, NodeStatus.AUTO_APPROVED, NodeStatus.PENDING]
    v = await handle.execute_update(
        TransferWorkflow.return_request,
        ReturnInput(round=1, seq=3, actor=DFM, reason_code="form_incomplete", reason_text="工作单位地址未填写"),
    )
    assert v.status == TransferStatus.RETURNED
    await handle.execute_update(TransferWorkflow.resubmit, ResubmitInput(actor=MEMBER, form={"employer_name": "东风"}))
    for seq, actor in ((1, HUB), (2, HUB.model_copy(update={"org_code": "WHU"})), (3, DFM)):
        await handle.execute_update(TransferWorkflow.approve, ApproveInput(round=2, seq=seq, actor=actor))
    v = await handle.execute_update(
        TransferWorkflow.assign_branch,
        AssignBranchInput(actor=DFM, branch=OrgRef(code="DFM-RD", name="研发总院团支部")),
    )
    assert v.status == TransferStatus.COMPLETED

    notices = told(mocked)
    assert [(action, n.kind) for action, n in notices] == [
        ("transfer.started", "transfer_started"),
        ("node.approved", "transfer_node_approved"),
        ("node.auto_approved", "transfer_node_auto_approved"),
        ("node.returned", "transfer_returned"),
        ("transfer.resubmitted", "transfer_resubmitted"),
        ("node.approved", "transfer_node_approved"),
        ("node.approved", "transfer_node_approved"),
        ("node.approved", "transfer_node_approved"),
        ("transfer.completed", "transfer_update"),
    ]
    texts = [(n.title, n.body) for _, n in notices]
    assert texts[0] == (
        "转接申请已提交",
        "你的团组织关系转接申请已提交，拟转入东风汽车集团有限公司团委。"
        "现由武汉大学计算机学院团委审批，15天内未审批的由系统默认通过。",
    )
    assert texts[1] == (
        "审批环节已通过",
        "武汉大学计算机学院团委已审批通过你的团组织关系转接申请，审批意见：同意转出。"
        "下一步由武汉大学团委审批，15天内未审批的由系统默认通过。",
    )
    assert texts[2] == (
        "审批环节已由系统默认通过",
        "武汉大学团委未在15天内审批，你的团组织关系转接申请在该环节已由系统默认通过。"
        "下一步由东风汽车集团有限公司团委审批，15天内未审批的由系统默认通过。",
    )
    assert texts[3] == (
        "转接申请被退回",
        "东风汽车集团有限公司团委退回了你的团组织关系转接申请，退回原因：信息填写不完整或有误：工作单位地址未填写。"
        "请在30天内修改后重新提交，或撤回申请；逾期未处理，申请将自动关闭。",
    )
    assert texts[4] == (
        "转接申请已重新提交",
        "你的团组织关系转接申请已修改后重新提交，拟转入东风汽车集团有限公司团委。"
        "现由武汉大学计算机学院团委审批，15天内未审批的由系统默认通过。",
    )
    assert texts[7] == (
        "审批环节已通过",
        "东风汽车集团有限公司团委已审批通过你的团组织关系转接申请。"
        "审批已全部通过，待东风汽车集团有限公司团委分配团支部后办结。",
    )
    completed = notices[-1][1]
    assert (completed.title, completed.body, completed.contact_org) == (
        "组织关系转接已办结",
        "你的团组织关系已转入研发总院团支部（东风汽车集团有限公司团委），请及时与新团支部取得联系，参加组织生活。",
        "DFM-RD",  # its contact is added where the row is written
    )
    # the orgs' notices are as they were: the sides on completion, in the third person
    (done,) = [e for e in mocked.events if e.action == "transfer.completed"]
    assert [(n.org_code, n.body) for n in done.notifications if not n.to_member] == [
        ("WHU-CS-2022-1", "张三的团组织关系已转入研发总院团支部。"),
        ("DFM", "张三的团组织关系已转入研发总院团支部。"),
    ]


async def test_the_member_is_told_when_a_returned_request_expires(mocked):
    handle = await mocked.start(out_input())  # 办理转出 by 武汉大学团委: the school resubmits, not the member
    await handle.execute_update(
        TransferWorkflow.return_request,
        ReturnInput(round=1, seq=2, actor=DFM, reason_code="other", reason_text="请补充就业协议"),
    )
    result = await handle.result()  # 30 days pass
    assert result.status == TransferStatus.EXPIRED

    notices = told(mocked)
    assert [(action, n.kind, n.title) for action, n in notices] == [
        ("transfer.started", "transfer_started", "转接申请已提交"),
        ("node.returned", "transfer_returned", "转接申请被退回"),
        ("transfer.expired", "transfer_update", "转接申请已过期"),
    ]
    assert notices[0][1].body == (
        "你的团组织关系转接申请已提交，拟转入研发总院团支部。"
        "现由东风汽车集团有限公司团委审批，15天内未审批的由系统默认通过。"
    )
    assert notices[1][1].body == (
        "东风汽车集团有限公司团委退回了你的团组织关系转接申请，退回原因：请补充就业协议。"
        "请与武汉大学团委联系，由其在30天内修改后重新提交或撤回申请；逾期未处理，申请将自动关闭。"
    )
    assert notices[2][1].body == (
        "你的团组织关系转接申请被退回后30天内未重新提交或撤回，已自动关闭，"
        "团组织关系仍在计算机学院2022级1班团支部。如仍需转接，请重新申请。"
    )
    (expired,) = [e for e in mocked.events if e.action == "transfer.expired"]
    assert {n.org_code for n in expired.notifications if not n.to_member} == {"WHU-CS-2022-1", "DFM-RD"}


# --- with the real activities: the member's rows ------------------------------------------------

CONTACT = {"contact_phone": "027-84280000", "contact_address": "湖北省武汉市经济技术开发区创业路58号研发总院"}


async def set_contact(engine, code: str, contact: dict[str, str]) -> None:
    """The branch's contact; the optional columns are added first where the schema lacks them."""
    async with engine.begin() as conn:
        have = await conn.run_sync(lambda c: {col["name"] for col in inspect(c).get_columns("orgs")})
        for column, length in (("contact_phone", 32), ("contact_address", 300)):
            if column not in have:
                await conn.execute(text(f"ALTER TABLE orgs ADD COLUMN {column} VARCHAR({length})"))
        await conn.execute(
            text(
                "UPDATE orgs SET contact_phone = :contact_phone, contact_address = :contact_address WHERE code = :code"
            ),
            {**contact, "code": code},
        )


async def member_notices(engine, member_id: int) -> list[Notification]:
    async with session_factory(engine)() as s:
        q = select(Notification).where(Notification.member_id == member_id).order_by(Notification.id)
        return list((await s.execute(q)).scalars())


async def test_a_whole_transfer_writes_the_members_notices_with_the_branch_contact(ts_driver):
    d = ts_driver
    await set_contact(d.engine, "DFM-RD", CONTACT)
    member = await d.member_in("WHU-CS-2022-1")
    form = FORMS[TransferType.EMPLOYED_WITH_ORG]
    async with build_worker(d.client, d.engine, task_queue=d.task_queue):
        v = (await d.start(member, type=TransferType.EMPLOYED_WITH_ORG, channel=Channel.SELF, target="DFM")).view
        assert [n.org_code for n in v.nodes] == ["WHU-CS", "DFM"]
        await d.approve(v, "whu-cs", comment="同意")
        await d.return_request(v, "dfm", "form_incomplete", "工作单位地址未填写")
        await d.resubmit(v, f"m{member.id}", {**form, "employer_address": "武汉市经济技术开发区创业路58号"})
        await d.env.sleep(15 * DAY + timedelta(seconds=1))  # round 2: the sending node, 系统默认通过
        v = await d.view(v)
        assert [n.status for n in v.nodes] == [NodeStatus.AUTO_APPROVED, NodeStatus.PENDING]
        await d.approve(v, "dfm")
        v = await d.assign_branch(v, "dfm", "DFM-RD")
        assert v.status == TransferStatus.COMPLETED

    rows = await member_notices(d.engine, member.id)
    assert [r.kind for r in rows] == [
        "transfer_started",
        "transfer_node_approved",
        "transfer_returned",
        "transfer_resubmitted",
        "transfer_node_auto_approved",
        "transfer_node_approved",
        "transfer_update",
    ]
    transfer_id = (await d.transfer_row(v)).id
    assert {(r.transfer_id, r.recipient_org_id) for r in rows} == {(transfer_id, None)}  # the member's own
    wuhan_cs = "武汉大学计算机学院团委"
    assert rows[1].body.startswith(f"{wuhan_cs}已审批通过你的团组织关系转接申请，审批意见：同意。")
    assert "退回原因：信息填写不完整或有误：工作单位地址未填写。请在30天内修改后重新提交，或撤回申请" in rows[2].body
    assert rows[4].body.startswith(f"{wuhan_cs}未在15天内审批")
    completed = rows[-1]
    assert completed.title == "组织关系转接已办结"
    assert completed.body == (
        "你的团组织关系已转入东风汽车集团有限公司研发总院团支部（东风汽车集团有限公司团委），"
        "请及时与新团支部取得联系，参加组织生活。"
        "联系电话：027-84280000；联系地址：湖北省武汉市经济技术开发区创业路58号研发总院。"
    )
    # the orgs are told in the third person, without the contact line
    sides = await d.notifications(v, "transfer_update")
    assert {n.body for n in sides if n.member_id is None} == {
        f"{member.name}的团组织关系已转入东风汽车集团有限公司研发总院团支部。"
    }


async def test_a_notice_naming_an_org_without_a_contact_gets_no_contact_line(engine):
    """The contact line only when the orgs table has the columns and the org's are filled."""
    await seed_demo(engine, members=20)
    at = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)
    inp = self_input().model_copy(update={"member_id": 1, "initiator": MEMBER.model_copy(update={"member_id": 1})})
    step = NodeState(round=1, seq=1, org_code="WHU-CS", org_name="学院", role=NodeRole.SENDING, started_at=at)
    notice = NotificationSpec(kind="transfer_update", to_member=True, title="t", body="正文。", contact_org="DFM-RD")
    event = TransferEvent(
        key="wf/run/1",
        workflow_id="wf",
        run_id="run",
        action="transfer.started",
        actor="m1",
        at=at,
        status=TransferStatus.PENDING,
        steps=[step],
        notifications=[notice, notice.model_copy(update={"contact_org": "DFM-HQ"})],
        create=inp,
    )
    async with engine.begin() as conn:  # when the columns exist (a later migration), DFM-RD's are empty
        have = await conn.run_sync(lambda c: {col["name"] for col in inspect(c).get_columns("orgs")})
        if "contact_phone" in have:
            await conn.execute(text("UPDATE orgs SET contact_phone = '027-1' WHERE code = 'DFM-HQ'"))
    await TransferActivities(engine).apply_event(event)

    async with session_factory(engine)() as s:
        bodies = (await s.execute(select(Notification.body).order_by(Notification.id))).scalars().all()
    assert bodies[0] == "正文。"  # no contact: nothing added
    assert bodies[1] == ("正文。联系电话：027-1。" if "contact_phone" in have else "正文。")
