"""The CSV/XLSX reader: encodings, header checks, line numbers, cell conversion (no database)."""

from __future__ import annotations

from datetime import date, datetime, time
from pathlib import Path

import openpyxl
import pytest

from imports.reader import ImportFileError, cell_text, parse_records, read_records, read_table

COLUMNS = ("code", "name", "kind", "note")
REQUIRED = ("code", "name")
LABELS = {"code": "编码", "name": "名称", "kind": "类型", "note": "备注"}


def table(records):
    return parse_records(records, columns=COLUMNS, required=REQUIRED, labels=LABELS)


@pytest.mark.parametrize(
    "value, text, damaged",
    [
        (None, "", False),
        ("  a b  ", "a b", False),
        ("\u3000全角空格\u3000", "全角空格", False),
        (True, "true", False),
        (False, "false", False),
        (2024, "2024", False),
        (2024.0, "2024", False),
        (3.5, "3.5", False),
        (13800138000.0, "13800138000", False),
        (1.10105194912310e17, "110105194912310000", True),  # an ID typed as a number in Excel
        (date(2020, 9, 1), "2020-09-01", False),
        (datetime(2020, 9, 1), "2020-09-01", False),
        (datetime(2020, 9, 1, 8, 30), "2020-09-01 08:30:00", False),
        (time(8, 30), "08:30:00", False),
    ],
)
def test_cell_text(value, text, damaged):
    got, problem = cell_text(value)
    assert got == text
    assert (problem is not None) == damaged


def test_header_and_line_numbers_skip_empty_rows():
    t = table(
        [
            ["code", " Name ", "kind"],
            ["a", "A", "x"],
            ["", None, "  "],
            [],
            [" b ", "B", None],
        ]
    )
    assert t.errors == []
    assert t.columns == ["code", "name", "kind"]
    assert [(r.line, r.cells) for r in t.rows] == [
        (2, {"code": "a", "name": "A", "kind": "x"}),
        (5, {"code": "b", "name": "B", "kind": ""}),
    ]


def test_chinese_labels_are_accepted_as_header_names():
    t = table([["编码", "名称"], ["a", "A"]])
    assert t.errors == [] and t.columns == ["code", "name"]


@pytest.mark.parametrize(
    "header, rule, column",
    [
        (["code", "kind"], "header_missing", "name"),
        (["kind"], "header_missing", "code,name"),
        (["code", "name", "colour"], "header_unknown", "colour"),
        (["code", "name", "code"], "header_duplicate", "code"),
    ],
)
def test_header_errors(header, rule, column):
    t = table([header, ["a", "b", "c"]])
    assert [(e.line, e.column, e.rule) for e in t.errors] == [(1, column, rule)]
    assert t.rows == []


def test_missing_columns_reported_in_one_error_naming_them():
    t = table([["kind"]])
    (e,) = t.errors
    assert "code（编码）" in e.message and "name（名称）" in e.message


def test_empty_file_is_a_header_error():
    for records in ([], [[None, ""]]):
        (e,) = table(records).errors
        assert (e.line, e.rule) == (1, "header_missing")


def test_cell_without_header_is_an_error():
    t = table([["code", "name", None], ["a", "A", "stray"], ["b", "B"]])
    assert [(e.line, e.rule) for e in t.errors] == [(2, "cell_without_header")]
    assert len(t.rows) == 2


def test_damaged_number_cell_is_reported_and_marked():
    t = table([["code", "name"], [1.10105194912310e17, "A"]])
    assert [(e.line, e.column, e.rule) for e in t.errors] == [(2, "code", "number_precision")]
    assert t.rows[0].damaged == {"code"}


@pytest.mark.parametrize("encoding, bom", [("utf-8", False), ("utf-8", True), ("gbk", False)])
def test_csv_encodings(tmp_path: Path, encoding, bom):
    p = tmp_path / "f.csv"
    data = "code,name\r\nHB,湖北省团委\r\n".encode(encoding)
    p.write_bytes((b"\xef\xbb\xbf" if bom else b"") + data)
    t = read_table(p, columns=COLUMNS, required=REQUIRED, labels=LABELS)
    assert t.errors == []
    assert t.rows[0].cells == {"code": "HB", "name": "湖北省团委"}


def test_csv_quoted_fields(tmp_path: Path):
    p = tmp_path / "f.csv"
    p.write_text('code,name,note\nA,"甲,乙","多""引号"""\n', encoding="utf-8")
    t = read_table(p, columns=COLUMNS, required=REQUIRED, labels=LABELS)
    assert t.rows[0].cells == {"code": "A", "name": "甲,乙", "note": '多"引号"'}


def test_xlsx_first_sheet_values(tmp_path: Path):
    p = tmp_path / "f.xlsx"
    wb = openpyxl.Workbook()
    ws = wb.active
    ws.append(["code", "name", "note"])
    ws.append(["A", "甲", date(2021, 5, 4)])
    ws.append([None, None, None])
    ws.append([123, "乙", 2024])
    wb.create_sheet("other").append(["ignored"])
    wb.save(p)
    t = read_table(p, columns=COLUMNS, required=REQUIRED, labels=LABELS)
    assert t.errors == []
    assert [(r.line, r.cells) for r in t.rows] == [
        (2, {"code": "A", "name": "甲", "note": "2021-05-04"}),
        (4, {"code": "123", "name": "乙", "note": "2024"}),
    ]


@pytest.mark.parametrize(
    "name, content",
    [
        ("f.xls", b"whatever"),
        ("f.txt", b"code,name\n"),
        ("f", b"code,name\n"),
        ("f.xlsx", b"not a zip file"),
        ("f.csv", b"\xff\xfe\x00\xd8\x00\xdc\xff"),  # neither UTF-8 nor GB18030
    ],
)
def test_unreadable_files(tmp_path: Path, name, content):
    p = tmp_path / name
    p.write_bytes(content)
    with pytest.raises(ImportFileError):
        read_records(p)


def test_missing_file(tmp_path: Path):
    with pytest.raises(ImportFileError, match="不存在"):
        read_records(tmp_path / "nope.csv")
