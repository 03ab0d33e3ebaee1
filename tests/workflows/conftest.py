"""Fixtures for transfer workflow tests: a small demo directory and a driver for one transfer."""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select
from temporalio.api.enums.v1 import EventType

from domain.transfers import ActorKind, Channel, TransferType
from messages.transfers import Actor, TransferView
from models import ApprovalStep, AuditLog, Member, MembershipHistory, Notification, Org, Transfer, User
from models.db import session_factory
from seed.demo import seed_demo
from service import transfers as svc

HISTORIES = Path(__file__).resolve().parent.parent / "histories"
CLOSED = {
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_COMPLETED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_FAILED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TERMINATED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_CANCELED,
    EventType.EVENT_TYPE_WORKFLOW_EXECUTION_TIMED_OUT,
}


@pytest.fixture
async def demo(engine):
    """The demo directory with a few members per graduating branch."""
    await seed_demo(engine, members=400)
    return engine


@dataclass
class Driver:
    """Starts and decides transfers the way the API will: through the service layer."""

    env: Any
    engine: Any
    task_queue: str
    prefix: str
    started: list = None  # workflow ids, terminated at teardown if still running

    async def close(self, test_name: str = "") -> None:
        """Terminate what a failed test left running: on the time-skipping server an open
        workflow without a worker would stop time from moving for every later test.

        With ZHTJ_RECORD_HISTORIES=1, closed histories are saved to tests/histories/ for the
        replay test (run once after a deliberate workflow change, then commit the files)."""
        record = os.environ.get("ZHTJ_RECORD_HISTORIES") == "1"
        for i, wid in enumerate(dict.fromkeys(self.started or [])):
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

    async def member_user(self, member: Member, username: str | None = None) -> User:
        """A member login for this member (created directly; logins are not transfer state)."""
        from core.passwords import hash_password

        async with session_factory(self.engine)() as s:
            async with s.begin():
                u = User(
                    username=username or f"m{member.id}",
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
        acting_for: str | None = None,
        form: dict | None = None,
        policy=None,
        request_id: str | None = None,
    ) -> svc.StartResult:
        if channel == Channel.SELF:
            actor = svc.member_actor(await self.member_user(member))
        else:
            actor = await svc.admin_actor(self.engine, await self.user(by), acting_for)
        result = await svc.start_transfer(
            self.engine,
            self.client,
            task_queue=self.task_queue,
            id_prefix=self.prefix,
            request_id=request_id,
            member_id=member.id,
            transfer_type=type,
            channel=channel,
            target_org_code=target,
            form=form or {},
            initiator=actor,
            policy=policy,
        )
        self.started.append(result.view.workflow_id)
        return result

    def handle(self, view: TransferView):
        return svc.handle_for(self.client, view.workflow_id)

    async def admin(self, username: str, org_code: str) -> Actor:
        return await svc.admin_actor(self.engine, await self.user(username), org_code)

    async def view(self, view_or_id) -> TransferView:
        wid = view_or_id if isinstance(view_or_id, str) else view_or_id.workflow_id
        return await svc.handle_for(self.client, wid).query("status_query", result_type=TransferView)

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

    async def count(self, model) -> int:
        async with session_factory(self.engine)() as s:
            return (await s.execute(select(func.count()).select_from(model))).scalar_one()


def _driver(env, engine, task_queue) -> Driver:
    return Driver(env=env, engine=engine, task_queue=task_queue, prefix=f"transfer-{uuid.uuid4().hex[:8]}-", started=[])


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


def member_actor_for(member: Member, username: str) -> Actor:
    return Actor(kind=ActorKind.MEMBER, username=username, member_id=member.id)
