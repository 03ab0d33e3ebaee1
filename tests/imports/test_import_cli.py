"""`zhtj orgs import` and `zhtj members import` as subprocesses: exit codes and report lines."""

from __future__ import annotations

import csv
import subprocess
import sys
from pathlib import Path

from imports.member_rows import MEMBER_COLUMNS
from imports.org_rows import ORG_COLUMNS

ZHTJ = str(Path(sys.executable).parent / "zhtj")

ORGS = [
    dict(code="HB", name="湖北省团委", kind="province", province="湖北省"),
    dict(code="WH", name="武汉市团委", kind="city", parent_code="HB", city="武汉市"),
    dict(code="WHU", name="武汉大学团委", kind="school", parent_code="WH"),
    dict(code="WHU-1", name="武汉大学第一团支部", kind="branch", parent_code="WHU"),
]


def write_csv(path: Path, rows: list[dict], header) -> Path:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(list(header))
        for r in rows:
            w.writerow([r.get(c, "") for c in header])
    return path


def zhtj(env: dict, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([ZHTJ, *args], env=env, capture_output=True, text=True, timeout=120)


def test_orgs_import_dry_run_then_import_then_reimport(cli_env, tmp_path: Path):
    path = write_csv(tmp_path / "orgs.csv", ORGS, ORG_COLUMNS)
    r = zhtj(cli_env, "orgs", "import", str(path), "--dry-run")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "试运行" in r.stdout and "新增 4，更新 0，不变 0" in r.stdout
    r = zhtj(cli_env, "orgs", "import", str(path))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "导入完成" in r.stdout and "新增 4，更新 0，不变 0" in r.stdout
    r = zhtj(cli_env, "orgs", "import", str(path))
    assert r.returncode == 0 and "新增 0，更新 0，不变 4" in r.stdout


def test_orgs_import_bad_rows_exit_1(cli_env, tmp_path: Path):
    rows = ORGS + [
        dict(code="X", name="坏类型", kind="xyz", parent_code="HB"),
        dict(code="Y", name="坏上级", kind="county", parent_code="NOPE", can_receive="maybe"),
    ]
    path = write_csv(tmp_path / "orgs.csv", rows, ORG_COLUMNS)
    r = zhtj(cli_env, "orgs", "import", str(path))
    assert r.returncode == 1, r.stdout + r.stderr
    lines = r.stdout.splitlines()
    assert lines[0].startswith('第6行 列 kind（组织类型） [unknown_kind]: 未知的组织类型 "xyz"；应为 province, city, ')
    assert lines[1].startswith('第7行 列 parent_code（上级组织编码） [parent_missing]: 上级组织编码 "NOPE"')
    assert lines[2].startswith("第7行 列 can_receive（当前可接收） [boolean]:")
    assert "未写入" in lines[-1]
    # nothing was written: the dry run still sees 4 new orgs
    r = zhtj(cli_env, "orgs", "import", str(write_csv(tmp_path / "ok.csv", ORGS, ORG_COLUMNS)), "--dry-run")
    assert r.returncode == 0 and "新增 4" in r.stdout


def test_members_import(cli_env, tmp_path: Path):
    assert zhtj(cli_env, "orgs", "import", str(write_csv(tmp_path / "orgs.csv", ORGS, ORG_COLUMNS))).returncode == 0
    good = [dict(id_number="11010519491231002x", name="张三", branch_code="WHU-1", joined_on="2015-05-04")]
    r = zhtj(cli_env, "members", "import", str(write_csv(tmp_path / "m.csv", good, MEMBER_COLUMNS)))
    assert r.returncode == 0, r.stdout + r.stderr
    assert "团员导入完成" in r.stdout and "新增 1" in r.stdout
    bad = good + [dict(id_number="130402198207290622", name="李四", branch_code="WHU")]
    r = zhtj(cli_env, "members", "import", str(write_csv(tmp_path / "bad.csv", bad, MEMBER_COLUMNS)))
    assert r.returncode == 1
    out = r.stdout + r.stderr
    assert "130402198207290622" not in out
    assert "第3行 列 id_number（身份证号） [id_checksum]: 身份证号校验位不正确：130402********0622" in r.stdout
    assert "第3行 列 branch_code（所在团支部编码） [branch_not_branch_level]" in r.stdout


def test_header_error_exit_1(cli_env, tmp_path: Path):
    path = write_csv(tmp_path / "orgs.csv", ORGS, ["code", "parent_code"])
    r = zhtj(cli_env, "orgs", "import", str(path))
    assert r.returncode == 1
    assert r.stdout.startswith(
        "第1行 列 name,kind [header_missing]: 表头缺少必需的列：name（组织名称），kind（组织类型）"
    )


def test_unreadable_file_exit_2(cli_env, tmp_path: Path):
    xls = tmp_path / "orgs.xls"
    xls.write_bytes(b"old")
    r = zhtj(cli_env, "orgs", "import", str(xls))
    assert r.returncode == 2 and ".xls" in r.stderr and r.stdout == ""
    r = zhtj(cli_env, "members", "import", str(tmp_path / "missing.csv"))
    assert r.returncode == 2 and "不存在" in r.stderr


def test_unmigrated_database_exit_1(cli_env, empty_database_url, tmp_path: Path):
    env = dict(cli_env, DATABASE_URL=empty_database_url)
    r = zhtj(env, "orgs", "import", str(write_csv(tmp_path / "orgs.csv", ORGS, ORG_COLUMNS)))
    assert r.returncode == 1 and "zhtj migrate" in r.stderr
