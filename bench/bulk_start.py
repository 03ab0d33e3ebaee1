"""2. Bulk start, and 5. memory with the started transfers open.

N graduates of one school started with plain `Client.start_workflow` (inputs built beforehand,
only the start calls timed), then N other graduates of the same school through the real
`zhtj transfers import FILE --as WHU` against a running API (wall time of the command: login,
validation of every row, the starts). No worker runs meanwhile, so both rates are of starting
alone. Then a worker serves all 2N: once every transfer's first node is pending in the database,
the worker's and the dev server's resident memory is read with 2N transfers open and waiting.
"""

from __future__ import annotations

import asyncio
import csv
import os
import random
import subprocess
import sys
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from sqlalchemy import text

from bench.env import ROOT, CpuMeter, free_port, rss_mb, spawn_worker, stop
from domain.idcard import make_id
from starter.pool import gather_limited

SCHOOL = "WHU"
FORM = {
    "employer_name": "东风汽车集团有限公司",
    "employer_address": "武汉市经开区",
    "location": {"province": "湖北省", "city": "武汉市"},
}


async def load_graduates(database_url: str, count: int, seed: int = 11) -> list[tuple[int, str, str]]:
    """COPY `count` graduating members into the school's class branches; (id, 身份证号, 姓名)."""
    import asyncpg

    from bench.query import GIVEN, SURNAMES, copy_rows, graduate_row
    from models.tables import Member

    rng = random.Random(seed)
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        school = await conn.fetchval("SELECT id FROM orgs WHERE code = $1", SCHOOL)
        branches = [
            r[0]
            for r in await conn.fetch(
                "SELECT id FROM orgs WHERE code LIKE $1 AND branch_level ORDER BY id", f"{SCHOOL}-%-2022-%"
            )
        ]
        seen = {r[0] for r in await conn.fetch("SELECT id_number FROM members")}
        first = (await conn.fetchval("SELECT coalesce(max(id), 0) FROM members")) + 1
        now = datetime.now(UTC)
        rows = []
        for i in range(count):
            while True:
                idn = make_id("420111", date(2003, 1, 1) + timedelta(days=rng.randrange(0, 700)), rng.randrange(1000))
                if idn not in seen:
                    seen.add(idn)
                    break
            name = rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN)
            rows.append(graduate_row(first + i, idn, name, branches[i % len(branches)], school, now.year, now))
        await copy_rows(conn, Member, rows)
        await conn.execute("SELECT setval(pg_get_serial_sequence('members', 'id'), (SELECT max(id) FROM members))")
        await conn.execute("ANALYZE members")
    finally:
        await conn.close()
    return [(r[0], r[1], r[2]) for r in rows]


def write_csv(path: Path, members: list[tuple[int, str, str]]) -> None:
    """The file a school's office would upload: Chinese headers, one graduate a row."""
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f)
        w.writerow(
            [
                "姓名",
                "身份证号",
                "转接类型",
                "employer_name",
                "employer_address",
                "location_province",
                "location_city",
                "转入组织编码",
            ]
        )
        for _, idn, name in members:
            w.writerow(
                [
                    name,
                    idn,
                    "employed_with_org",
                    FORM["employer_name"],
                    FORM["employer_address"],
                    FORM["location"]["province"],
                    FORM["location"]["city"],
                    "DFM",
                ]
            )


async def _plain(
    address: str, database_url: str, members: list[tuple[int, str, str]], queue: str, prefix: str
) -> float:
    """Starts/s of plain start_workflow with the inputs built beforehand."""
    from core.clock import calendar
    from core.settings import Settings
    from core.temporal import connect
    from domain.transfers import Channel, TransferType
    from messages.transfers import workflow_id_for
    from models.db import make_engine
    from models.directory import DIRECTORIES
    from service.accounts import user_by_username
    from service.intake import StartRequest, check_start, members_by_id_number, parse_request
    from workflows.transfer import TransferWorkflow

    engine = make_engine(database_url)
    try:  # the inputs as the gate builds them, from rows read at once (not timed)
        user = await user_by_username(engine, SCHOOL.lower())
        rows = await members_by_id_number(engine, [idn for _, idn, _ in members])
        directory = await DIRECTORIES.get(engine)
        today = calendar().today()
        inputs = []
        for _, idn, name in members:
            req = StartRequest(
                id_number=idn,
                name=name,
                type=TransferType.EMPLOYED_WITH_ORG,
                channel=Channel.OUT,
                form=FORM,
                target_org_code="DFM",
            )
            checked = check_start(
                req,
                parse_request(req, today=today),
                user=user,
                user_org=directory.get(SCHOOL),
                member=rows[idn],
                directory=directory,
                today=today,
            )
            inputs.append(checked.inp)
    finally:
        await engine.dispose()
    client = await connect(Settings(temporal_address=address))
    t0 = time.perf_counter()
    await gather_limited(
        64,
        [
            client.start_workflow(
                TransferWorkflow.run, inp, id=workflow_id_for(inp.member_id, prefix), task_queue=queue
            )
            for inp in inputs
        ],
    )
    return len(inputs) / (time.perf_counter() - t0)


def _import(
    address: str, database_url: str, members: list[tuple[int, str, str]], queue: str, prefix: str, workdir: Path
) -> tuple[float, str]:
    """Starts/s of `zhtj transfers import` (the CLI as a user runs it) against a running API."""
    from core.dev import wait_for_port

    port = free_port()
    env = dict(
        os.environ,
        TEMPORAL_ADDRESS=address,
        DATABASE_URL=database_url,
        ZHTJ_TASK_QUEUE=queue,
        ZHTJ_WORKFLOW_ID_PREFIX=prefix,
        ZHTJ_HTTP_PORT=str(port),
        ZHTJ_LOG_LEVEL="WARNING",
        BENCH_PASSWORD="zhtj-demo-2026",
    )
    log = open(workdir / "bulk-api.log", "wb")
    api = subprocess.Popen(
        [sys.executable, "-m", "cli", "api"],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        wait_for_port(port, api, 60, "api")
        csv_path = workdir / "graduates.csv"
        write_csv(csv_path, members)
        t0 = time.perf_counter()
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "cli",
                "transfers",
                "import",
                str(csv_path),
                "--as",
                SCHOOL,
                "--api",
                f"http://127.0.0.1:{port}",
                "--username",
                SCHOOL.lower(),
                "--password-env",
                "BENCH_PASSWORD",
                "--no-progress",
            ],
            env=env,
            cwd=ROOT,
            capture_output=True,
            text=True,
        )
        rate = len(members) / (time.perf_counter() - t0)
        if done.returncode != 0:
            raise RuntimeError(f"import failed ({done.returncode}): {done.stdout[-2000:]} {done.stderr[-2000:]}")
        return rate, done.stdout.strip().splitlines()[-1]
    finally:
        stop(api)


async def run(address: str, server_pid: int, database_url: str, n: int, workdir: Path, pids: dict[str, int]) -> dict:
    from models.db import make_engine

    members = await load_graduates(database_url, 2 * n)
    queue = f"bench-bulk-{uuid.uuid4().hex[:6]}"
    tag = uuid.uuid4().hex[:6]
    plain = await _plain(address, database_url, members[:n], queue, f"plain-{tag}-")
    imported, summary = await asyncio.to_thread(
        _import, address, database_url, members[n:], queue, f"import-{tag}-", workdir
    )

    # memory: a worker serves every start; measured once each first node is pending
    engine = make_engine(database_url)
    env = dict(
        os.environ, TEMPORAL_ADDRESS=address, DATABASE_URL=database_url, ZHTJ_TASK_QUEUE=queue, ZHTJ_LOG_LEVEL="WARNING"
    )
    (workdir / "bulk-worker.log").write_text("")
    worker = spawn_worker(dict(env, ZHTJ_LOG_LEVEL="INFO"), workdir / "bulk-worker.log")
    try:
        idle = rss_mb(worker.pid)
        meter = CpuMeter(worker=worker.pid, **pids)
        meter.start()
        t0 = time.perf_counter()
        peak, open_rows = 0.0, 0
        while time.perf_counter() - t0 < 1800:
            await asyncio.sleep(2)
            peak = max(peak, rss_mb(worker.pid))
            async with engine.connect() as conn:
                open_rows = (
                    await conn.execute(text("SELECT count(*) FROM transfers WHERE status = 'pending'"))
                ).scalar_one()
            if open_rows >= 2 * n:
                break
        recorded_in = time.perf_counter() - t0
        cpu = meter.per_item_ms(2 * n)
        await asyncio.sleep(2)
        return {
            "n": n,
            "plain_starts_per_s": round(plain, 1),
            "starts_per_s": round(imported, 1),
            "ratio": round(imported / plain, 3),
            "import_summary": summary,
            "memory": {
                "open_transfers": open_rows,
                "worker_rss_mb": round(max(peak, rss_mb(worker.pid)), 1),
                "worker_rss_mb_idle": round(idle, 1),
                "server_rss_mb": round(rss_mb(server_pid), 1),
                "recorded_in_s": round(recorded_in, 1),
                "cpu_ms_per_recorded_start": cpu,
            },
        }
    finally:
        stop(worker)
        await engine.dispose()
