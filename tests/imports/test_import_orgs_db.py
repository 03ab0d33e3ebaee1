"""import_orgs against a real database (SQLite or PostgreSQL, per the test run)."""

from __future__ import annotations

import csv
from pathlib import Path

import openpyxl
import pytest
from sqlalchemy import func, select

from imports.org_rows import ORG_COLUMNS
from imports.orgs import import_orgs
from imports.reader import ImportFileError
from models.db import session_scope
from models.tables import AuditLog, Org

HEADER = list(ORG_COLUMNS)

# children before parents on purpose: the importer orders them itself
GOOD = [
    dict(code="WHU-CS-1", name="计算机学院2020级1班团支部", kind="branch", parent_code="WHU-CS"),
    dict(code="WHU-CS", name="计算机学院团委", kind="college", parent_code="WHU", address="珞珈山"),
    dict(code="HB", name="湖北省团委", kind="province", province="湖北省", address="武汉市武昌区"),
    dict(code="WH", name="武汉市团委", kind="city", parent_code="HB", city="武汉市"),
    dict(code="WC", name="武昌区团委", kind="county", parent_code="WH", county="武昌区"),
    dict(
        code="ZNL",
        name="中南路街道团工委",
        kind="township",
        parent_code="WC",
        township="中南路街道",
        can_receive="否",
        contact_phone="027-87654321",
        contact_address="中南路街道办事处三楼团工委",
    ),
    dict(code="ZNL-T", name="中南路街道学社衔接临时团支部", kind="temp_branch", parent_code="ZNL"),
    dict(code="WHU", name="武汉大学团委", kind="school", parent_code="WC"),
    dict(code="WHU-NEW", name="武汉大学2024级新生团支部", kind="branch", parent_code="WHU", new_student="true"),
    dict(code="WHU-ABR", name="出国（境）学习研究团员团支部", kind="abroad_study_branch", parent_code="WHU"),
    dict(code="SU", name="特殊单位专属库", kind="special_unit_db", parent_code="HB"),
    dict(code="BJ", name="北京市团委", kind="province", partition="beijing", province="北京市"),
    dict(code="BJ-HD", name="海淀区团委", kind="county", parent_code="BJ", county="海淀区"),
]


def write_csv(path: Path, rows: list[dict], header: list[str] = HEADER, encoding: str = "utf-8") -> Path:
    with path.open("w", newline="", encoding=encoding) as f:
        w = csv.writer(f)
        w.writerow(header)
        for r in rows:
            w.writerow([r.get(c, "") for c in header])
    return path


def write_xlsx(path: Path, rows: list[dict], header: list[str] = HEADER) -> Path:
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(header)
    for r in rows:
        ws.append([r.get(c) or None for c in header])
    wb.save(path)
    return path


async def count(engine, model) -> int:
    async with session_scope(engine) as s:
        return (await s.execute(select(func.count()).select_from(model))).scalar_one()


async def all_orgs(engine) -> dict[str, dict]:
    async with session_scope(engine) as s:
        orgs = (await s.execute(select(Org))).scalars().all()
    by_id = {o.id: o for o in orgs}
    out = {}
    for o in orgs:
        d = o.model_dump()
        d["parent_code"] = by_id[o.parent_id].code if o.parent_id else None
        out[o.code] = d
    return out


@pytest.mark.parametrize("fmt", ["csv", "xlsx", "gbk.csv"])
async def test_good_file_imports_with_inheritance(engine, tmp_path: Path, fmt):
    if fmt == "xlsx":
        path = write_xlsx(tmp_path / "orgs.xlsx", GOOD)
    else:
        path = write_csv(tmp_path / "orgs.csv", GOOD, encoding="gbk" if fmt.startswith("gbk") else "utf-8")
    report = await import_orgs(engine, path)
    assert report.ok, report.lines()
    assert (report.created, report.updated, report.unchanged, report.written) == (len(GOOD), 0, 0, True)

    orgs = await all_orgs(engine)
    assert len(orgs) == len(GOOD)
    b = orgs["WHU-CS-1"]
    assert b["parent_code"] == "WHU-CS" and b["kind"] == "branch"
    assert (b["province"], b["city"], b["county"], b["township"]) == ("湖北省", "武汉市", "武昌区", None)
    assert b["partition"] == "national" and b["branch_level"] and not b["approval_authority"]
    assert b["can_receive"] and not b["new_student"] and b["address"] is None
    assert orgs["WHU-CS"]["address"] == "珞珈山" and orgs["WHU-CS"]["approval_authority"]
    assert not orgs["ZNL"]["can_receive"] and orgs["ZNL-T"]["can_receive"]
    assert orgs["ZNL-T"]["township"] == "中南路街道"
    assert (orgs["ZNL"]["contact_phone"], orgs["ZNL"]["contact_address"]) == (
        "027-87654321",
        "中南路街道办事处三楼团工委",
    )
    assert orgs["ZNL-T"]["contact_phone"] is None and orgs["ZNL-T"]["contact_address"] is None  # not inherited
    assert orgs["WHU-NEW"]["new_student"]
    assert orgs["HB"]["parent_code"] is None and orgs["HB"]["partition"] == "national"
    assert orgs["BJ-HD"]["partition"] == "beijing" and orgs["BJ-HD"]["province"] == "北京市"

    async with session_scope(engine) as s:
        (audit,) = (await s.execute(select(AuditLog))).scalars().all()
    assert (audit.actor, audit.action, audit.entity) == ("cli", "orgs.import", "import")
    assert audit.detail == {"file": path.name, "rows": len(GOOD), "created": len(GOOD), "updated": 0, "unchanged": 0}


async def test_reimport_changes_nothing(engine, tmp_path: Path):
    path = write_csv(tmp_path / "orgs.csv", GOOD)
    assert (await import_orgs(engine, path)).ok
    before = await all_orgs(engine)
    report = await import_orgs(engine, path)
    assert (report.created, report.updated, report.unchanged, report.written) == (0, 0, len(GOOD), False)
    assert await all_orgs(engine) == before  # updated_at included
    assert await count(engine, AuditLog) == 1


async def test_update_touches_only_changed_rows(engine, tmp_path: Path):
    assert (await import_orgs(engine, write_csv(tmp_path / "a.csv", GOOD))).ok
    before = await all_orgs(engine)
    rows = [dict(r) for r in GOOD]
    rows[2]["address"] = "武汉市洪山区"  # HB
    rows.append(dict(code="WH-JH", name="江汉区团委", kind="county", parent_code="WH", county="江汉区"))
    report = await import_orgs(engine, write_csv(tmp_path / "b.csv", rows))
    assert (report.created, report.updated, report.unchanged) == (1, 1, len(GOOD) - 1)
    after = await all_orgs(engine)
    assert after["HB"]["address"] == "武汉市洪山区" and after["HB"]["updated_at"] > before["HB"]["updated_at"]
    assert after["WH-JH"]["province"] == "湖北省" and after["WH-JH"]["city"] == "武汉市"
    for code in before:
        if code != "HB":
            assert after[code] == before[code]
    assert await count(engine, AuditLog) == 2


async def test_parent_in_database(engine, tmp_path: Path):
    assert (await import_orgs(engine, write_csv(tmp_path / "a.csv", GOOD))).ok
    report = await import_orgs(
        engine,
        write_csv(
            tmp_path / "b.csv",
            [
                dict(code="HS", name="洪山区团委", kind="county", parent_code="WH", county="洪山区"),
                dict(code="HS-T", name="洪山区学社衔接临时团支部", kind="temp_branch", parent_code="HS"),
            ],
        ),
    )
    assert report.ok and report.created == 2
    orgs = await all_orgs(engine)
    assert orgs["HS-T"]["parent_code"] == "HS"
    assert (orgs["HS-T"]["province"], orgs["HS-T"]["city"], orgs["HS-T"]["county"]) == ("湖北省", "武汉市", "洪山区")


async def test_parent_row_inserted_with_session(engine, tmp_path: Path):
    async with session_scope(engine) as s:
        s.add(
            Org(
                code="GD",
                name="广东省团委",
                kind="province",
                partition="guangdong",
                province="广东省",
                approval_authority=True,
            )
        )
    report = await import_orgs(
        engine,
        write_csv(
            tmp_path / "a.csv",
            [
                dict(code="GZ", name="广州市团委", kind="city", parent_code="GD", city="广州市"),
            ],
        ),
    )
    assert report.ok
    gz = (await all_orgs(engine))["GZ"]
    assert gz["partition"] == "guangdong" and gz["province"] == "广东省"


BAD = GOOD[2:5] + [
    dict(code="X1", name="未知类型", kind="xyz", parent_code="HB"),  # line 5
    dict(code="X2", name="缺上级", kind="county", parent_code="NOPE"),  # 6
    dict(code="X3", name="错的上级类型", kind="village", parent_code="WH"),  # 7
    dict(code="WC", name="重复编码", kind="county", parent_code="WH"),  # 8
    dict(code="X4", name="坏布尔", kind="county", parent_code="WH", can_receive="maybe"),  # 9
    dict(code="E1", name="企业1", kind="enterprise", parent_code="E2"),  # 10
    dict(code="E2", name="企业2", kind="enterprise", parent_code="E1"),  # 11
    dict(code="X5", name="坏分区", kind="county", parent_code="WH", partition="shanghai"),  # 12
    dict(code="X6", name="新生标记", kind="school", parent_code="WH", new_student="true"),  # 13
    dict(code="", name="", kind="", address="某地"),  # 14: several errors in one row
    dict(),  # 15: a fully empty row is skipped
]
BAD_EXPECTED = [
    (5, "kind", "unknown_kind"),
    (6, "parent_code", "parent_missing"),
    (7, "parent_code", "parent_kind"),
    (8, "code", "duplicate"),
    (9, "can_receive", "boolean"),
    (10, "parent_code", "cycle"),
    (11, "parent_code", "cycle"),
    (12, "partition", "unknown_partition"),
    (13, "new_student", "new_student_kind"),
    (14, "code", "required"),
    (14, "name", "required"),
    (14, "kind", "required"),
]


@pytest.mark.parametrize("fmt", ["csv", "xlsx"])
async def test_bad_rows_reported_and_nothing_written(engine, tmp_path: Path, fmt):
    assert (await import_orgs(engine, write_csv(tmp_path / "seed.csv", GOOD[2:3]))).ok  # one existing org
    orgs_before, audit_before = await all_orgs(engine), await count(engine, AuditLog)
    writer = write_xlsx if fmt == "xlsx" else write_csv
    path = writer(tmp_path / f"bad.{fmt}", BAD)
    report = await import_orgs(engine, path)
    assert not report.ok and not report.written
    assert sorted((e.line, e.column, e.rule) for e in report.errors) == sorted(BAD_EXPECTED)
    assert await all_orgs(engine) == orgs_before
    assert await count(engine, AuditLog) == audit_before
    lines = report.lines()
    assert '第5行 列 kind（组织类型） [unknown_kind]: 未知的组织类型 "xyz"；应为 province, city' in lines[0]
    assert any(
        line.startswith("第6行 列 parent_code（上级组织编码） [parent_missing]") and "NOPE" in line for line in lines
    )
    assert "未写入" in lines[-1]


async def test_missing_header_column(engine, tmp_path: Path):
    path = write_csv(tmp_path / "h.csv", GOOD, header=["code", "parent_code", "province"])
    report = await import_orgs(engine, path)
    assert [(e.line, e.rule) for e in report.errors] == [(1, "header_missing")]
    assert "name（组织名称）" in report.errors[0].message and "kind（组织类型）" in report.errors[0].message
    assert await count(engine, Org) == 0


async def test_unknown_header_column(engine, tmp_path: Path):
    path = write_csv(tmp_path / "h.csv", GOOD, header=HEADER + ["remark"])
    report = await import_orgs(engine, path)
    assert [(e.line, e.column, e.rule) for e in report.errors] == [(1, "remark", "header_unknown")]
    assert await count(engine, Org) == 0


async def test_dry_run_writes_nothing(engine, tmp_path: Path):
    path = write_csv(tmp_path / "orgs.csv", GOOD)
    report = await import_orgs(engine, path, dry_run=True)
    assert report.ok and not report.written
    assert (report.created, report.updated, report.unchanged) == (len(GOOD), 0, 0)
    assert "试运行" in report.summary()
    assert await count(engine, Org) == 0 and await count(engine, AuditLog) == 0
    assert (await import_orgs(engine, path)).written
    rows = [dict(r) for r in GOOD]
    rows[0]["name"] = "改名"
    report = await import_orgs(engine, write_csv(tmp_path / "b.csv", rows), dry_run=True)
    assert (report.created, report.updated, report.unchanged) == (0, 1, len(GOOD) - 1)
    assert (await all_orgs(engine))["WHU-CS-1"]["name"] == GOOD[0]["name"]


async def test_kind_change_refused_when_members_would_be_stranded(engine, tmp_path: Path):
    from models.tables import Member

    assert (await import_orgs(engine, write_csv(tmp_path / "a.csv", GOOD))).ok
    orgs = await all_orgs(engine)
    async with session_scope(engine) as s:
        s.add(Member(id_number="440524188001010014", name="张三", branch_id=orgs["WHU-NEW"]["id"]))
    rows = [dict(r) for r in GOOD]
    rows[8].update(kind="college", new_student="")
    report = await import_orgs(engine, write_csv(tmp_path / "b.csv", rows))
    assert [(e.line, e.rule) for e in report.errors] == [(10, "kind_has_members")]
    rows[8]["kind"] = "delayed_branch"  # still holds members: allowed
    assert (await import_orgs(engine, write_csv(tmp_path / "c.csv", rows))).ok


async def test_unreadable_file_raises(engine, tmp_path: Path):
    p = tmp_path / "orgs.xls"
    p.write_bytes(b"old excel")
    with pytest.raises(ImportFileError):
        await import_orgs(engine, p)


async def test_contact_columns_left_out_keep_the_contact(engine, tmp_path: Path):
    assert (await import_orgs(engine, write_csv(tmp_path / "a.csv", GOOD))).ok
    header = [c for c in HEADER if c not in ("contact_phone", "contact_address")]
    rows = [dict(r, name=r["name"] + "（改）") if r["code"] == "ZNL" else r for r in GOOD]
    report = await import_orgs(engine, write_csv(tmp_path / "b.csv", rows, header))
    assert (report.updated, report.unchanged) == (1, len(GOOD) - 1)
    znl = (await all_orgs(engine))["ZNL"]
    assert (znl["contact_phone"], znl["contact_address"]) == ("027-87654321", "中南路街道办事处三楼团工委")
    cleared = [dict(r, contact_phone="", contact_address="") if r["code"] == "ZNL" else r for r in GOOD]
    assert (await import_orgs(engine, write_csv(tmp_path / "c.csv", cleared))).updated == 1
    znl = (await all_orgs(engine))["ZNL"]
    assert znl["contact_phone"] is None and znl["contact_address"] is None
