"""The §6 flows end to end on the dev server, with scaled time: abroad-study retention (approve,
return, withdraw, 系统默认通过), mobile and county temp branch holdings (reminders before the end,
overdue after, release), delayed graduation, and the registers they feed; the default, unscaled
timelines on the time-skipping server.

With ZHTJ_RECORD_HISTORIES=1 the closed histories of the tests run are saved as
tests/histories/stay_<test>_<i>.json for the replay test: run only the tests whose workflows
changed (-k), so the files of the others stay histories of the code that recorded them."""

from __future__ import annotations

import asyncio
import base64
import io
import json
import os
import time
import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import openpyxl
import pytest
from sqlalchemy import func, select, update
from temporalio.api.enums.v1 import EventType

from domain import idcard
from domain.deadlines import SHANGHAI, add_months
from domain.holdings import (
    MOBILE_TOO_EARLY_MESSAGE,
    HoldingKind,
    HoldingPolicy,
    HoldingStatus,
    RetentionStatus,
    holding_policy_for,
)
from domain.orgs import OrgKind
from domain.policy import policy_for
from domain.transfers import ActorKind
from messages.stay_at_school import (
    HoldingRelease,
    RetentionApprove,
    RetentionReturn,
    RetentionWithdraw,
    holding_workflow_id,
)
from messages.transfers import SYSTEM_ACTOR, Actor
from models import AuditLog, Member, MembershipHistory, Notification, Org, User
from models.db import session_factory, session_scope
from models.tables import AbroadRetention, Holding
from service import holdings, marking, register_export, registers, retentions
from service.errors import ServiceError
from service.permissions import admin_actor
from worker import build_worker
from workflows.holding import GRADUATION_LIMIT_PATCH, HoldingWorkflow

ABROAD_FORM = {
    "abroad_place": "英国伦敦 帝国理工学院",
    "abroad_from": "2026-09-01",
    "abroad_to": "2027-09-30",
    "contact_name": "张建国",
    "contact_phone": "13907100001",
}
DAY = timedelta(days=1)
# The dev server fires a timer shorter than about a second only after about a second, so on it
# consecutive events are kept a second or more apart; the default offsets (30 d and 7 d before
# the end) are tested with real durations on the time-skipping server below.
RETENTION_SCALE = 864_000  # a day is 0.1 s: reminder at 1.0 s, 系统默认通过 at 1.5 s (fires at ≈ 2 s)
MOBILE_SCALE = 4_320_000  # 50 days is 1 s: from 07-25 to 6 months after graduation (12-30), 158 days ≈ 3.2 s
MOBILE_POLICY = HoldingPolicy(remind_before=(100 * DAY, 50 * DAY)).scaled(MOBILE_SCALE)  # at ≈ 1.2 s and 2.2 s
COUNTY_SCALE = 10_368_000  # 120 days is 1 s: a year ≈ 3 s
COUNTY_POLICY = HoldingPolicy(remind_before=(240 * DAY, 120 * DAY)).scaled(COUNTY_SCALE)  # at ≈ 1 s and 2 s


HISTORIES = Path(__file__).resolve().parent.parent / "histories"
CLOSED = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT,
}


@dataclass
class Stay:
    env: Any
    engine: Any
    task_queue: str
    test_name: str = ""
    retention_prefix: str = field(default_factory=lambda: f"retention-{uuid.uuid4().hex[:8]}-")
    holding_prefix: str = field(default_factory=lambda: f"holding-{uuid.uuid4().hex[:8]}-")
    started: list[str] = field(default_factory=list)

    @property
    def client(self):
        return self.env.client

    async def close(self) -> None:
        """Terminate what a failed test left running; with ZHTJ_RECORD_HISTORIES=1 save the
        closed histories (see the module's docstring)."""
        record = os.environ.get("ZHTJ_RECORD_HISTORIES") == "1"
        for i, wid in enumerate(dict.fromkeys(self.started)):
            h = self.client.get_workflow_handle(wid)
            try:
                history = await h.fetch_history()  # describe() cannot decode the test server's datetimes
                if history.events[-1].event_type not in CLOSED:
                    await h.terminate("test teardown")
                elif record:
                    (HISTORIES / f"stay_{self.test_name.split('[')[0]}_{i}.json").write_text(history.to_json())
            except Exception:
                pass

    async def admin(self, username: str, org_code: str) -> Actor:
        async with session_factory(self.engine)() as s:
            user = (await s.execute(select(User).where(User.username == username))).scalar_one()
        return await admin_actor(self.engine, user, org_code)

    async def member_in(self, branch_prefix: str, index: int = 0) -> Member:
        async with session_factory(self.engine)() as s:
            return (
                (
                    await s.execute(
                        select(Member)
                        .join(Org, Org.id == Member.branch_id)
                        .where(Org.code.like(f"{branch_prefix}%"))
                        .order_by(Member.id)
                    )
                )
                .scalars()
                .all()[index]
            )

    async def member(self, member_id: int) -> Member:
        async with session_factory(self.engine)() as s:
            return await s.get(Member, member_id)

    async def org(self, code: str) -> Org | None:
        async with session_factory(self.engine)() as s:
            return (await s.execute(select(Org).where(Org.code == code))).scalar_one_or_none()

    async def put_member_in(self, member_id: int, branch_code: str) -> None:
        """Test set-up: place a member (as a completed transfer or an import would)."""
        org = await self.org(branch_code)
        async with session_scope(self.engine) as s:
            await s.execute(update(Member).where(Member.id == member_id).values(branch_id=org.id))

    async def rows(self, model, **where) -> list:
        async with session_factory(self.engine)() as s:
            q = select(model)
            for k, v in where.items():
                q = q.where(getattr(model, k) == v)
            return list((await s.execute(q.order_by(model.id))).scalars())

    async def notifications(self, workflow_id: str, kind: str | None = None) -> list[Notification]:
        async with session_factory(self.engine)() as s:
            q = select(Notification).where(Notification.key.like(f"{workflow_id}/%"))
            if kind:
                q = q.where(Notification.kind == kind)
            return list((await s.execute(q.order_by(Notification.id))).scalars())

    async def audit(self, entity: str, entity_id: int) -> list[str]:
        async with session_factory(self.engine)() as s:
            return list(
                (
                    await s.execute(
                        select(AuditLog.action)
                        .where(AuditLog.entity == entity, AuditLog.entity_id == str(entity_id))
                        .order_by(AuditLog.id)
                    )
                ).scalars()
            )

    async def submit(self, member: Member, actor: Actor, form: dict | None = None, scale: float = 1.0):
        inp = await retentions.build_retention_input(
            self.engine, member_id=member.id, form=form or ABROAD_FORM, initiator=actor, policy=policy_for(scale)
        )
        result = await retentions.submit_retention(
            self.client, inp, task_queue=self.task_queue, id_prefix=self.retention_prefix
        )
        self.started.append(result.view.workflow_id)
        return result

    async def mark_mobile(self, member: Member, actor: Actor, now: datetime, policy: HoldingPolicy = MOBILE_POLICY):
        result = await holdings.mark_mobile(
            self.client,
            self.engine,
            member_id=member.id,
            actor=actor,
            task_queue=self.task_queue,
            now=now,
            policy=policy,
            id_prefix=self.holding_prefix,
        )
        self.started.append(result.view.workflow_id)
        return result

    async def county(self, member: Member, policy: HoldingPolicy = COUNTY_POLICY):
        result = await holdings.start_county_holding(
            self.client,
            self.engine,
            member_id=member.id,
            task_queue=self.task_queue,
            policy=policy,
            id_prefix=self.holding_prefix,
        )
        self.started.append(result.view.workflow_id)
        return result


@pytest.fixture
async def st(dev_env, demo, task_queue, request):
    s = Stay(env=dev_env, engine=demo, task_queue=task_queue, test_name=request.node.name)
    yield s
    await s.close()


def member_actor(member: Member) -> Actor:
    return Actor(kind=ActorKind.MEMBER, username=f"m{member.id}", member_id=member.id, display_name=member.name)


async def eventually(check, timeout: float = 15.0, interval: float = 0.05):
    """Poll an async check until it returns something truthy."""
    deadline = time.monotonic() + timeout
    while True:
        got = await check()
        if got:
            return got
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(interval)


def aware(moment: datetime) -> datetime:
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def sheet(data: bytes) -> list[list[Any]]:
    ws = openpyxl.load_workbook(io.BytesIO(data)).active
    return [list(r) for r in ws.iter_rows(values_only=True)]


# =================================================================================================
# Abroad-study retention (§I.5)
# =================================================================================================


async def test_retention_approved_moves_member_and_enters_the_register(st):
    member = await st.member_in("WHU-CS-")
    me = member_actor(member)
    async with build_worker(st.client, st.engine, task_queue=st.task_queue):
        # an invalid application is refused before anything starts
        with pytest.raises(ServiceError) as info:
            await st.submit(member, me, form={**ABROAD_FORM, "contact_phone": "12345", "abroad_to": "2026-08-01"})
        assert info.value.status == 422 and info.value.problems[0].field == "form.contact_phone"
        # another member may not apply for them
        other = await st.member_in("WHU-CS-", 1)
        with pytest.raises(ServiceError) as info:
            await st.submit(member, member_actor(other))
        assert info.value.status == 403

        started = await st.submit(member, me)
        v = started.view
        assert started.created and v.status == RetentionStatus.PENDING
        assert v.school.code == "WHU" and v.from_branch.code.startswith("WHU-CS-")
        assert v.deadline - v.submitted_at == timedelta(days=15) and v.remind_at - v.submitted_at == timedelta(days=10)
        (row,) = await st.rows(AbroadRetention, member_id=member.id)  # recorded before submit returns
        assert (row.status, row.abroad_place, row.contact_phone) == (
            "pending",
            ABROAD_FORM["abroad_place"],
            "13907100001",
        )
        assert str(row.abroad_to) == "2027-09-30"
        # a second submission returns the pending one
        again = await st.submit(member, me)
        assert not again.created and again.view.workflow_id == v.workflow_id

        h = retentions.retention_handle(st.client, v.workflow_id)
        # another school's admin may not decide; the member may not approve their own
        with pytest.raises(ServiceError, match="武汉大学团委的管理员") as info:
            await retentions.approve_retention(h, RetentionApprove(actor=await st.admin("hust", "HUST")))
        assert info.value.status == 409
        with pytest.raises(ServiceError):
            await retentions.approve_retention(h, RetentionApprove(actor=me))
        # a provincial admin acting for the school may
        v = await retentions.approve_retention(
            h, RetentionApprove(actor=await st.admin("hb", "WHU"), comment="同意保留")
        )
        assert v.status == RetentionStatus.APPROVED and v.branch.code == "WHU-ABR" and not v.auto_approved
        # stale or duplicate decisions are refused
        with pytest.raises(ServiceError, match="不能重复处理") as info:
            await retentions.approve_retention(h, RetentionApprove(actor=await st.admin("whu", "WHU")))
        assert info.value.status == 409
        with pytest.raises(ServiceError, match="不能重复处理"):
            await retentions.withdraw_retention(h, RetentionWithdraw(actor=me, reason="不去了"))
        assert (await h.result()).status == RetentionStatus.APPROVED
        # approved: a new application is refused
        with pytest.raises(ServiceError, match="已保留") as info:
            await st.submit(member, me)
        assert info.value.status == 409

    m = await st.member(member.id)
    abr = await st.org("WHU-ABR")
    assert m.branch_id == abr.id and m.abroad_retention
    (hist,) = await st.rows(MembershipHistory, member_id=member.id)
    assert (hist.from_branch_id, hist.to_branch_id, hist.reason) == (member.branch_id, abr.id, "abroad_study_retention")
    (row,) = await st.rows(AbroadRetention, member_id=member.id)
    assert (row.status, row.decided_by, row.comment, row.branch_id) == ("approved", "hb", "同意保留", abr.id)
    assert row.registered_at is not None and not row.auto_approved
    assert await st.audit("abroad_retention", row.id) == ["retention.submitted", "retention.approved"]
    assert [n.kind for n in await st.notifications(v.workflow_id)] == [
        "retention_pending",
        "retention_update",
        "retention_update",
    ]

    # the abroad-study register of the school, of the province, not of the other school
    (r,) = [r for r in await registers.abroad_study_register(st.engine, "WHU") if r.member_id == member.id]
    assert (r.member_name, r.org_code, r.abroad_place, r.contact_name) == (
        member.name,
        "WHU-ABR",
        ABROAD_FORM["abroad_place"],
        "张建国",
    )
    assert r.id_number_masked == idcard.mask(member.id_number) and "*" in r.id_number_masked
    assert any(x.member_id == member.id for x in await registers.abroad_study_register(st.engine, "HB"))
    assert any(x.member_id == member.id for x in await registers.abroad_study_register(st.engine, "WHU-CS"))
    assert not await registers.abroad_study_register(st.engine, "HUST")
    data = register_export.export_xlsx(await registers.abroad_study_register(st.engine, "WHU"), "abroad_study")
    cells = sheet(data)
    assert cells[0][:4] == ["序号", "姓名", "身份证号", "学校团委"] and "境外学习研究地点" in cells[0]
    assert cells[1][1:3] == [member.name, idcard.mask(member.id_number)]
    assert ABROAD_FORM["abroad_place"] in cells[1] and "13907100001" in cells[1]
    assert member.id_number not in str(cells)


async def test_retention_returned_then_applied_again_and_withdrawn(st):
    member = await st.member_in("WHU-EM-")
    me = member_actor(member)
    async with build_worker(st.client, st.engine, task_queue=st.task_queue):
        v = (await st.submit(member, me)).view
        h = retentions.retention_handle(st.client, v.workflow_id)
        whu = await st.admin("whu", "WHU")
        # the forbidden grounds (§III.4) are refused before history, the request stays pending
        with pytest.raises(ServiceError, match="不得以") as info:
            await retentions.return_retention(h, RetentionReturn(actor=whu, reason_code="not_local_resident"))
        assert info.value.status == 422
        v = await retentions.return_retention(
            h, RetentionReturn(actor=whu, reason_code="form_incomplete", reason_text="境外学习研究地点不具体")
        )
        assert v.status == RetentionStatus.RETURNED and v.comment == "境外学习研究地点不具体"
        assert (await h.result()).status == RetentionStatus.RETURNED
        with pytest.raises(ServiceError, match="不能重复处理"):
            await retentions.approve_retention(h, RetentionApprove(actor=whu))

        # the member applies again (a new run of the same id) and withdraws it
        second = await st.submit(member, me, form={**ABROAD_FORM, "abroad_place": "英国伦敦南肯辛顿 帝国理工学院"})
        assert second.created and second.view.workflow_id == v.workflow_id
        h2 = retentions.retention_handle(st.client, second.view.workflow_id)
        with pytest.raises(ServiceError, match="撤回须填写原因") as info:
            await retentions.withdraw_retention(h2, RetentionWithdraw(actor=me, reason=" "))
        assert info.value.status == 422
        with pytest.raises(ServiceError, match="团员本人或学校团委"):
            await retentions.withdraw_retention(h2, RetentionWithdraw(actor=await st.admin("hust", "HUST"), reason="x"))
        v2 = await retentions.withdraw_retention(h2, RetentionWithdraw(actor=me, reason="改为国内升学"))
        assert v2.status == RetentionStatus.WITHDRAWN and v2.withdrawn_by == "member"
        assert (await h2.result()).status == RetentionStatus.WITHDRAWN

    m = await st.member(member.id)
    assert m.branch_id == member.branch_id and not m.abroad_retention  # nothing moved
    assert await st.rows(MembershipHistory, member_id=member.id) == []
    rows = await st.rows(AbroadRetention, member_id=member.id)
    assert [(r.status, r.reason_code) for r in rows] == [("returned", "form_incomplete"), ("withdrawn", None)]
    assert rows[1].comment == "改为国内升学" and rows[1].abroad_place.startswith("英国伦敦南肯辛顿")
    assert await st.audit("abroad_retention", rows[0].id) == ["retention.submitted", "retention.returned"]
    assert not await registers.abroad_study_register(st.engine, "WHU")


async def test_retention_two_concurrent_decisions_give_one(st):
    member = await st.member_in("HUST-MG-")
    async with build_worker(st.client, st.engine, task_queue=st.task_queue):
        v = (await st.submit(member, await st.admin("hust", "HUST"))).view  # the school applies for them
        h = retentions.retention_handle(st.client, v.workflow_id)
        results = await asyncio.gather(
            retentions.approve_retention(h, RetentionApprove(actor=await st.admin("hust", "HUST"))),
            retentions.return_retention(
                h,
                RetentionReturn(
                    actor=await st.admin("hb", "HUST"), reason_code="other", reason_text="请补充境外学校名称"
                ),
            ),
            return_exceptions=True,
        )
        ok = [r for r in results if not isinstance(r, Exception)]
        refused = [r for r in results if isinstance(r, ServiceError)]
        assert len(ok) == 1 and len(refused) == 1, results
        assert refused[0].status == 409 and "不能重复处理" in refused[0].problems[0].message
        final = await h.result()
    (row,) = await st.rows(AbroadRetention, member_id=member.id)
    assert row.status == final.status.value and row.initiated_by == "hust"
    decisions = [a for a in await st.audit("abroad_retention", row.id) if a != "retention.submitted"]
    assert len(decisions) == 1


async def test_retention_reminded_then_approved_by_the_system(st):
    """A school without an abroad-study branch (PKU in the demo): 15 scaled days undecided →
    系统默认通过, and the branch is created under the school."""
    pku_branch = await st.org("PKU-SS-2025-1")
    member = await st.member_in("WHU-LIT-")
    await st.put_member_in(member.id, "PKU-SS-2025-1")
    assert await st.org("PKU-ABR") is None
    async with build_worker(st.client, st.engine, task_queue=st.task_queue):
        v = (await st.submit(member, member_actor(member), scale=RETENTION_SCALE)).view
        assert v.school.code == "PKU" and v.deadline - v.submitted_at == timedelta(seconds=1.5)

        async def reminded():
            return await st.notifications(v.workflow_id, "retention_reminder")

        (reminder,) = await eventually(reminded)
        (row,) = await st.rows(AbroadRetention, member_id=member.id)
        assert row.status == "pending" and row.reminded_at is not None
        assert aware(reminder.created_at) < aware(row.deadline)
        result = await retentions.retention_handle(st.client, v.workflow_id).result()
    assert result.status == RetentionStatus.APPROVED and result.auto_approved
    assert (result.decided_by, result.comment) == ("system", "系统默认通过")
    assert result.decided_at >= result.deadline
    abr = await st.org("PKU-ABR")
    assert (abr.kind, abr.name, abr.parent_id, abr.branch_level) == (
        OrgKind.ABROAD_STUDY_BRANCH,
        "北京大学出国（境）学习研究团员团支部",
        (await st.org("PKU")).id,
        True,
    )
    assert abr.partition == "beijing"
    m = await st.member(member.id)
    assert m.branch_id == abr.id and m.abroad_retention and pku_branch.id != abr.id
    (row,) = await st.rows(AbroadRetention, member_id=member.id)
    assert (row.status, row.auto_approved, row.decided_by) == ("approved", True, "system")
    assert await st.audit("abroad_retention", row.id) == [
        "retention.submitted",
        "retention.reminded",
        "retention.auto_approved",
    ]
    (r,) = await registers.abroad_study_register(st.engine, "PKU")
    assert r.auto_approved and r.org_code == "PKU-ABR"


# =================================================================================================
# Unemployed kept at school (§I.4)
# =================================================================================================


async def test_mobile_marking_from_0725_until_six_months_after_graduation_reminded_overdue_released(st):
    """Marked on 07-25 (graduation year 2026): kept until 6 months after 06-30, 12-30; 158
    calendar days at 50 days a second."""
    member = await st.member_in("WHU-LAW-")
    whu = await st.admin("whu", "WHU")
    async with build_worker(st.client, st.engine, task_queue=st.task_queue):
        # 07-24 23:59 Shanghai: refused, nothing written, nothing started
        with pytest.raises(ServiceError) as info:
            await st.mark_mobile(member, whu, now=datetime(2026, 7, 24, 23, 59, tzinfo=SHANGHAI))
        assert info.value.status == 422 and info.value.problems[0].message == MOBILE_TOO_EARLY_MESSAGE
        assert "7月25日后" in MOBILE_TOO_EARLY_MESSAGE
        assert await st.rows(Holding, member_id=member.id) == []
        # another school's admin may not mark
        with pytest.raises(ServiceError) as info:
            await st.mark_mobile(member, await st.admin("hust", "HUST"), now=datetime(2026, 7, 26, tzinfo=SHANGHAI))
        assert info.value.status == 403

        started = await st.mark_mobile(member, whu, now=datetime(2026, 7, 25, tzinfo=SHANGHAI))
        v = started.view
        assert started.created and v.status == HoldingStatus.ACTIVE
        assert v.workflow_id == holding_workflow_id(HoldingKind.MOBILE, member.id, st.holding_prefix)
        assert v.workflow_id.endswith(f"mobile-{member.id}")
        assert v.branch.code == "WHU-MOB" and v.notify_org.code == "WHU"
        assert v.ends_on == date(2026, 12, 30)
        assert v.due_at - v.started_at == 158 * DAY / MOBILE_SCALE  # ≈ 3.16 s
        # recorded before the call returns: the member is in the mobile branch, marked
        m = await st.member(member.id)
        assert m.branch_id == (await st.org("WHU-MOB")).id and m.mobile
        again = await st.mark_mobile(member, whu, now=datetime(2026, 8, 1, tzinfo=SHANGHAI))
        assert not again.created and again.view.workflow_id == v.workflow_id

        async def first_reminder():
            return await st.notifications(v.workflow_id, "holding_reminder")

        (first,) = await eventually(first_reminder)
        assert "100天" in first.title
        assert aware(first.created_at) < v.due_at  # reminded before the end
        (r,) = await registers.mobile_register(st.engine, "WHU", now=aware(first.created_at))
        assert (r.member_id, r.overdue, r.status_label) == (member.id, False, "保留中")

        async def overdue():
            (row,) = await st.rows(Holding, member_id=member.id)
            return row if row.status == "overdue" else None

        row = await eventually(overdue)
        assert row.reminders_sent == 2 and aware(row.overdue_at) >= aware(row.due_at)
        reminders = await st.notifications(v.workflow_id, "holding_reminder")
        assert [n.title for n in reminders] == [
            "毕业学生流动团员保留期还有100天届满",
            "毕业学生流动团员保留期还有50天届满",
        ]
        assert all("将于2026-12-30届满" in n.body for n in reminders)
        assert all(aware(n.created_at) < aware(row.due_at) for n in reminders), [
            (n.created_at, row.due_at, row.started_at) for n in reminders
        ]
        (late,) = await st.notifications(v.workflow_id, "holding_overdue")
        assert aware(late.created_at) >= aware(row.due_at) and late.recipient_org_id == (await st.org("WHU")).id
        (r,) = await registers.mobile_register(st.engine, "WHU")
        assert r.overdue and r.status == "overdue" and r.reminders_sent == 2
        assert [x.member_id for x in await registers.overdue_register(st.engine, "HB")] == [member.id]
        cells = sheet(register_export.export_xlsx([r], "mobile"))
        assert cells[0] == register_export.headers("mobile") and "保留期满日期" in cells[0]
        assert cells[1][2] == idcard.mask(member.id_number) and cells[1][cells[0].index("是否超期")] == "是"

        # released by the school: the holding ends, a second release is refused
        h = holdings.holding_handle(st.client, v.workflow_id)
        with pytest.raises(ServiceError):
            await holdings.release_holding(h, HoldingRelease(actor=await st.admin("hust", "HUST"), reason="x"))
        v = await holdings.release_holding(h, HoldingRelease(actor=whu, reason="已落实工作单位，组织关系已转出"))
        assert v.status == HoldingStatus.RELEASED and v.released_by == "whu"
        with pytest.raises(ServiceError, match="保留已结束") as info:
            await holdings.release_holding(h, HoldingRelease(actor=whu))
        assert info.value.status == 409
        assert (await h.result()).status == HoldingStatus.RELEASED

    (row,) = await st.rows(Holding, member_id=member.id)
    assert (row.status, row.released_by) == ("released", "whu") and row.released_at is not None
    assert not (await st.member(member.id)).mobile
    assert await st.audit("holding", row.id) == [
        "holding.started",
        "holding.reminded",
        "holding.reminded",
        "holding.overdue",
        "holding.released",
    ]
    assert await registers.mobile_register(st.engine, "WHU") == []
    assert len(await registers.mobile_register(st.engine, "WHU", include_released=True)) == 1


# =================================================================================================
# County temp branch (§I.1)
# =================================================================================================


async def test_county_holdings_one_released_in_time_one_overdue(st):
    early = await st.member_in("HUST-CS-")
    late = await st.member_in("HUST-CS-", 1)
    # not in a county-level temp branch: refused
    with pytest.raises(ServiceError, match="县级团委") as info:
        await st.county(early)
    assert info.value.status == 422
    await st.put_member_in(early.id, "HB-WH-HS-GS-TMP")
    with pytest.raises(ServiceError, match="县级团委"):  # a township's temp branch is not county-level
        await st.county(early)
    for m in (early, late):
        await st.put_member_in(m.id, "HB-WH-JX-TMP")
    async with build_worker(st.client, st.engine, task_queue=st.task_queue):
        v_early, v_late = [(await st.county(m)).view for m in (early, late)]
        assert v_early.notify_org.code == "HB-WH-JX" and v_early.branch.code == "HB-WH-JX-TMP"
        assert v_early.workflow_id.endswith(f"county-{early.id}")
        assert timedelta(seconds=2.9) < v_early.due_at - v_early.started_at < timedelta(seconds=3.2)

        async def reminded():
            return await st.notifications(v_early.workflow_id, "holding_reminder")

        await eventually(reminded)
        # what the lead calls when a transfer of the member completes
        (released,) = await holdings.release_member_holdings(st.client, st.engine, early.id)
        assert released.status == HoldingStatus.RELEASED and released.released_by == "system"
        assert await holdings.release_member_holdings(st.client, st.engine, early.id) == []  # nothing open

        late_result = holdings.holding_handle(st.client, v_late.workflow_id)

        async def late_overdue():
            return (await holdings.holding_view(late_result)).status == HoldingStatus.OVERDUE

        await eventually(late_overdue)
        (r,) = await registers.county_temp_register(st.engine, "HB-WH", overdue_only=True)
        assert r.member_id == late.id and r.responsible_org == "共青团武汉市江夏区委员会" and r.overdue
        assert {x.member_id for x in await registers.county_temp_register(st.engine, "HB-WH-JX")} == {late.id}
        assert not await registers.county_temp_register(st.engine, "HB-WH-HS")
        # from another workflow (a transfer completing): the signal form of release
        await late_result.signal(
            HoldingWorkflow.release_signal,
            HoldingRelease(actor=SYSTEM_ACTOR, reason="已转入工作单位团组织", transfer_workflow_id="transfer-x"),
        )
        assert (await late_result.result()).status == HoldingStatus.RELEASED

    (row_e,) = await st.rows(Holding, member_id=early.id)
    (row_l,) = await st.rows(Holding, member_id=late.id)
    assert (row_e.status, row_e.reminders_sent, row_e.overdue_at) == ("released", 1, None)
    assert aware(row_e.released_at) < aware(row_e.due_at)  # moved out in time
    assert await st.audit("holding", row_e.id) == ["holding.started", "holding.reminded", "holding.released"]
    assert await st.notifications(v_early.workflow_id, "holding_overdue") == []
    assert (row_l.status, row_l.reminders_sent) == ("released", 2) and row_l.overdue_at is not None
    assert (row_l.released_by, row_l.transfer_workflow_id) == ("system", "transfer-x")
    assert await st.audit("holding", row_l.id) == [
        "holding.started",
        "holding.reminded",
        "holding.reminded",
        "holding.overdue",
        "holding.released",
    ]
    assert (await st.member(early.id)).branch_id == (await st.org("HB-WH-JX-TMP")).id  # a holding moves no one


# =================================================================================================
# Delayed graduation (§I.7): no decision, one transaction
# =================================================================================================


async def test_delayed_branch_created_on_first_use_then_reused(st):
    a = await st.member_in("HUST-ME-")
    b = await st.member_in("HUST-ME-", 1)
    hust = await st.admin("hust", "HUST")
    assert await st.org("HUST-DLY") is None  # the demo leaves it out on purpose

    first = await marking.mark_delayed_graduation(st.engine, member_id=a.id, actor=hust, graduation_year=2027)
    assert (first.branch_code, first.branch_created, first.changed) == ("HUST-DLY", True, True)
    dly = await st.org("HUST-DLY")
    assert (dly.kind, dly.name, dly.parent_id) == (
        OrgKind.DELAYED_BRANCH,
        "华中科技大学延迟毕业团支部",
        (await st.org("HUST")).id,
    )
    second = await marking.mark_delayed_graduation(st.engine, member_id=b.id, actor=hust)
    assert (second.branch_code, second.branch_created, second.changed) == ("HUST-DLY", False, True)
    async with session_factory(st.engine)() as s:
        n = (
            await s.execute(
                select(func.count())
                .select_from(Org)
                .where(Org.kind == "delayed_branch", Org.parent_id == dly.parent_id)
            )
        ).scalar_one()
    assert n == 1
    # marking again changes nothing
    again = await marking.mark_delayed_graduation(st.engine, member_id=a.id, actor=hust, graduation_year=2027)
    assert (again.changed, again.branch_created) == (False, False)
    m = await st.member(a.id)
    assert (m.branch_id, m.delayed_graduation, m.graduating, m.graduation_year) == (dly.id, True, False, 2027)
    assert len(await st.rows(MembershipHistory, member_id=a.id)) == 1
    assert await st.audit("member", a.id) == ["member.delayed_graduation"]
    # WHU has its delayed branch already; HUST's admin may not mark WHU's members
    w = await st.member_in("WHU-EIS-")
    with pytest.raises(ServiceError) as info:
        await marking.mark_delayed_graduation(st.engine, member_id=w.id, actor=hust)
    assert info.value.status == 403
    res = await marking.mark_delayed_graduation(st.engine, member_id=w.id, actor=await st.admin("whu", "WHU"))
    assert (res.branch_code, res.branch_created) == ("WHU-DLY", False)

    rows = await registers.delayed_register(st.engine, "HUST")
    assert [r.member_id for r in rows] == [a.id, b.id]
    assert rows[0].started_on is not None and rows[0].graduation_year == 2027
    cells = sheet(register_export.export_xlsx(rows, "delayed"))
    assert cells[0][:3] == ["序号", "姓名", "身份证号"] and cells[1][2] == idcard.mask(a.id_number)


# =================================================================================================
# The default, unscaled timelines on the time-skipping server
# =================================================================================================


@pytest.fixture
async def ts(time_skipping_env, demo, task_queue, request):
    s = Stay(env=time_skipping_env, engine=demo, task_queue=task_queue, test_name=request.node.name)
    yield s
    await s.close()


async def test_default_mobile_holding_ends_six_months_after_graduation(ts):
    """Marked on 08-15 (after 07-25): the holding ends 6 months after 06-30 of the graduation
    year (12-30), not 6 months after the marking; reminded 30 and 7 days before, overdue after."""
    member = await ts.member_in("WHU-CS-")
    whu = await ts.admin("whu", "WHU")
    async with build_worker(ts.client, ts.engine, task_queue=ts.task_queue):
        v = (
            await ts.mark_mobile(
                member, whu, now=datetime(2026, 8, 15, tzinfo=SHANGHAI), policy=holding_policy_for(1.0)
            )
        ).view
        span = v.due_at - v.started_at
        assert v.ends_on == date(2026, 12, 30) and span == 137 * DAY  # 08-15 → 12-30
        assert v.due_at != add_months(v.started_at, 6)
        assert v.next_reminder_at == v.due_at - 30 * DAY
        (row,) = await ts.rows(Holding, member_id=member.id)
        assert aware(row.due_at) == v.due_at
        (started,) = await ts.notifications(v.workflow_id, "holding_started")
        assert "毕业后6个月内（2026-12-30前）" in started.body

        async def notes(kind="holding_reminder"):
            return await ts.notifications(v.workflow_id, kind)

        async def titles(kind="holding_reminder"):
            return [n.title for n in await notes(kind)]

        await ts.env.sleep(span - 31 * DAY)
        assert await titles() == []
        await ts.env.sleep(2 * DAY)  # 29 days before the end
        assert await titles() == ["毕业学生流动团员保留期还有30天届满"]
        await ts.env.sleep(21 * DAY)  # 8 days before
        assert len(await titles()) == 1
        await ts.env.sleep(2 * DAY)  # 6 days before
        assert await titles() == ["毕业学生流动团员保留期还有30天届满", "毕业学生流动团员保留期还有7天届满"]
        assert all("将于2026-12-30届满" in n.body for n in await notes())
        assert (await ts.rows(Holding, member_id=member.id))[0].status == "active"
        await ts.env.sleep(7 * DAY)  # a day after the end
        (row,) = await ts.rows(Holding, member_id=member.id)
        assert row.status == "overdue" and aware(row.overdue_at) >= v.due_at
        (late,) = await notes("holding_overdue")
        assert "已于2026-12-30届满" in late.body
        h = holdings.holding_handle(ts.client, v.workflow_id)
        v = await holdings.release_holding(h, HoldingRelease(actor=whu, reason="已转出"))
        assert v.status == HoldingStatus.RELEASED and v.reminders_sent == 2
        await h.result()


async def test_mobile_marking_refused_once_six_months_after_graduation_are_over(ts):
    member = await ts.member_in("WHU-EIS-")
    whu = await ts.admin("whu", "WHU")
    async with build_worker(ts.client, ts.engine, task_queue=ts.task_queue):
        for now in (datetime(2026, 12, 30, tzinfo=SHANGHAI), datetime(2027, 3, 1, 10, tzinfo=SHANGHAI)):
            with pytest.raises(ServiceError) as info:
                await ts.mark_mobile(member, whu, now=now, policy=holding_policy_for(1.0))
            (problem,) = info.value.problems
            assert info.value.status == 422 and problem.field == "member"
            assert problem.message == f"{member.name}毕业已满6个月（保留期已于2026-12-30届满），应转出团组织关系，" + (
                "不能再编入毕业学生流动团员团支部（《通知》一、4）"
            )
        assert await ts.rows(Holding, member_id=member.id) == []
        assert (await ts.member(member.id)).branch_id == member.branch_id and not (await ts.member(member.id)).mobile
        # a minute before the end: marked, both reminders already past, overdue a minute later
        v = (
            await ts.mark_mobile(
                member, whu, now=datetime(2026, 12, 29, 23, 59, tzinfo=SHANGHAI), policy=holding_policy_for(1.0)
            )
        ).view
        assert v.due_at - v.started_at == timedelta(minutes=1) and v.next_reminder_at is None
        await ts.env.sleep(timedelta(minutes=2))
        assert (
            await holdings.holding_view(holdings.holding_handle(ts.client, v.workflow_id))
        ).status == HoldingStatus.OVERDUE
        v = await holdings.release_holding(
            holdings.holding_handle(ts.client, v.workflow_id), HoldingRelease(actor=whu, reason="已转出")
        )
    assert v.reminders_sent == 0 and v.overdue_at is not None
    assert await ts.notifications(v.workflow_id, "holding_reminder") == []


async def test_scaled_mobile_holding_waits_the_calendar_time_left_divided_by_the_scale(ts):
    """ZHTJ_TIME_SCALE=86400 (a day a second), marked on 11-20: 40 calendar days to 12-30, so
    the end comes 40 s after the marking; reminders 30 and 7 days before, at 10 s and 33 s."""
    member = await ts.member_in("WHU-LAW-")
    whu = await ts.admin("whu", "WHU")
    async with build_worker(ts.client, ts.engine, task_queue=ts.task_queue):
        v = (
            await ts.mark_mobile(
                member, whu, now=datetime(2026, 11, 20, tzinfo=SHANGHAI), policy=holding_policy_for(86_400)
            )
        ).view
        assert v.ends_on == date(2026, 12, 30) and v.due_at - v.started_at == timedelta(seconds=40)

        async def titles(kind="holding_reminder"):
            return [n.title for n in await ts.notifications(v.workflow_id, kind)]

        await ts.env.sleep(timedelta(seconds=9))
        assert await titles() == []
        await ts.env.sleep(timedelta(seconds=2))
        assert await titles() == ["毕业学生流动团员保留期还有30天届满"]
        await ts.env.sleep(timedelta(seconds=23))
        assert await titles() == ["毕业学生流动团员保留期还有30天届满", "毕业学生流动团员保留期还有7天届满"]
        assert await titles("holding_overdue") == []
        await ts.env.sleep(timedelta(seconds=7))
        (late,) = await ts.notifications(v.workflow_id, "holding_overdue")
        assert "已于2026-12-30届满" in late.body  # the calendar day, not the scaled instant's
        h = holdings.holding_handle(ts.client, v.workflow_id)
        v = await holdings.release_holding(h, HoldingRelease(actor=whu, reason="已转出"))
        assert v.status == HoldingStatus.RELEASED and v.reminders_sent == 2


def _patch_ids(path: Path) -> set[str]:
    """The ids of the `workflow.patched` markers of a recorded history."""
    ids = set()
    for e in json.loads(path.read_text())["events"]:
        marker = e.get("markerRecordedEventAttributes")
        if marker and marker["markerName"] == "core_patch":
            for payload in marker["details"]["patch-data"]["payloads"]:
                ids.add(json.loads(base64.b64decode(payload["data"]))["id"])
    return ids


def test_recorded_mobile_holdings_cover_both_versions():
    """tests/histories keeps mobile holdings recorded before the graduation limit (6 months from
    the marking, no marker) and after it (the patch marker): test_replay replays both."""
    before = [
        HISTORIES / "stay_test_default_mobile_holding_reminds_30_and_7_days_before_six_months_0.json",
        HISTORIES / "stay_test_mobile_marking_refused_before_0725_then_reminded_overdue_and_released_0.json",
    ]
    after = sorted(HISTORIES.glob("stay_test_*mobile*graduation*.json")) + sorted(
        HISTORIES.glob("stay_test_scaled_mobile_holding_*.json")
    )
    assert len(after) >= 4, after
    for path in before:
        assert GRADUATION_LIMIT_PATCH not in _patch_ids(path), path
    for path in after:
        assert GRADUATION_LIMIT_PATCH in _patch_ids(path), path


async def test_default_retention_reminded_at_10_days_and_approved_at_15(ts):
    member = await ts.member_in("HUST-EE-")
    async with build_worker(ts.client, ts.engine, task_queue=ts.task_queue):
        v = (await ts.submit(member, member_actor(member))).view
        await ts.env.sleep(9 * DAY)
        assert await ts.notifications(v.workflow_id, "retention_reminder") == []
        await ts.env.sleep(2 * DAY)
        assert len(await ts.notifications(v.workflow_id, "retention_reminder")) == 1
        assert (await ts.rows(AbroadRetention, member_id=member.id))[0].status == "pending"
        await ts.env.sleep(5 * DAY)
        result = await retentions.retention_handle(ts.client, v.workflow_id).result()
    assert result.status == RetentionStatus.APPROVED and result.auto_approved
    assert result.decided_at - result.submitted_at >= timedelta(days=15)
    m = await ts.member(member.id)
    assert m.branch_id == (await ts.org("HUST-ABR")).id and m.abroad_retention
