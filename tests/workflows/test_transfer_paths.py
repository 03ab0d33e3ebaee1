"""TransferWorkflow end to end on the dev server: each path's result and its database rows."""

import asyncio

import pytest
from temporalio.api.enums.v1 import EventType

from domain.transfers import Channel, NodeRole, NodeStatus, TransferStatus, TransferType
from messages import search_attributes as sa
from messages.transfers import ApproveInput, ResubmitInput, WithdrawInput
from service.errors import ServiceError
from service.permissions import admin_actor
from worker import build_worker
from workflows.transfer import TransferWorkflow

from .conftest import EMPLOYER_FORM, FORMS


def _module_state() -> dict:
    """Every global of the modules workflows run with (passed through the sandbox, not re-imported
    per execution): what it is bound to and, for a container or a model, its contents."""
    import sys

    from pydantic import BaseModel

    state = {}
    for name, module in list(sys.modules.items()):
        if name.split(".")[0] in ("workflows", "messages", "domain"):
            for k, v in vars(module).items():
                if not k.startswith("__"):
                    contents = (
                        v.model_dump_json()
                        if isinstance(v, BaseModel)
                        else (repr(v) if isinstance(v, (dict, list, set)) else None)
                    )
                    state[(name, k)] = (id(v), contents)
    return state


async def test_out_with_one_node_then_branch_assignment(dev_driver):
    d = dev_driver
    before = _module_state()  # the worker runs workflows without re-importing their modules
    member = await d.member_in("WHU-CS-2022-1")
    async with build_worker(d.client, d.engine, task_queue=d.task_queue):
        started = await d.start(
            member,
            type=TransferType.EMPLOYED_WITH_ORG,
            channel=Channel.OUT,
            target="DFM",
            by="whu",
            form=EMPLOYER_FORM,
        )
        assert started.created
        v = started.view
        assert [(n.org_code, n.status) for n in v.nodes] == [
            ("WHU-CS", NodeStatus.APPROVED),
            ("DFM", NodeStatus.PENDING),
        ]
        h = d.handle(v)
        assert v.status == TransferStatus.PENDING and v.current_seq == 2
        assert v.nodes[1].status == NodeStatus.PENDING and v.nodes[1].deadline is not None

        v = await d.approve(v, "dfm", comment="同意接收")
        v = await d.view(v)
        assert v.status == TransferStatus.AWAITING_ASSIGNMENT
        assert (await d.member(member.id)).branch_id == member.branch_id  # nothing moves before assignment

        # a branch outside the receiving org, or a non-branch org, is refused before the update
        for bad, rule in (("WHU-CS-2022-2", "不在接收组织之下"), ("DFM-XY", "不是团支部级组织")):
            with pytest.raises(ServiceError, match=rule) as info:
                await d.assign_branch(v, "dfm", bad)
            assert info.value.status == 422
        v = await d.assign_branch(v, "dfm", "DFM-RD")
        assert v.status == TransferStatus.COMPLETED and v.branch.code == "DFM-RD"
        assert (await h.result()).status == TransferStatus.COMPLETED

    row = await d.transfer_row(v)
    assert row.status == "completed" and row.completed_at is not None
    assert row.branch_id == await d.org_id("DFM-RD")
    assert (await d.member(member.id)).branch_id == await d.org_id("DFM-RD")
    (hist,) = await d.history_rows(member.id)
    assert hist.from_branch_id == member.branch_id and hist.to_branch_id == await d.org_id("DFM-RD")
    steps = await d.steps(v)
    assert [(s.seq, s.status, s.decided_by) for s in steps] == [(1, "approved", "whu"), (2, "approved", "dfm")]
    assert steps[1].comment == "同意接收"
    kinds = [n.kind for n in await d.notifications(v)]
    assert kinds.count("node_pending") == 1 and kinds.count("assignment_needed") == 1
    assert kinds.count("transfer_update") == 3  # both sides and the member on completion
    actions = [a.action for a in await d.audit(v)]
    assert actions == [
        "transfer.started",
        "node.approved",
        "assignment.awaiting",
        "branch.assigned",
        "transfer.completed",
    ]
    after = _module_state()  # a whole transfer changed no global (modules imported meanwhile may add some)
    assert {k: after.get(k) for k in before} == before


async def test_self_with_two_nodes(dev_driver):
    d = dev_driver
    member = await d.member_in("WHU-CS-2022-2")
    async with build_worker(d.client, d.engine, task_queue=d.task_queue):
        v = (
            await d.start(
                member,
                type=TransferType.UNEMPLOYED,
                channel=Channel.SELF,
                target="HB-WH-HS-GS-TMP",
                form=FORMS[TransferType.UNEMPLOYED],
            )
        ).view
        assert [(n.org_code, n.role, n.status) for n in v.nodes] == [
            ("WHU-CS", NodeRole.SENDING, NodeStatus.PENDING),
            ("HB-WH-HS-GS", NodeRole.RECEIVING, NodeStatus.WAITING),
        ]
        h = d.handle(v)
        attrs = (await h.describe()).typed_search_attributes  # what operators filter on in Temporal UI
        assert attrs.get(sa.TRANSFER_STATUS) == "pending" and attrs.get(sa.CURRENT_NODE_ORG) == "WHU-CS"
        assert attrs.get(sa.TRANSFER_TYPE) == "unemployed" and attrs.get(sa.CHANNEL) == "self"
        assert attrs.get(sa.FROM_ORG) == "WHU-CS-2022-2" and attrs.get(sa.TO_ORG) == "HB-WH-HS-GS-TMP"
        assert attrs.get(sa.NODE_DEADLINE) == v.nodes[0].deadline
        # the receiving node cannot decide before the sending node
        with pytest.raises(ServiceError, match="尚未轮到") as info:
            await d.update(
                v,
                TransferWorkflow.approve,
                ApproveInput(round=1, seq=2, actor=await d.admin("hb-wh-hs-gs", "HB-WH-HS-GS")),
            )
        assert info.value.status == 409
        v = await d.approve(v, "whu-cs")
        v = await d.approve(v, "hb-wh-hs-gs")
        result = await h.result()
        attrs = (await h.describe()).typed_search_attributes
        assert attrs.get(sa.TRANSFER_STATUS) == "completed" and attrs.get(sa.CURRENT_NODE_ORG) is None
    assert result.status == TransferStatus.COMPLETED and result.branch.code == "HB-WH-HS-GS-TMP"  # branch-level target
    assert (await d.member(member.id)).branch_id == await d.org_id("HB-WH-HS-GS-TMP")
    assert [s.status for s in await d.steps(result)] == ["approved", "approved"]
    assert len(await d.notifications(result, "node_pending")) == 2
    # what the server stores: a visibility write only when the status or the current node
    # changed (started, the second node pending, completed; not for the first approval) besides
    # the one patch's TemporalChangeVersion, and the completion's follow-up on holdings inside the
    # completion activity, not one of its own
    events = (await h.fetch_history()).events
    upserted = [
        sorted(e.upsert_workflow_search_attributes_event_attributes.search_attributes.indexed_fields)
        for e in events
        if e.HasField("upsert_workflow_search_attributes_event_attributes")
    ]
    assert sorted(upserted) == sorted(
        [
            ["TemporalChangeVersion"],
            ["Channel", "CurrentNodeOrg", "FromOrg", "NodeDeadline", "ToOrg", "TransferStatus", "TransferType"],
            ["CurrentNodeOrg", "NodeDeadline"],
            ["CurrentNodeOrg", "NodeDeadline", "TransferStatus"],
        ]
    )
    scheduled = [
        e.activity_task_scheduled_event_attributes.activity_type.name
        for e in events
        if e.HasField("activity_task_scheduled_event_attributes")
    ]
    assert scheduled == ["apply_event"] * 5  # started, approved, node pending, approved, completed


async def test_special_unit_goes_through_the_provincial_node(dev_driver):
    d = dev_driver
    member = await d.member_in("HUST-")
    async with build_worker(d.client, d.engine, task_queue=d.task_queue):
        v = (
            await d.start(
                member,
                type=TransferType.SPECIAL_UNIT,
                channel=Channel.OUT,
                target="HB-SU",
                by="hust",
            )
        ).view
        assert [(n.org_code, n.role, n.status) for n in v.nodes][-1] == ("HB", NodeRole.PROVINCIAL, NodeStatus.PENDING)
        assert v.nodes[0].status == NodeStatus.APPROVED
        h = d.handle(v)
        # an admin of a college may not decide the provincial node
        with pytest.raises(ServiceError) as info:
            await admin_actor(d.engine, await d.user("whu-cs"), "HB")
        assert info.value.status == 403
        await d.approve(v, "hb")
        result = await h.result()
    assert result.status == TransferStatus.COMPLETED and result.branch.code == "HB-SU"
    assert (await d.member(member.id)).branch_id == await d.org_id("HB-SU")


async def test_return_then_resubmit_then_approve(dev_driver):
    d = dev_driver
    member = await d.member_in("WHU-CS-2022-3")
    async with build_worker(d.client, d.engine, task_queue=d.task_queue):
        v = (
            await d.start(
                member,
                type=TransferType.EMPLOYED_WITHOUT_ORG,
                channel=Channel.OUT,
                target="HB-WH-HS-LN-TMP",
                by="whu",
            )
        ).view
        h = d.handle(v)
        ln = await d.admin("hb-wh-hs-ln", "HB-WH-HS-LN")
        v = await d.return_request(v, "hb-wh-hs-ln", "form_incomplete", "工作单位地址未填写")
        assert v.status == TransferStatus.RETURNED
        assert (await d.transfer_row(v)).status == "returned"
        # only the initiator may resubmit
        with pytest.raises(ServiceError, match="发起方"):
            await d.update(v, TransferWorkflow.resubmit, ResubmitInput(actor=ln, form={}))
        v = await d.resubmit(v, "whu", {**FORMS[TransferType.EMPLOYED_WITHOUT_ORG], "employer_address": "珞南街道1号"})
        v = await d.view(v)
        assert v.round == 2 and v.status == TransferStatus.PENDING
        assert v.nodes[1].status == NodeStatus.PENDING and v.nodes[1].started_at > v.history[0].at  # fresh clock
        # a stale click from round 1 is refused
        with pytest.raises(ServiceError, match="重新提交"):
            await d.update(v, TransferWorkflow.approve, ApproveInput(round=1, seq=2, actor=ln))
        await d.approve(v, "hb-wh-hs-ln")
        result = await h.result()
    assert result.status == TransferStatus.COMPLETED
    row = await d.transfer_row(result)
    assert row.form["employer_address"] == "珞南街道1号"
    steps = await d.steps(result)
    assert [(s.round, s.seq, s.status) for s in steps] == [
        (1, 1, "approved"),
        (1, 2, "returned"),
        (2, 1, "approved"),
        (2, 2, "approved"),
    ]
    assert steps[1].reason_code == "form_incomplete" and steps[1].comment == "工作单位地址未填写"
    assert len(await d.notifications(result, "transfer_returned")) == 2  # initiator org and member


@pytest.mark.parametrize(
    "reason_code, text",
    [
        ("not_formal_employee", "非本单位正式编制职工"),
        ("not_local_resident", ""),
        ("other", "该同学非本地户籍，不予接收"),
        ("form_incomplete", "不是本单位正式员工"),
    ],
)
async def test_forbidden_return_grounds_are_refused_before_history(dev_driver, reason_code, text):
    d = dev_driver
    member = await d.member_in("WHU-CS-2022-4")
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
        with pytest.raises(ServiceError, match="不得以非本单位正式编制职工、非本地区正式户籍居民") as info:
            await d.return_request(v, "dfm", reason_code, text)
        assert info.value.status == 422
        history = await h.fetch_history()
        accepted = [
            e.workflow_execution_update_accepted_event_attributes.accepted_request.input.name
            for e in history.events
            if e.event_type == EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED
        ]
        assert accepted == ["recorded"]  # the start's own update; the refused return never got in
        assert (await d.view(v)).status == TransferStatus.PENDING
        await h.terminate("test over")
    assert [s.status for s in await d.steps(v)] == ["approved", "pending"]


async def test_withdraw_by_member(dev_driver):
    d = dev_driver
    member = await d.member_in("WHU-CS-2022-5")
    async with build_worker(d.client, d.engine, task_queue=d.task_queue):
        started = await d.start(member, type=TransferType.UNEMPLOYED, channel=Channel.SELF, target="HB-WH-HS-GS-TMP")
        v = started.view
        h = d.handle(v)
        # an org may not withdraw a member's own request (the service refuses it too; the workflow
        # refuses an org actor on its own)
        with pytest.raises(ServiceError, match="发起方"):
            await d.update(
                v, TransferWorkflow.withdraw, WithdrawInput(actor=await d.admin("whu-cs", "WHU-CS"), reason="x")
            )
        with pytest.raises(ServiceError, match="本人") as info:
            await d.withdraw(v, "whu-cs", "x")
        assert info.value.status == 403
        v = await d.withdraw(v, f"m{member.id}", "已找到工作，另行申请")
        assert v.status == TransferStatus.WITHDRAWN and v.withdrawn_by == "member"
        assert (await h.result()).status == TransferStatus.WITHDRAWN
        with pytest.raises(ServiceError):
            await d.approve(v, "whu-cs")
    row = await d.transfer_row(v)
    assert row.status == "withdrawn"
    assert (await d.member(member.id)).branch_id == member.branch_id
    (audit,) = [a for a in await d.audit(v) if a.action == "transfer.withdrawn"]
    assert audit.detail["by"] == "member" and audit.detail["reason"] == "已找到工作，另行申请"


async def test_withdraw_by_org_while_awaiting_assignment(dev_driver):
    d = dev_driver
    member = await d.member_in("WHU-CS-2022-6")
    async with build_worker(d.client, d.engine, task_queue=d.task_queue):
        v = (
            await d.start(
                member,
                type=TransferType.EMPLOYED_WITH_ORG,
                channel=Channel.OUT,
                target="DFM",
                by="whu-cs",
            )
        ).view
        await d.approve(v, "dfm")
        assert (await d.view(v)).status == TransferStatus.AWAITING_ASSIGNMENT
        # an admin of an ancestor acts for the initiating org
        v = await d.withdraw(v, "whu", "去向有变")
        assert v.status == TransferStatus.WITHDRAWN and v.withdrawn_by == "org"
    assert (await d.transfer_row(v)).status == "withdrawn"
    assert (await d.member(member.id)).branch_id == member.branch_id


async def test_two_concurrent_approvals_give_one_decision(dev_driver):
    d = dev_driver
    member = await d.member_in("WHU-CS-2022-7")
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
        a1 = await d.admin("dfm", "DFM")
        a2 = await d.admin("hb", "DFM")  # the provincial admin acts for an org below it
        # both sent for the node pending now, at once: the validators see them one after the other
        results = await asyncio.gather(
            d.update(v, TransferWorkflow.approve, ApproveInput(round=1, seq=2, actor=a1, comment="一")),
            d.update(v, TransferWorkflow.approve, ApproveInput(round=1, seq=2, actor=a2, comment="二")),
            return_exceptions=True,
        )
        ok = [r for r in results if not isinstance(r, Exception)]
        refused = [r for r in results if isinstance(r, ServiceError)]
        assert len(ok) == 1 and len(refused) == 1, results
        assert refused[0].status == 409 and "已由" in refused[0].problems[0].message
        await h.terminate("test over")
    steps = await d.steps(v)
    assert steps[1].status == "approved"
    assert len([a for a in await d.audit(v) if a.action == "node.approved"]) == 1


async def test_second_start_returns_the_open_transfer(dev_driver):
    d = dev_driver
    member = await d.member_in("WHU-CS-2022-8")
    async with build_worker(d.client, d.engine, task_queue=d.task_queue):
        first = await d.start(member, type=TransferType.EMPLOYED_WITH_ORG, channel=Channel.OUT, target="DFM", by="whu")
        second = await d.start(member, type=TransferType.UNEMPLOYED, channel=Channel.SELF, target="HB-WH-HS-GS-TMP")
        assert first.created and not second.created
        assert second.view.workflow_id == first.view.workflow_id
        assert second.view.type == TransferType.EMPLOYED_WITH_ORG and second.view.request_id == first.view.request_id
        await d.handle(first.view).terminate("test over")
    assert await d.count_transfers(member.id) == 1


async def test_request_id_makes_a_start_idempotent_after_completion(dev_driver):
    d = dev_driver
    member = await d.member_in("WHU-EM")
    async with build_worker(d.client, d.engine, task_queue=d.task_queue):
        first = await d.start(
            member,
            type=TransferType.UNEMPLOYED,
            channel=Channel.OUT,
            target="HB-WH-HS-GS-TMP",
            by="whu",
            idempotency_key="sis-req-1",
        )
        h = d.handle(first.view)
        await d.approve(first.view, "hb-wh-hs-gs")
        assert (await h.result()).status == TransferStatus.COMPLETED
        # the client lost the answer and retries the same request: no second transfer
        again = await d.start(
            member,
            type=TransferType.UNEMPLOYED,
            channel=Channel.OUT,
            target="HB-WH-HS-GS-TMP",
            by="whu",
            idempotency_key="sis-req-1",
        )
        assert not again.created and again.view.status == TransferStatus.COMPLETED
        assert again.view.workflow_id == first.view.workflow_id
    assert await d.count_transfers(member.id) == 1
    assert (await d.transfer_row(first.view)).request_id == "whu:sis-req-1"  # the key, per user


async def test_completion_into_a_county_temp_branch_starts_its_holding(dev_driver):
    """§I.1: the county-level temp branch must move the member out within a year; §I.4: a member
    kept at school as mobile is released when their transfer completes."""
    from sqlalchemy import select

    from models.db import session_factory
    from models.tables import Holding

    d = dev_driver
    member = await d.member_in("WHU-EIS")
    async with build_worker(d.client, d.engine, task_queue=d.task_queue):
        v = (
            await d.start(
                member,
                type=TransferType.UNEMPLOYED,
                channel=Channel.OUT,
                target="HB-WH-JX-TMP",
                by="whu",
            )
        ).view
        await d.approve(v, "hb-wh-jx")
        assert (await d.handle(v).result()).status == TransferStatus.COMPLETED
        async with session_factory(d.engine)() as s:
            (holding,) = (await s.execute(select(Holding).where(Holding.member_id == member.id))).scalars().all()
        assert holding.kind == "county_temp" and holding.status == "active"
        # the holding's workflow runs; moving the member on releases it
        v2 = (
            await d.start(
                member,
                type=TransferType.EMPLOYED_WITH_ORG,
                channel=Channel.OUT,
                target="DFM",
                by="hb-wh-jx",
            )
        ).view
        h2 = d.handle(v2)
        await d.approve(v2, "dfm")
        await d.assign_branch(v2, "dfm", "DFM-HQ")
        assert (await h2.result()).status == TransferStatus.COMPLETED
        async with session_factory(d.engine)() as s:
            (holding,) = (await s.execute(select(Holding).where(Holding.member_id == member.id))).scalars().all()
        assert holding.status == "released"
        await d.client.get_workflow_handle(holding.workflow_id).result()
