"""5. Memory: worker and dev-server RSS with many transfers open and waiting."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

from sqlalchemy import text

from bench.env import gather_limited, rss_mb, spawn_worker, stop


async def run(address: str, server_pid: int, database_url: str, n: int, workdir: Path) -> dict:
    from core.settings import Settings
    from core.temporal import connect
    from domain.transfers import Channel, TransferType
    from messages.transfers import Actor
    from models.db import make_engine
    from service import transfers as svc

    queue = f"bench-memory-{uuid.uuid4().hex[:6]}"
    env = dict(os.environ, TEMPORAL_ADDRESS=address, DATABASE_URL=database_url, ZHTJ_TASK_QUEUE=queue,
               ZHTJ_LOG_LEVEL="WARNING")
    (workdir / "memory-worker.log").write_text("")
    worker = spawn_worker(dict(env, ZHTJ_LOG_LEVEL="INFO"), workdir / "memory-worker.log")
    engine = make_engine(database_url, pool_size=20)
    try:
        client = await connect(Settings(temporal_address=address))
        base = {"worker_rss_mb_idle": round(rss_mb(worker.pid), 1), "server_rss_mb_before": round(rss_mb(server_pid), 1)}
        async with engine.connect() as conn:
            members = (await conn.execute(text(
                "SELECT m.id FROM members m JOIN orgs o ON o.id = m.branch_id "
                "WHERE o.code LIKE '%-2022-%' ORDER BY m.id LIMIT :n"), {"n": n})).scalars().all()
        admin = Actor(kind="org_admin", username="hb", org_code="HB")
        peak = {"worker": 0.0}

        async def start(member_id: int) -> None:
            inp = await svc.build_input(engine, member_id=member_id, transfer_type=TransferType.EMPLOYED_WITH_ORG,
                                        channel=Channel.OUT, target_org_code="DFM", form={}, initiator=admin)
            await svc.start(client, inp, task_queue=queue, id_prefix=f"mem-{queue}-")
            if member_id % 500 == 0:
                peak["worker"] = max(peak["worker"], rss_mb(worker.pid))

        t0 = time.perf_counter()
        await gather_limited(64, [start(m) for m in members])
        elapsed = time.perf_counter() - t0
        time.sleep(2)
        async with engine.connect() as conn:
            open_rows = (await conn.execute(text("SELECT count(*) FROM transfers WHERE status = 'pending'"))).scalar_one()
        return {
            **base,
            "open_transfers": open_rows,
            "worker_rss_mb": round(max(rss_mb(worker.pid), peak["worker"]), 1),
            "server_rss_mb": round(rss_mb(server_pid), 1),
            "starts_per_s": round(len(members) / elapsed, 1),
        }
    finally:
        stop(worker)
        await engine.dispose()
