"""3. Deadline precision: transfers left undecided; lateness of 系统默认通过 behind the deadline.

With a day scaled to a second, the requests arrive at a steady `rate` a second (a day), as a
campaign's requests arrive over its days, so each deadline falls due `rate` a second later too.
Each transfer costs the system about four times as much around its deadlines (the reminder, the
auto-approval, the wait for assignment) as at its start: an arrival rate the system can only
absorb at its start piles up a backlog at the deadlines, and that backlog, not the timers, is what
lateness then measures. The rate used is in the result."""

from __future__ import annotations

import asyncio
import os
import time
import uuid
from pathlib import Path

from sqlalchemy import text

from bench.env import CpuMeter, percentile, spawn_worker, stop

SCALE = 86400.0  # a day is a second: 15 days are 15 seconds


async def run(address: str, database_url: str, n: int, workdir: Path, pids: dict[str, int], rate: float = 10.0) -> dict:
    from bench.bulk_start import FORM
    from core.settings import Settings
    from core.temporal import connect
    from domain.policy import policy_for
    from domain.transfers import Channel, TransferType
    from models.db import make_engine
    from models.directory import DIRECTORIES
    from service.accounts import user_by_username
    from service.intake import StartRequest, member_by_id, start_request

    queue = f"bench-deadline-{uuid.uuid4().hex[:6]}"
    env = dict(
        os.environ,
        TEMPORAL_ADDRESS=address,
        DATABASE_URL=database_url,
        ZHTJ_TASK_QUEUE=queue,
        ZHTJ_TIME_SCALE=str(SCALE),
    )
    worker = spawn_worker(env, workdir / "deadline-worker.log")
    engine = make_engine(database_url)
    try:
        client = await connect(Settings(temporal_address=address))
        async with engine.connect() as conn:
            members = (
                (
                    await conn.execute(
                        text(
                            "SELECT m.id FROM members m JOIN orgs o ON o.id = m.branch_id "
                            "WHERE o.code LIKE 'HUST-%-2022-%' ORDER BY m.id LIMIT :n"
                        ),
                        {"n": n},
                    )
                )
                .scalars()
                .all()
            )
        admin = await user_by_username(engine, "hust")
        policy = policy_for(SCALE)

        async def start(member_id: int) -> None:  # as the API starts one: through the gate
            m = await member_by_id(engine, member_id)
            req = StartRequest(
                id_number=m.id_number,
                name=m.name,
                type=TransferType.EMPLOYED_WITH_ORG,
                channel=Channel.OUT,
                form=FORM,
                target_org_code="DFM",
            )
            await start_request(
                engine,
                client,
                admin,
                req,
                directories=DIRECTORIES,
                task_queue=queue,
                id_prefix=f"deadline-{queue}-",
                policy=policy,
            )

        meter = CpuMeter(worker=worker.pid, **pids)
        meter.start()
        t0 = time.perf_counter()
        arrivals = []
        for i, m in enumerate(members):  # open loop: the i-th request arrives at i / rate
            await asyncio.sleep(max(0.0, t0 + i / rate - time.perf_counter()))
            arrivals.append(asyncio.create_task(start(m)))
        await asyncio.gather(*arrivals)
        started_in = time.perf_counter() - t0
        # the last deadline is 15 s after the last start; leave time for the last auto-approvals
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            async with engine.connect() as conn:
                done = (
                    await conn.execute(text("SELECT count(*) FROM approval_steps WHERE status = 'auto_approved'"))
                ).scalar_one()
            if done >= len(members):
                break
            await asyncio.sleep(1)
        busy = meter.per_item_ms(1)["total"] / 1000 / (time.perf_counter() - t0)  # cores busy on average
        async with engine.connect() as conn:
            rows = (
                (
                    await conn.execute(
                        text(
                            "SELECT EXTRACT(EPOCH FROM (decided_at - deadline)) FROM approval_steps "
                            "WHERE status = 'auto_approved'"
                        )
                    )
                )
                .scalars()
                .all()
            )
        late = [float(x) for x in rows]
        return {
            "n": len(members),
            "auto_approved": len(late),
            "p50_s": round(percentile(late, 50), 3),
            "p99_s": round(percentile(late, 99), 3),
            "max_s": round(max(late), 3) if late else None,
            "arrivals_per_s": rate,
            "cores_busy": round(busy, 2),
            "start_seconds": round(started_in, 1),
        }
    finally:
        stop(worker)
        await engine.dispose()
