"""`zhtj seed demo`: the demo dataset (pure), its upsert into a real database, and the CLI."""

from __future__ import annotations

import subprocess
import sys
import time
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import aliased

from core.passwords import verify_password
from domain import idcard
from domain.orgs import KIND_RULES, OrgKind, Partition, parent_allowed
from models.db import session_scope
from models.tables import Member, Org, User
from seed.demo import (
    DEMO_LOGIN_USERNAMES,
    DEMO_PASSWORD,
    EMPLOYER_WITHOUT_ORG,
    EMPLOYER_WITHOUT_ORG_CLOSED_TOWNSHIP,
    GRADUATION_YEAR,
    SERVICE_USERNAME,
    build_demo_dataset,
    build_org_tree,
    demo_login_lines,
    seed_demo,
)

REPO = Path(__file__).resolve().parents[2]
BIN = Path(sys.executable).parent


def _age(born: date, on: date) -> int:
    return on.year - born.year - ((on.month, on.day) < (born.month, born.day))


# --------------------------------------------------------------------------------------------
# Pure dataset
# --------------------------------------------------------------------------------------------
def test_dataset_is_deterministic_per_seed():
    a = build_demo_dataset(7, 400)
    b = build_demo_dataset(7, 400)
    assert a == b
    c = build_demo_dataset(8, 400)
    assert c.orgs == a.orgs  # the directory does not depend on the seed
    ids_a = {m.id_number for m in a.members}
    ids_c = {m.id_number for m in c.members}
    assert len(ids_a & ids_c) < 5
    assert [m.name for m in a.members] != [m.name for m in c.members]


def test_org_tree_follows_the_domain_rules():
    orgs = build_org_tree()
    by_code = {o.code: o for o in orgs}
    assert len(by_code) == len(orgs), "codes are unique"
    assert {o.kind for o in orgs} == {k.value for k in OrgKind}
    assert {o.partition for o in orgs} == {p.value for p in Partition}
    for o in orgs:
        assert o.code.isascii() and o.code == o.code.upper() and " " not in o.code
        parent = by_code[o.parent_code] if o.parent_code else None
        assert parent_allowed(o.kind, parent.kind if parent else None), (o.code, o.kind, parent and parent.kind)
        if parent:
            assert orgs.index(parent) < orgs.index(o), "parents come first"
            assert o.partition == parent.partition
            assert o.province == parent.province
        assert o.province and o.address, o.code
        if o.kind not in (OrgKind.PROVINCE, OrgKind.SPECIAL_UNIT_DB):
            assert o.city, o.code
        assert o.branch_level == KIND_RULES[OrgKind(o.kind)].branch_level
        assert o.approval_authority == KIND_RULES[OrgKind(o.kind)].approves
        if o.kind in (OrgKind.TOWNSHIP, OrgKind.VILLAGE):
            assert o.county and o.township
        if o.province == "湖北省":
            assert o.partition == Partition.NATIONAL
    assert {by_code[c].partition for c in ("BJ", "GD", "FJ")} == {"beijing", "guangdong", "fujian"}

    # Every township has a temporary branch; the one that cannot receive has a county-level one.
    townships = [o for o in orgs if o.kind == OrgKind.TOWNSHIP]
    for tw in townships:
        assert any(o.kind == OrgKind.TEMP_BRANCH and o.parent_code == tw.code for o in orgs), tw.code
    closed = [tw for tw in townships if not tw.can_receive]
    assert len(closed) == 1
    assert any(o.kind == OrgKind.TEMP_BRANCH and o.parent_code == closed[0].parent_code for o in orgs)

    # Schools: special branches, one school without a delayed branch, new-student orgs.
    for school in ("WHU", "HUST"):
        kinds = {o.kind for o in orgs if o.parent_code == school}
        assert {OrgKind.MOBILE_BRANCH, OrgKind.ABROAD_STUDY_BRANCH, OrgKind.BRANCH} <= kinds
        assert any(o.new_student for o in orgs if o.parent_code == school)
    assert by_code["WHU-DLY"].kind == OrgKind.DELAYED_BRANCH
    assert "HUST-DLY" not in by_code
    assert by_code["HB-SU"].kind == OrgKind.SPECIAL_UNIT_DB and by_code["HB-SU"].parent_code == "HB"

    # The employers without a league org point at seeded townships.
    for employer, receives in ((EMPLOYER_WITHOUT_ORG, True), (EMPLOYER_WITHOUT_ORG_CLOSED_TOWNSHIP, False)):
        loc = employer["location"]
        match = [
            o
            for o in townships
            if (o.province, o.city, o.county, o.township)
            == (loc["province"], loc["city"], loc["county"], loc["township"])
        ]
        assert len(match) == 1 and match[0].can_receive is receives
        assert employer["address"].startswith(loc["province"] + loc["city"] + loc["county"] + loc["township"])


def test_members_are_valid_graduates():
    ds = build_demo_dataset(20260601, 3000)
    by_code = {o.code: o for o in ds.orgs}
    ids = [m.id_number for m in ds.members]
    assert len(ids) == 3000 and len(set(ids)) == 3000
    graduation = date(GRADUATION_YEAR, 7, 1)
    for m in ds.members:
        assert idcard.is_valid(m.id_number, today=date(2026, 6, 1)), m.id_number
        assert m.id_number.startswith("42")
        born = idcard.birth_date(m.id_number)
        assert 21 <= _age(born, graduation) <= 24
        assert 14 <= _age(born, m.joined_on) <= 18
        assert by_code[m.branch_code].branch_level
        assert 2 <= len(m.name) <= 4
        assert m.hukou_address.startswith("湖北省") and m.residence_address.startswith("湖北省")
        assert len(m.phone) == 11 and m.phone.startswith("1") and m.phone.isdigit()
        if m.school_code:
            assert by_code[m.school_code].kind == OrgKind.SCHOOL
            assert m.branch_code.startswith(m.school_code + "-")
    graduating = [m for m in ds.members if m.graduating]
    assert len(graduating) > 2900
    assert {m.school_code for m in graduating} == {"WHU", "HUST"}
    assert all(m.graduation_year == GRADUATION_YEAR for m in graduating)
    assert any(m.delayed_graduation and m.branch_code == "WHU-DLY" for m in ds.members)
    assert any(m.school_code is None for m in ds.members), "a few members outside the schools"
    members = [u for u in ds.users if u.role == "member"]
    assert [u.username for u in members] == [f"member{i}" for i in range(1, 6)]
    picked = {m.id_number: m for m in ds.members}
    assert {picked[u.member_id_number].school_code for u in members} == {"WHU", "HUST"}


# --------------------------------------------------------------------------------------------
# Database
# --------------------------------------------------------------------------------------------
async def _snapshot(engine):
    async with session_scope(engine) as s:
        orgs = (await s.execute(select(Org.__table__))).mappings().all()
        members = (await s.execute(select(Member.__table__))).mappings().all()
        users = (await s.execute(select(User.__table__))).mappings().all()
    return (
        sorted(tuple(sorted(r.items())) for r in orgs),
        sorted(tuple(sorted(r.items())) for r in members),
        sorted(tuple(sorted(r.items())) for r in users),
    )


async def test_seed_demo_writes_a_consistent_directory(engine):
    started = time.monotonic()
    summary = await seed_demo(engine)
    seconds = time.monotonic() - started
    assert seconds < 15, f"seeding 3000 members took {seconds:.1f}s"
    assert summary.members == summary.members_created == 3000
    assert summary.orgs == summary.orgs_created
    assert summary.users == summary.users_created

    o, p = Org.__table__, aliased(Org.__table__)
    m, u = Member.__table__, User.__table__
    async with session_scope(engine) as s:
        kinds = set((await s.execute(select(o.c.kind).distinct())).scalars())
        assert kinds == {k.value for k in OrgKind}
        partitions = set((await s.execute(select(o.c.partition).distinct())).scalars())
        assert partitions == {p_.value for p_ in Partition}
        pairs = (await s.execute(select(o.c.code, o.c.kind, p.c.kind).outerjoin(p, p.c.id == o.c.parent_id))).all()
        for code, kind, parent_kind in pairs:
            assert parent_allowed(kind, parent_kind), (code, kind, parent_kind)
        flags = (await s.execute(select(o.c.kind, o.c.branch_level, o.c.approval_authority))).all()
        for kind, branch_level, approves in flags:
            rule = KIND_RULES[OrgKind(kind)]
            assert (branch_level, approves) == (rule.branch_level, rule.approves)

        rows = (await s.execute(select(m.c.id_number, o.c.branch_level).join(o, o.c.id == m.c.branch_id))).all()
        assert len(rows) == 3000
        assert all(branch_level for _, branch_level in rows), "members only in branch-level orgs"
        assert all(idcard.is_valid(idn) for idn, _ in rows)
        assert len({idn for idn, _ in rows}) == 3000
        schools = (
            (
                await s.execute(
                    select(o.c.kind).join(m, m.c.school_id == o.c.id).where(m.c.graduating.is_(True)).distinct()
                )
            )
            .scalars()
            .all()
        )
        assert schools == ["school"]

        # One admin per approving org, named after its code; nobody else is an admin.
        admins = (
            await s.execute(
                select(u.c.username, o.c.code, o.c.name, u.c.display_name)
                .join(o, o.c.id == u.c.org_id)
                .where(u.c.role == "admin")
            )
        ).all()
        approving = (await s.execute(select(o.c.code).where(o.c.approval_authority.is_(True)))).scalars().all()
        assert sorted(c for _, c, _, _ in admins) == sorted(approving)
        assert all(name == c.lower() and disp == oname for name, c, oname, disp in admins)
        n_admins = (await s.execute(select(func.count()).select_from(u).where(u.c.role == "admin"))).scalar_one()
        assert n_admins == len(approving)

        members = (await s.execute(select(u.c.username, u.c.member_id, u.c.org_id).where(u.c.role == "member"))).all()
        assert sorted(n for n, _, _ in members) == [f"member{i}" for i in range(1, 6)]
        assert all(mid is not None and oid is None for _, mid, oid in members)
        service = (await s.execute(select(u).where(u.c.username == SERVICE_USERNAME))).mappings().one()
        assert service["role"] == "service" and service["member_id"] is None
        whu = (await s.execute(select(o.c.id).where(o.c.code == "WHU"))).scalar_one()
        assert service["org_id"] == whu  # the school it starts transfers for

        hashes = set((await s.execute(select(u.c.password_hash))).scalars())
    assert len(hashes) == 1, "one shared hash of the demo password"
    (the_hash,) = hashes
    assert DEMO_PASSWORD not in the_hash
    assert verify_password(the_hash, DEMO_PASSWORD)
    assert not verify_password(the_hash, DEMO_PASSWORD + "x")

    usernames = [lg.username for lg in summary.logins]
    assert usernames[:5] == ["hb", "whu", "whu-cs", "hb-wh-hs-ln", "dfm"]
    assert usernames[5:] == ["member1", "member2", "member3", "member4", "member5", SERVICE_USERNAME]
    assert all(lg.password == DEMO_PASSWORD for lg in summary.logins)
    assert all(lg.org_name for lg in summary.logins if lg.role != "service")


async def test_seed_demo_is_idempotent_and_keeps_live_state(engine):
    first = await seed_demo(engine, members=500)
    before = await _snapshot(engine)
    again = await seed_demo(engine, members=500)
    assert (
        again.orgs_created,
        again.orgs_updated,
        again.members_created,
        again.members_updated,
        again.users_created,
        again.users_updated,
    ) == (0, 0, 0, 0, 0, 0)
    assert (again.orgs, again.members, again.users) == (first.orgs, first.members, first.users)
    assert await _snapshot(engine) == before

    # Live state (a transfer moved a member, an admin closed a township, a password changed)
    # survives a re-run; directory fields are put back.
    ds = build_demo_dataset(members=500)
    moved = ds.members[0]
    async with session_scope(engine) as s:
        tmp_id = (await s.execute(select(Org.id).where(Org.code == "HB-WH-HS-LN-TMP"))).scalar_one()
        await s.execute(
            update(Member.__table__)
            .where(Member.__table__.c.id_number == moved.id_number)
            .values(branch_id=tmp_id, graduating=False, name="改名")
        )
        await s.execute(
            update(Org.__table__).where(Org.__table__.c.code == "HB-WH-HS-GS").values(can_receive=False, name="改名")
        )
        await s.execute(update(User.__table__).where(User.__table__.c.username == "hb").values(password_hash="x"))
    third = await seed_demo(engine, members=500)
    assert (third.members_updated, third.orgs_updated, third.users_updated) == (1, 1, 0)
    async with session_scope(engine) as s:
        row = (await s.execute(select(Member).where(Member.id_number == moved.id_number))).scalar_one()
        assert (row.branch_id, row.graduating, row.name) == (tmp_id, False, moved.name)
        gs = (await s.execute(select(Org).where(Org.code == "HB-WH-HS-GS"))).scalar_one()
        assert (gs.can_receive, gs.name) == (False, "洪山区关山街道团工委")
        assert (await s.execute(select(User.password_hash).where(User.username == "hb"))).scalar_one() == "x"
    assert "hb" not in [lg.username for lg in third.logins], "only logins that still use the demo password"
    moved_login = next(lg for lg in third.logins if lg.display_name == moved.name)
    assert moved_login.org_code == "HB-WH-HS-LN-TMP", "a member login shows the member's branch now"

    # Another seed adds other members (different 身份证号) and re-points member1..5.
    other = await seed_demo(engine, seed=1, members=50)
    assert other.members_created == 50 and other.orgs_created == 0
    async with session_scope(engine) as s:
        assert (await s.execute(select(func.count()).select_from(Member.__table__))).scalar_one() == 550


async def test_demo_login_lines_seeds_only_an_empty_directory(engine):
    calls = []

    async def seeder(eng):
        calls.append(1)
        return await seed_demo(eng, members=60)

    lines = await demo_login_lines(engine, seed_when_empty=seeder)
    assert calls == [1]
    assert lines[0].split() == ["username", "password", "role", "org"]
    assert [ln.split()[0] for ln in lines[2:]] == list(DEMO_LOGIN_USERNAMES)
    assert all(DEMO_PASSWORD in ln for ln in lines[2:])
    assert await demo_login_lines(engine, seed_when_empty=seeder) == lines
    assert calls == [1], "a directory with orgs is not seeded again"


async def test_demo_login_lines_without_demo_accounts(engine):
    assert await demo_login_lines(engine) == []


# --------------------------------------------------------------------------------------------
# CLI (subprocesses: `exit_now` ends the process)
# --------------------------------------------------------------------------------------------
_SEED_APP = "import sys; from seed.cli import seed_app; seed_app(sys.argv[1:], prog_name='zhtj seed')"


def _run(args: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, env=env, cwd=REPO, capture_output=True, text=True, timeout=120)


def test_seed_app_demo_if_empty_and_unmigrated(cli_env, empty_database_url):
    py = [sys.executable, "-c", _SEED_APP]
    r = _run([*py, "demo", "--members", "200", "--if-empty"], cli_env)
    assert r.returncode == 0, r.stderr
    assert "members: 200" in r.stdout and "created 200" in r.stdout
    for name in ("hb", "whu", "whu-cs", "hb-wh-hs-ln", "dfm", "member1", "member5", SERVICE_USERNAME):
        assert f"\n{name} " in r.stdout
    assert DEMO_PASSWORD in r.stdout
    assert "seed_demo_done" in r.stderr  # structured log line

    r = _run([*py, "demo", "--members", "200", "--if-empty"], cli_env)
    assert r.returncode == 0, r.stderr
    assert "nothing done" in r.stdout and "created" not in r.stdout

    unmigrated = dict(cli_env, DATABASE_URL=empty_database_url)
    r = _run([*py, "demo", "--members", "10"], unmigrated)
    assert r.returncode == 1
    assert "zhtj migrate" in r.stderr and r.stdout == ""


@pytest.mark.skipif(not (REPO / "cli.py").exists(), reason="cli.py (the lead's `zhtj` entry point) not there yet")
def test_zhtj_seed_demo(cli_env):
    r = _run([str(BIN / "zhtj"), "seed", "demo", "--members", "300"], cli_env)
    assert r.returncode == 0, r.stderr
    assert "created 300" in r.stdout and "\nmember1 " in r.stdout
    r = _run([str(BIN / "zhtj"), "seed", "demo", "--members", "300"], cli_env)
    assert r.returncode == 0, r.stderr
    assert "members: 300 (created 0, updated 0)" in r.stdout
