"""The worker process killed mid-flight and started again: the transfer completes, no row twice."""

import asyncio
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from sqlalchemy import func, select

from domain.transfers import Channel, TransferStatus, TransferType
from models import ApprovalStep, AuditLog, MembershipHistory, Notification
from models.db import session_factory
from service.errors import ServiceError

ZHTJ = str(Path(sys.executable).parent / "zhtj")


def _spawn_worker(env: dict, log: Path) -> subprocess.Popen:
    with open(log, "ab") as out:  # the worker writes to its own copy of the descriptor
        proc = subprocess.Popen([ZHTJ, "worker"], env=env, stdout=out, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while b'"worker started"' not in log.read_bytes():
        assert proc.poll() is None, log.read_text(errors="replace")
        assert time.monotonic() < deadline, "worker did not start"
        time.sleep(0.1)
    return proc


async def test_worker_killed_and_restarted(dev_driver, database_url, tmp_path):
    d = dev_driver
    env = dict(
        os.environ,
        DATABASE_URL=database_url,
        TEMPORAL_ADDRESS=d.client.service_client.config.target_host,
        ZHTJ_TASK_QUEUE=d.task_queue,
        ZHTJ_DATA_DIR=str(tmp_path),
        ZHTJ_LOG_FORMAT="json",
    )
    log = tmp_path / "worker.log"
    first = _spawn_worker(env, log)
    member = await d.member_in("WHU-LIT")
    try:
        v = (await d.start(member, type=TransferType.EMPLOYED_WITH_ORG, channel=Channel.SELF, target="DFM")).view
        h = d.handle(v)
        # the first decision is sent and the worker is killed (SIGKILL) while it is handling it
        approving = asyncio.create_task(d.approve(v, "whu-lit"))
        await asyncio.sleep(0.05)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=30)
        await asyncio.sleep(0.5)
        second = _spawn_worker(env, log)
        try:
            await asyncio.wait_for(approving, timeout=60)
        except ServiceError:
            pass  # the decision may have been lost with the worker before it was accepted: decide again
        view = await d.view(v)
        if view.nodes[0].status.value == "pending":
            await d.approve(v, "whu-lit")
        await d.approve(v, "dfm")
        await d.assign_branch(v, "dfm", "DFM-HQ")
        result = await asyncio.wait_for(h.result(), timeout=60)
    finally:
        for p in (first, locals().get("second")):
            if p is not None and p.poll() is None:
                p.send_signal(signal.SIGTERM)
                p.wait(timeout=30)
    assert result.status == TransferStatus.COMPLETED
    assert (await d.member(member.id)).branch_id == await d.org_id("DFM-HQ")

    t = await d.transfer_row(result)
    async with session_factory(d.engine)() as s:
        steps = (
            await s.execute(select(func.count()).select_from(ApprovalStep).where(ApprovalStep.transfer_id == t.id))
        ).scalar_one()
        audit = (
            (
                await s.execute(
                    select(AuditLog.action)
                    .where(AuditLog.entity_id == str(t.id), AuditLog.entity == "transfer")
                    .order_by(AuditLog.id)
                )
            )
            .scalars()
            .all()
        )
        notes = (await s.execute(select(Notification.kind).where(Notification.transfer_id == t.id))).scalars().all()
        moves = (
            await s.execute(
                select(func.count()).select_from(MembershipHistory).where(MembershipHistory.member_id == member.id)
            )
        ).scalar_one()
    assert steps == 2
    assert audit == [
        "transfer.started",
        "node.approved",
        "node.pending",
        "node.approved",
        "assignment.awaiting",
        "branch.assigned",
        "transfer.completed",
    ]
    assert sorted(notes) == sorted(
        ["node_pending", "node_pending", "assignment_needed", "transfer_started"]
        + ["transfer_node_approved"] * 2
        + ["transfer_update"] * 3
    )
    assert moves == 1
