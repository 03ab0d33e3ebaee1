"""import_members against a real database (SQLite or PostgreSQL, per the test run)."""

from __future__ import annotations

import csv
import time
from datetime import date
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select

from domain.idcard import check_character, make_id
from imports.member_rows import MEMBER_COLUMNS
from imports.members import import_members
from imports.org_rows import ORG_COLUMNS
from imports.orgs import import_orgs
from models.db import session_scope
from models.tables import AuditLog, Member, MembershipHistory, Org

ORGS = [
    dict(code="HB", name="湖北省团委", kind="province", province="湖北省"),
    dict(code="WH", name="武汉市团委", kind="city", parent_code="HB", city="武汉市"),
    dict(code="WC", name="武昌区团委", kind="county", parent_code="WH", county="武昌区"),
    dict(code="ZNL", name="中南路街道团工委", kind="township", parent_code="WC", township="中南路街道"),
    dict(code="ZNL-T", name="中南路街道学社衔接临时团支部", kind="temp_branch", parent_code="ZNL"),
    dict(code="WHU", name="武汉大学团委", kind="school", parent_code="WC"),
    dict(code="WHU-CS", name="计算机学院团委", kind="college", parent_code="WHU"),
    dict(code="WHU-CS-1", name="计算机学院2020级1班团支部", kind="branch", parent_code="WHU-CS"),
    dict(code="WHU-CS-2", name="计算机学院2020级2班团支部", kind="branch", parent_code="WHU-CS"),
]
HEADER = list(MEMBER_COLUMNS)
VALID = "440524188001010014"
VALID_X = "11010519491231002X"


def write_csv(path: Path, rows: list[dict], header: list[str]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(header)
        for r in rows:
            w.writerow([r.get(c, "") for c in header])
    return path


@pytest.fixture
async def orgs(engine, tmp_path: Path) -> dict[str, int]:
    report = await import_orgs(engine, write_csv(tmp_path / "orgs.csv", ORGS, list(ORG_COLUMNS)))
    assert report.ok, report.lines()
    async with session_scope(engine) as s:
        return {o.code: o.id for o in (await s.execute(select(Org))).scalars()}


async def count(engine, model) -> int:
    async with session_scope(engine) as s:
        return (await s.execute(select(func.count()).select_from(model))).scalar_one()


async def all_members(engine) -> dict[str, dict]:
    async with session_scope(engine) as s:
        return {m.id_number: m.model_dump() for m in (await s.execute(select(Member))).scalars()}


GOOD = [
    dict(
        id_number=VALID,
        name="张三",
        branch_code="WHU-CS-1",
        joined_on="2015-05-04",
        graduation_year="2024",
        hukou_address="湖北省武汉市洪山区",
        residence_address="湖北省武汉市武昌区",
        phone="13800138000",
        email="zhangsan@example.com",
    ),
    dict(id_number=VALID_X.lower(), name="李四", branch_code="ZNL-T"),
    dict(
        id_number=make_id("420106", date(2002, 3, 4), 12), name="王五", branch_code="WHU-CS-2", graduation_year="2024"
    ),
]


async def test_good_file(engine, orgs, tmp_path: Path):
    path = write_csv(tmp_path / "m.csv", GOOD, HEADER)
    report = await import_members(engine, path)
    assert report.ok, report.lines()
    assert (report.created, report.updated, report.unchanged, report.written) == (3, 0, 0, True)
    members = await all_members(engine)
    assert set(members) == {VALID, VALID_X, GOOD[2]["id_number"]}  # lowercase x stored as X
    m = members[VALID]
    assert (m["branch_id"], m["school_id"]) == (orgs["WHU-CS-1"], orgs["WHU"])
    assert (m["joined_on"], m["graduation_year"], m["phone"]) == (date(2015, 5, 4), 2024, "13800138000")
    assert m["hukou_address"] == "湖北省武汉市洪山区" and m["email"] == "zhangsan@example.com"
    assert members[VALID_X]["email"] is None
    assert (members[VALID_X]["branch_id"], members[VALID_X]["school_id"]) == (orgs["ZNL-T"], None)
    assert members[VALID_X]["joined_on"] is None and members[VALID_X]["phone"] is None
    async with session_scope(engine) as s:
        audits = (await s.execute(select(AuditLog).where(AuditLog.action == "members.import"))).scalars().all()
    assert len(audits) == 1 and audits[0].detail["created"] == 3
    assert VALID not in str(audits[0].detail)


async def test_xlsx_with_date_cells(engine, orgs, tmp_path: Path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(HEADER)
    ws.append([VALID, "张三", "WHU-CS-1", date(2015, 5, 4), 2024, None, None, 13800138000])
    path = tmp_path / "m.xlsx"
    wb.save(path)
    report = await import_members(engine, path)
    assert report.ok, report.lines()
    m = (await all_members(engine))[VALID]
    assert (m["joined_on"], m["graduation_year"], m["phone"]) == (date(2015, 5, 4), 2024, "13800138000")


async def test_xlsx_id_typed_as_number_is_refused(engine, orgs, tmp_path: Path):
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(HEADER)
    ws.append([float(VALID), "张三", "WHU-CS-1"])
    path = tmp_path / "m.xlsx"
    wb.save(path)
    report = await import_members(engine, path)
    assert [(e.line, e.column, e.rule) for e in report.errors] == [(2, "id_number", "number_precision")]
    assert await count(engine, Member) == 0


async def test_reimport_and_move(engine, orgs, tmp_path: Path):
    path = write_csv(tmp_path / "m.csv", GOOD, HEADER)
    assert (await import_members(engine, path)).written
    before = await all_members(engine)
    report = await import_members(engine, path)
    assert (report.created, report.updated, report.unchanged, report.written) == (0, 0, 3, False)
    assert await all_members(engine) == before
    assert await count(engine, AuditLog) == 2  # orgs + the first member import

    rows = [dict(r) for r in GOOD]
    rows[0]["branch_code"] = "ZNL-T"  # moves out of school
    report = await import_members(engine, write_csv(tmp_path / "m2.csv", rows, HEADER))
    assert (report.created, report.updated, report.unchanged) == (0, 1, 2)
    after = await all_members(engine)
    assert (after[VALID]["branch_id"], after[VALID]["school_id"]) == (orgs["ZNL-T"], None)
    assert after[VALID]["updated_at"] > before[VALID]["updated_at"]
    assert after[VALID_X] == before[VALID_X]
    async with session_scope(engine) as s:
        (h,) = (await s.execute(select(MembershipHistory))).scalars().all()
    assert (h.member_id, h.from_branch_id, h.to_branch_id, h.reason) == (
        before[VALID]["id"],
        orgs["WHU-CS-1"],
        orgs["ZNL-T"],
        "import",
    )


async def test_minimal_header_keeps_other_fields(engine, orgs, tmp_path: Path):
    assert (await import_members(engine, write_csv(tmp_path / "m.csv", GOOD, HEADER))).ok
    before = await all_members(engine)
    report = await import_members(engine, write_csv(tmp_path / "m2.csv", GOOD, ["id_number", "name", "branch_code"]))
    assert (report.created, report.updated, report.unchanged) == (0, 0, 3)
    assert await all_members(engine) == before


BAD_BIRTH = "11010520010230123" + check_character("11010520010230123")
BAD = [
    GOOD[0],  # 2: fine
    dict(id_number="130402198207290622", name="坏校验位", branch_code="WHU-CS-1"),  # 3
    dict(id_number=BAD_BIRTH, name="坏生日", branch_code="WHU-CS-1"),  # 4
    dict(id_number="4205241880010100", name="位数不对", branch_code="WHU-CS-1"),  # 5
    dict(id_number=make_id("420106", date(2001, 1, 1), 1), name="无此支部", branch_code="NOPE"),  # 6
    dict(id_number=make_id("420106", date(2001, 1, 1), 2), name="非支部", branch_code="WHU-CS"),  # 7
    dict(
        id_number=make_id("420106", date(2001, 1, 1), 3), name="坏日期", branch_code="WHU-CS-1", joined_on="2015-13-01"
    ),  # 8
    dict(id_number=VALID, name="重复", branch_code="WHU-CS-2"),  # 9
    dict(
        id_number=make_id("420106", date(2001, 1, 1), 4),
        name="",
        branch_code="",
        graduation_year="1990",
        phone="打电话",
    ),  # 10
]
BAD_EXPECTED = [
    (3, "id_number", "id_checksum"),
    (4, "id_number", "id_birth_date"),
    (5, "id_number", "id_length"),
    (6, "branch_code", "branch_missing"),
    (7, "branch_code", "branch_not_branch_level"),
    (8, "joined_on", "date_format"),
    (9, "id_number", "duplicate"),
    (10, "name", "required"),
    (10, "branch_code", "required"),
    (10, "graduation_year", "year_range"),
    (10, "phone", "phone_format"),
]


async def test_bad_rows_reported_and_nothing_written(engine, orgs, tmp_path: Path):
    assert (await import_members(engine, write_csv(tmp_path / "m.csv", GOOD[1:2], HEADER))).ok
    before, audits = await all_members(engine), await count(engine, AuditLog)
    report = await import_members(engine, write_csv(tmp_path / "bad.csv", BAD, HEADER))
    assert not report.ok and not report.written
    assert sorted((e.line, e.column, e.rule) for e in report.errors) == sorted(BAD_EXPECTED)
    assert await all_members(engine) == before
    assert await count(engine, AuditLog) == audits
    text = "\n".join(report.lines())
    for raw in ("130402198207290622", BAD_BIRTH, VALID):
        assert raw not in text
    assert "第3行 列 id_number（身份证号） [id_checksum]: 身份证号校验位不正确：130402********0622" in text


async def test_dry_run(engine, orgs, tmp_path: Path):
    report = await import_members(engine, write_csv(tmp_path / "m.csv", GOOD, HEADER), dry_run=True)
    assert report.ok and not report.written and report.created == 3
    assert await count(engine, Member) == 0


async def test_missing_header(engine, orgs, tmp_path: Path):
    report = await import_members(engine, write_csv(tmp_path / "m.csv", GOOD, ["id_number", "name"]))
    assert [(e.line, e.column, e.rule) for e in report.errors] == [(1, "branch_code", "header_missing")]


async def test_five_thousand_rows_in_a_few_seconds(engine, orgs, tmp_path: Path):
    rows = [
        dict(
            id_number=make_id("420106", date(2000 + i % 5, 1 + i % 12, 1 + i % 28), i % 1000),
            name=f"团员{i}",
            branch_code="WHU-CS-1" if i % 2 else "WHU-CS-2",
            graduation_year="2024",
            joined_on="2016-05-04",
            phone="13800138000",
        )
        for i in range(5000)
    ]
    assert len({r["id_number"] for r in rows}) == 5000
    path = write_csv(tmp_path / "big.csv", rows, HEADER)
    t0 = time.perf_counter()
    report = await import_members(engine, path)
    first = time.perf_counter() - t0
    assert report.ok and report.created == 5000
    t0 = time.perf_counter()
    report = await import_members(engine, path)
    second = time.perf_counter() - t0
    assert report.unchanged == 5000
    assert await count(engine, Member) == 5000
    assert first < 10 and second < 10, (first, second)
