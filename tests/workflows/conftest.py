"""Fixtures for transfer workflow tests: the demo directory and a driver that starts and decides
transfers the way the API does (`service.intake.start_request`, `service.decisions`)."""

from __future__ import annotations

import dataclasses
import os
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from temporalio.api.enums.v1 import EventType

from core.passwords import hash_password
from domain.transfers import Channel, TransferType
from messages.transfers import Actor, TransferView
from models import ApprovalStep, AuditLog, Member, MembershipHistory, Notification, Org, Transfer, User
from models.db import session_factory
from models.directory import DIRECTORIES
from seed.demo import seed_demo
from service import decisions
from service.errors import execute_update
from service.intake import StartRequest, start_request
from service.permissions import admin_actor
from service.transfers import TRANSFER_CLOSED, StartResult
from workflows.transfer import TransferWorkflow

HISTORIES = Path(__file__).resolve().parent.parent / "histories"
CLOSED = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT,
}

WUHAN = {"province": "湖北省", "city": "武汉市"}
EMPLOYER_FORM = {
    "employer_name": "东风汽车集团有限公司",
    "employer_address": "武汉市汉南区",
    "location": WUHAN,
}
#: a valid form of each type the tests start (the target is chosen by the test, not routed)
FORMS: dict[TransferType, dict[str, Any]] = {
    TransferType.EMPLOYED_WITH_ORG: EMPLOYER_FORM,
    TransferType.EMPLOYED_WITHOUT_ORG: {
        "employer_name": "某公司",
        "employer_address": "洪山区珞南街道",
        "location": {**WUHAN, "county": "洪山区", "township": "珞南街道"},
    },
    TransferType.UNEMPLOYED: {
        "address": "洪山区关山街道",
        "location": {**WUHAN, "county": "洪山区", "township": "关山街道"},
    },
    TransferType.SPECIAL_UNIT: {"unit_kind": "military", "joined_unit_on": "2026-09-01"},
}


@pytest.fixture
async def demo(engine):
    """The demo directory with a few members per graduating branch."""
    await seed_demo(engine, members=400)
    return engine


@dataclass
class Driver:
    """Starts and decides transfers as the API does, through the service layer; `update` sends a
    decision as it is (a stale or crafted one) for the workflow's validators to judge."""

    env: Any
    engine: Any
    task_queue: str
    prefix: str
    started: list[str] = field(default_factory=list)  # workflow ids, terminated at teardown if still running

    async def close(self, test_name: str = "") -> None:
        """Terminate what a failed test left running: on the time-skipping server an open
        workflow without a worker would stop time from moving for every later test.

        With ZHTJ_RECORD_HISTORIES=1, closed histories are saved to tests/histories/ for the
        replay test (run once after a deliberate workflow change, then commit the files)."""
        record = os.environ.get("ZHTJ_RECORD_HISTORIES") == "1"
        for i, wid in enumerate(dict.fromkeys(self.started)):
            h = self.client.get_workflow_handle(wid)
            history = await h.fetch_history()  # describe() cannot decode the test server's datetimes
            if history.events[-1].event_type not in CLOSED:
                await h.terminate("test teardown")
            elif record:
                (HISTORIES / f"{test_name.split('[')[0]}_{i}.json").write_text(history.to_json())

    @property
    def client(self):
        return self.env.client

    async def user(self, username: str) -> User:
        async with session_factory(self.engine)() as s:
            return (await s.execute(select(User).where(User.username == username))).scalar_one()

    async def member_in(self, branch_prefix: str, index: int = 0) -> Member:
        async with session_factory(self.engine)() as s:
            rows = (
                (
                    await s.execute(
                        select(Member)
                        .join(Org, Org.id == Member.branch_id)
                        .where(Org.code.like(f"{branch_prefix}%"))
                        .order_by(Member.id)
                    )
                )
                .scalars()
                .all()
            )
            return rows[index]

    async def member_user(self, member: Member) -> User:
        """The member's own login `m<id>` (created on first use; logins are not transfer state)."""
        username = f"m{member.id}"
        async with session_factory(self.engine)() as s:
            async with s.begin():
                u = (await s.execute(select(User).where(User.username == username))).scalar_one_or_none()
                if u is None:
                    u = User(
                        username=username,
                        password_hash=hash_password("x" * 8),
                        role="member",
                        member_id=member.id,
                        display_name=member.name,
                    )
                    s.add(u)
            return u

    async def start(
        self,
        member: Member,
        *,
        type: TransferType,
        channel: Channel,
        target: str,
        by: str | None = None,
        form: dict[str, Any] | None = None,
        idempotency_key: str | None = None,
    ) -> StartResult:
        """A start request as the API gets it: by the member (个人发起) or by the admin `by`."""
        user = await self.member_user(member) if channel == Channel.SELF else await self.user(by)
        result, _ = await start_request(
            self.engine,
            self.client,
            user,
            StartRequest(
                id_number=member.id_number,
                name=member.name,
                type=type,
                channel=channel,
                form=FORMS[type] if form is None else form,
                target_org_code=target,
            ),
            directories=DIRECTORIES,
            task_queue=self.task_queue,
            idempotency_key=idempotency_key,
            id_prefix=self.prefix,
        )
        assert result is not None
        if result.view is None:  # answered from the database (a request seen before): the live state
            result = dataclasses.replace(result, view=await self.view_of(result.transfer_id))
        self.started.append(result.view.workflow_id)
        return result

    def handle(self, view: TransferView):
        return self.client.get_workflow_handle_for(TransferWorkflow.run, view.workflow_id)

    async def admin(self, username: str, org_code: str) -> Actor:
        return await admin_actor(self.engine, await self.user(username), org_code)

    async def view(self, view_or_id) -> TransferView:
        wid = view_or_id if isinstance(view_or_id, str) else view_or_id.workflow_id
        return await self.client.get_workflow_handle_for(TransferWorkflow.run, wid).query(TransferWorkflow.status_query)

    async def view_of(self, transfer_id: int) -> TransferView:
        async with session_factory(self.engine)() as s:
            t = await s.get(Transfer, transfer_id)
        handle = self.client.get_workflow_handle_for(TransferWorkflow.run, t.workflow_id, run_id=t.run_id)
        return await handle.query(TransferWorkflow.status_query)

    # --- decisions, as the API sends them (by transfer id and user) ---

    async def approve(self, view: TransferView, username: str, comment: str | None = None) -> TransferView:
        return await decisions.approve(self.engine, self.client, await self.user(username), view.transfer_id, comment)

    async def return_request(
        self, view: TransferView, username: str, reason_code: str, reason_text: str = ""
    ) -> TransferView:
        return await decisions.return_request(
            self.engine, self.client, await self.user(username), view.transfer_id, reason_code, reason_text
        )

    async def withdraw(self, view: TransferView, username: str, reason: str) -> TransferView:
        return await decisions.withdraw(self.engine, self.client, await self.user(username), view.transfer_id, reason)

    async def resubmit(
        self, view: TransferView, username: str, form: dict[str, Any], target: str | None = None
    ) -> TransferView:
        return await decisions.resubmit(
            self.engine, self.client, await self.user(username), view.transfer_id, form, target
        )

    async def assign_branch(self, view: TransferView, username: str, branch_code: str) -> TransferView:
        return await decisions.assign_branch(
            self.engine, self.client, await self.user(username), view.transfer_id, branch_code
        )

    async def update(self, view: TransferView, update: Any, arg: Any) -> TransferView:
        """A decision sent to the workflow as it is, past the service's checks (a stale round, a
        node not yet pending, an actor the service would not build): refused the way the API
        refuses it (`ServiceError`)."""
        return await execute_update(self.handle(view), update, arg, result_type=TransferView, closed=TRANSFER_CLOSED)

    # --- database projection ---

    async def transfer_row(self, view: TransferView) -> Transfer:
        async with session_factory(self.engine)() as s:
            return (
                (
                    await s.execute(
                        select(Transfer).where(Transfer.workflow_id == view.workflow_id).order_by(Transfer.id.desc())
                    )
                )
                .scalars()
                .first()
            )

    async def steps(self, view: TransferView) -> list[ApprovalStep]:
        t = await self.transfer_row(view)
        async with session_factory(self.engine)() as s:
            return list(
                (
                    await s.execute(
                        select(ApprovalStep)
                        .where(ApprovalStep.transfer_id == t.id)
                        .order_by(ApprovalStep.round, ApprovalStep.seq)
                    )
                ).scalars()
            )

    async def notifications(self, view: TransferView, kind: str | None = None) -> list[Notification]:
        t = await self.transfer_row(view)
        async with session_factory(self.engine)() as s:
            q = select(Notification).where(Notification.transfer_id == t.id)
            if kind:
                q = q.where(Notification.kind == kind)
            return list((await s.execute(q.order_by(Notification.id))).scalars())

    async def audit(self, view: TransferView) -> list[AuditLog]:
        t = await self.transfer_row(view)
        async with session_factory(self.engine)() as s:
            return list(
                (
                    await s.execute(
                        select(AuditLog)
                        .where(AuditLog.entity == "transfer", AuditLog.entity_id == str(t.id))
                        .order_by(AuditLog.id)
                    )
                ).scalars()
            )

    async def member(self, member_id: int) -> Member:
        async with session_factory(self.engine)() as s:
            return await s.get(Member, member_id)

    async def history_rows(self, member_id: int) -> list[MembershipHistory]:
        async with session_factory(self.engine)() as s:
            return list(
                (await s.execute(select(MembershipHistory).where(MembershipHistory.member_id == member_id))).scalars()
            )

    async def org_id(self, code: str) -> int:
        async with session_factory(self.engine)() as s:
            return (await s.execute(select(Org.id).where(Org.code == code))).scalar_one()

    async def count_transfers(self, member_id: int) -> int:
        async with session_factory(self.engine)() as s:
            return (
                await s.execute(select(func.count()).select_from(Transfer).where(Transfer.member_id == member_id))
            ).scalar_one()


def _driver(env, engine, task_queue) -> Driver:
    return Driver(env=env, engine=engine, task_queue=task_queue, prefix=f"transfer-{uuid.uuid4().hex[:8]}-")


@pytest.fixture
async def dev_driver(dev_env, demo, task_queue, request):
    d = _driver(dev_env, demo, task_queue)
    yield d
    await d.close(request.node.name)


@pytest.fixture
async def ts_driver(time_skipping_env, demo, task_queue, request):
    d = _driver(time_skipping_env, demo, task_queue)
    yield d
    await d.close(request.node.name)
