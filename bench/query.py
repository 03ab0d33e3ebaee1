"""4. Query latency at a province's scale: 1,000,000 members and 300,000 transfers, bulk-loaded
with COPY (not through workflows), then the 操作中心 inbox of a busy org: the service query and
the API list endpoint over HTTP, p50/p95, and EXPLAIN of the inbox query."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from bench.env import free_port, percentile, stop
from domain.idcard import make_id

SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵万钱严覃武戴莫孔向汤"
GIVEN = (
    "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红娥玲芬燕彬鹏辉斌宇浩凯晨雪琳欣怡梓涵子轩思远雨萱佳豪俊熙"
)


async def copy_rows(conn: Any, model: Any, records: list[tuple]) -> None:
    """COPY `records` into the table of `model` (asyncpg), each a tuple in the table's column order."""
    from models.tables import table_of

    table = table_of(model)
    await conn.copy_records_to_table(table.name, records=records, columns=[c.name for c in table.columns])


def graduate_row(
    member_id: int, id_number: str, name: str, branch_id: int, school_id: int, graduation_year: int, now: datetime
) -> tuple:
    """A `members` row for COPY: a graduating member with no other details."""
    # id, id_number, name, branch_id, school_id, joined_on, graduation_year, hukou_address,
    # residence_address, phone, graduating, delayed_graduation, mobile, abroad_retention,
    # in_special_unit_db, created_at, updated_at
    return (
        member_id,
        id_number,
        name,
        branch_id,
        school_id,
        None,
        graduation_year,
        None,
        None,
        None,
        True,
        False,
        False,
        False,
        False,
        now,
        now,
    )


def _org_rows(rng: random.Random) -> tuple[list[tuple], dict]:
    """A province-sized tree: 17 cities × 8 counties × 12 townships (each with its temp branch and
    villages), 60 schools × 15 colleges × 24 branches, 300 enterprises with branches."""
    rows: list[tuple] = []
    now = datetime.now(UTC)

    def add(code, name, kind, parent, branch_level, approves, region):
        oid = len(rows) + 1
        rows.append(
            (oid, code, name, kind, parent, "national", *region, None, branch_level, approves, True, False, now, now)
        )
        return oid

    info = {"townships": [], "temps": [], "schools": [], "class_branches": [], "enterprises": [], "colleges": {}}
    prov = add("P", "共青团某省委员会", "province", None, False, True, ("某省", None, None, None))
    for c in range(17):
        city = add(f"P-C{c}", f"共青团第{c}市委员会", "city", prov, False, True, ("某省", f"第{c}市", None, None))
        for k in range(8):
            county = add(
                f"P-C{c}-K{k}",
                f"第{c}市第{k}区团委",
                "county",
                city,
                False,
                True,
                ("某省", f"第{c}市", f"第{k}区", None),
            )
            for t in range(12):
                reg = ("某省", f"第{c}市", f"第{k}区", f"第{t}街道")
                town = add(f"P-C{c}-K{k}-T{t}", f"第{c}市第{k}区第{t}街道团工委", "township", county, False, True, reg)
                temp = add(
                    f"P-C{c}-K{k}-T{t}-TMP", f"第{t}街道学社衔接临时团支部", "temp_branch", town, True, False, reg
                )
                info["townships"].append(town)
                info["temps"].append((temp, town))
                for v in range(3):
                    add(f"P-C{c}-K{k}-T{t}-V{v}", f"第{t}街道第{v}社区团支部", "village", town, True, True, reg)
    for sc in range(60):
        school = add(f"S{sc}", f"第{sc}大学团委", "school", prov, False, True, ("某省", f"第{sc % 17}市", None, None))
        info["schools"].append(school)
        for co in range(15):
            college = add(
                f"S{sc}-X{co}",
                f"第{sc}大学第{co}学院团委",
                "college",
                school,
                False,
                True,
                ("某省", f"第{sc % 17}市", None, None),
            )
            for b in range(24):
                br = add(
                    f"S{sc}-X{co}-B{b}",
                    f"第{sc}大学第{co}学院{b}班团支部",
                    "branch",
                    college,
                    True,
                    False,
                    ("某省", f"第{sc % 17}市", None, None),
                )
                info["class_branches"].append(br)
                info["colleges"][br] = college
    for e in range(300):
        ent = add(f"E{e}", f"第{e}公司团委", "enterprise", prov, False, True, ("某省", f"第{e % 17}市", None, None))
        info["enterprises"].append(ent)
        for b in range(5):
            add(
                f"E{e}-B{b}", f"第{e}公司第{b}团支部", "branch", ent, True, False, ("某省", f"第{e % 17}市", None, None)
            )
    return rows, info


async def load(database_url: str, members: int, transfers: int, busy_pending: int, seed: int = 7) -> dict:
    """Bulk-load with COPY; returns the busy org's code and admin username."""
    import asyncpg

    from models.tables import ApprovalStep, Member, Org, Transfer

    rng = random.Random(seed)
    conn = await asyncpg.connect(database_url.replace("postgresql+asyncpg://", "postgresql://"))
    t0 = time.perf_counter()
    try:
        orgs, info = _org_rows(rng)
        await copy_rows(conn, Org, orgs)
        school_of = {}
        for br, college in info["colleges"].items():
            school_of[br] = orgs[college - 1][4]
        now = datetime.now(UTC)
        branches = info["class_branches"]
        seen: set[str] = set()
        member_rows = []
        area = ["420102", "420103", "420111", "420106", "420502", "420602", "420923", "421002"]
        for i in range(1, members + 1):
            while True:
                born = date(2000, 1, 1) + timedelta(days=rng.randrange(0, 365 * 5))
                idn = make_id(rng.choice(area), born, rng.randrange(1000))
                if idn not in seen:
                    seen.add(idn)
                    break
            br = branches[i % len(branches)]
            member_rows.append(
                graduate_row(
                    i, idn, rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN), br, school_of[br], 2026, now
                )
            )
        await copy_rows(conn, Member, member_rows)
        del member_rows, seen

        busy_temp, busy_town = info["temps"][0]
        statuses = (
            ["completed"] * 55
            + ["pending"] * 30
            + ["awaiting_assignment"] * 8
            + ["returned"] * 3
            + ["withdrawn"] * 3
            + ["expired"] * 1
        )
        t_rows, s_rows = [], []
        sid = 0
        start = now - timedelta(days=120)
        for tid in range(1, transfers + 1):
            member_id = tid  # distinct members
            branch = branches[member_id % len(branches)]
            college = info["colleges"][branch]
            busy = tid <= busy_pending
            status = "pending" if busy else rng.choice(statuses)
            if busy:
                target, approver = busy_temp, busy_town
            elif rng.random() < 0.65:
                target, approver = rng.choice(info["temps"])
            else:
                target = approver = rng.choice(info["enterprises"])
            created = start + timedelta(seconds=rng.randrange(0, 120 * 86400))
            if busy:  # the busy org's inbox: a third waiting more than 10 days
                created = now - timedelta(days=rng.choice([2, 4, 6, 8, 11, 13]), seconds=rng.randrange(86400))
            t_rows.append(
                (
                    tid,
                    f"transfer-{member_id}",
                    f"run-{tid}",
                    None,
                    member_id,
                    "employed_without_org",
                    "out",
                    status,
                    branch,
                    target,
                    target if status == "completed" else None,
                    approver if status == "pending" else None,
                    json.dumps({}),
                    "§I.1",
                    None,
                    "bench",
                    created,
                    created,
                    created + timedelta(days=9) if status == "completed" else None,
                )
            )
            sid += 1
            s_rows.append(
                (sid, tid, 1, 1, college, "approved", created, None, None, None, created, "bench", None, None)
            )
            sid += 1
            node2 = (
                "pending"
                if status == "pending"
                else (
                    "returned"
                    if status == "returned"
                    else "waiting"
                    if status in ("withdrawn", "expired")
                    else "approved"
                )
            )
            started = created
            s_rows.append(
                (
                    sid,
                    tid,
                    1,
                    2,
                    approver,
                    node2,
                    started,
                    started + timedelta(days=10),
                    started + timedelta(days=15),
                    None,
                    None if node2 in ("pending", "waiting") else started + timedelta(days=3),
                    None if node2 in ("pending", "waiting") else "bench",
                    None,
                    None,
                )
            )
        await copy_rows(conn, Transfer, t_rows)
        await copy_rows(conn, ApprovalStep, s_rows)
        for table in ("orgs", "members", "transfers", "approval_steps"):
            await conn.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), (SELECT max(id) FROM {table}))")
        await conn.execute("ANALYZE")
        busy_code = orgs[busy_town - 1][1]
        from core.passwords import hash_password
        from domain.roles import Role

        await conn.execute(
            "INSERT INTO users (username, password_hash, role, org_id, display_name, active, created_at) "
            "VALUES ($1, $2, $3, $4, $5, true, now())",
            "busy-admin",
            hash_password("bench-password"),
            Role.ADMIN.value,
            busy_town,
            orgs[busy_town - 1][2],
        )
    finally:
        await conn.close()
    return {"busy_org": busy_code, "load_seconds": round(time.perf_counter() - t0, 1), "orgs": len(orgs)}


async def measure(database_url: str, busy_org: str, runs: int, workdir: Path) -> dict:
    import httpx
    from sqlalchemy import select, text

    from models import User
    from models.db import make_engine, session_factory
    from service import queries

    engine = make_engine(database_url)
    out: dict = {}
    try:
        async with session_factory(engine)() as s:
            user = (await s.execute(select(User).where(User.username == "busy-admin"))).scalar_one()
            f = queries.TransferFilter(node_org=busy_org, overdue=True)
            times = []
            for _ in range(runs):
                t = time.perf_counter()
                items, total = await queries.list_transfers(s, user, f, page=1, page_size=20)
                times.append((time.perf_counter() - t) * 1000)
            out["inbox_total"] = total
            out["inbox_p50_ms"] = round(percentile(times, 50), 2)
            out["inbox_p95_ms"] = round(percentile(times, 95), 2)
            count, rows = await queries.list_statements(s, user, f, page=1, page_size=20, now=datetime.now(UTC))
            plans = {}
            for name, stmt in (("count", count), ("page", rows)):
                compiled = stmt.compile(dialect=engine.dialect, compile_kwargs={"literal_binds": True})
                plan = (await s.execute(text(f"EXPLAIN (ANALYZE, BUFFERS) {compiled}"))).scalars().all()
                plans[name] = plan
            out["explain"] = plans
            out["uses_index"] = all(any("Index" in line for line in p) for p in plans.values())
    finally:
        await engine.dispose()

    port = free_port()
    env = dict(
        os.environ,
        DATABASE_URL=database_url,
        ZHTJ_HTTP_PORT=str(port),
        ZHTJ_DATA_DIR=str(workdir),
        TEMPORAL_ADDRESS="127.0.0.1:1",
        ZHTJ_LOG_LEVEL="WARNING",
        ZHTJ_SECRET_KEY="bench",
    )
    log = open(workdir / "api.log", "wb")
    api = subprocess.Popen(
        [sys.executable, "-m", "cli", "api"], env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    try:
        from core.dev import wait_for_port

        wait_for_port(port, api, 60, "API")
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            tok = (
                await http.post("/api/auth/token", json={"username": "busy-admin", "password": "bench-password"})
            ).json()
            h = {"Authorization": f"Bearer {tok['access_token']}"}
            params = {"node_org": busy_org, "overdue": "true"}
            for _ in range(5):
                await http.get("/api/transfers", params=params, headers=h)
            times = []
            for _ in range(runs):
                t = time.perf_counter()
                r = await http.get("/api/transfers", params=params, headers=h)
                times.append((time.perf_counter() - t) * 1000)
                assert r.status_code == 200, r.text
        out["api_p50_ms"] = round(percentile(times, 50), 2)
        out["api_p95_ms"] = round(percentile(times, 95), 2)
    finally:
        stop(api)
    return out
