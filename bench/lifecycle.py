"""1. Lifecycle throughput: real transfers through the service layer vs the bare baseline."""

from __future__ import annotations

import os
import time
import uuid
from pathlib import Path

from sqlalchemy import select, text

from bench.env import CpuMeter, spawn_worker, stop
from starter.pool import gather_limited


async def bare(
    address: str, n: int, concurrency: int, workdir: Path, pids: dict[str, int], runner: str = "ours"
) -> dict:
    """Transfers/s of the bare workflow, and CPU ms per transfer of each process."""
    from temporalio.client import Client

    from bench.bare import run_one

    env = dict(os.environ, TEMPORAL_ADDRESS=address, BARE_RUNNER=runner)
    worker = spawn_worker(env, workdir / f"bare-{runner}-worker.log", module="bench.bare")
    try:
        client = await Client.connect(address)
        tag = uuid.uuid4().hex[:6]
        meter = CpuMeter(worker=worker.pid, **pids)
        meter.start()
        t0 = time.perf_counter()
        await gather_limited(concurrency, [run_one(client, f"bare-{tag}-{i}") for i in range(n)])
        rate = n / (time.perf_counter() - t0)
        return {"per_s": rate, "cpu_ms": meter.per_item_ms(n)}
    finally:
        stop(worker)


async def member_logins(engine, count: int) -> list:
    """Member logins for `count` graduating members of WHU (they start 个人发起)."""
    from core.passwords import hash_password
    from domain.roles import Role
    from models import Member, Org, User
    from models.db import session_scope

    async with session_scope(engine) as s:
        rows = (
            (
                await s.execute(
                    select(Member)
                    .join(Org, Org.id == Member.branch_id)
                    .where(Org.code.like("WHU-%-2022-%"))
                    .order_by(Member.id)
                    .limit(count)
                )
            )
            .scalars()
            .all()
        )
        h = hash_password("bench-password")
        users = [
            User(
                username=f"bench-m{m.id}", password_hash=h, role=Role.MEMBER.value, member_id=m.id, display_name=m.name
            )
            for m in rows
        ]
        s.add_all(users)
    return list(zip(rows, users))


async def real(address: str, database_url: str, n: int, concurrency: int, workdir: Path, pids: dict[str, int]) -> dict:
    """Transfers/s through the service layer, completed rows, and CPU ms per transfer of each process."""
    from core.settings import Settings
    from core.temporal import connect
    from domain.transfers import Channel, TransferType
    from models import User
    from models.db import make_engine, session_factory
    from models.directory import DirectoryCache
    from service import decisions
    from service.intake import StartRequest, start_request

    queue = f"bench-{uuid.uuid4().hex[:6]}"
    env = dict(os.environ, TEMPORAL_ADDRESS=address, DATABASE_URL=database_url, ZHTJ_TASK_QUEUE=queue)
    worker = spawn_worker(env, workdir / "worker.log")
    engine = make_engine(database_url)
    try:
        client = await connect(Settings(temporal_address=address))
        pairs = await member_logins(engine, n)
        async with session_factory(engine)() as s:
            hb = (await s.execute(select(User).where(User.username == "hb"))).scalar_one()
            dfm = (await s.execute(select(User).where(User.username == "dfm"))).scalar_one()
        directories = DirectoryCache()
        form = {
            "employer_name": "东风汽车集团有限公司",
            "employer_address": "武汉市经开区",
            "location": {"province": "湖北省", "city": "武汉市"},
        }

        async def one(member, user) -> None:
            req = StartRequest(
                id_number=member.id_number,
                name=member.name,
                type=TransferType.EMPLOYED_WITH_ORG,
                channel=Channel.SELF,
                form=form,
                target_org_code="DFM",
            )
            result, _ = await start_request(engine, client, user, req, directories=directories, task_queue=queue)
            tid = result.transfer_id
            await decisions.approve(engine, client, hb, tid, None)
            await decisions.approve(engine, client, dfm, tid, None)
            view = await decisions.assign_branch(engine, client, dfm, tid, "DFM-RD")
            assert view.status.value == "completed", view.status

        await directories.get(engine)
        meter = CpuMeter(worker=worker.pid, **pids)
        meter.start()
        t0 = time.perf_counter()
        await gather_limited(concurrency, [one(m, u) for m, u in pairs])
        rate = len(pairs) / (time.perf_counter() - t0)
        cpu = meter.per_item_ms(len(pairs))
        async with engine.connect() as conn:
            done = (await conn.execute(text("SELECT count(*) FROM transfers WHERE status = 'completed'"))).scalar_one()
        return {"per_s": rate, "cpu_ms": cpu, "completed_rows": done}
    finally:
        stop(worker)
        await engine.dispose()
