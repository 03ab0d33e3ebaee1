"""Table-driven tests of the pure member import rules (parse_member_row, resolve_members)."""

from __future__ import annotations

from datetime import date

import pytest

from domain.idcard import check_character, make_id
from imports.member_rows import MEMBER_COLUMNS, BranchInfo, MemberSnapshot, parse_member_row, resolve_members
from imports.reader import Row

TODAY = date(2024, 6, 1)
VALID = "440524188001010014"
VALID_X = "11010519491231002X"
BAD_CHECKSUM = "130402198207290622"
BAD_BIRTH = "11010520010230123" + check_character("11010520010230123")  # 2001-02-30
FUTURE_BIRTH = make_id("110105", date(2030, 1, 1), 1)


def row(line: int = 2, **cells: str) -> Row:
    base = {"id_number": VALID, "name": "张三", "branch_code": "B1"}
    base.update(cells)
    return Row(line=line, cells={c: base.get(c, "") for c in MEMBER_COLUMNS})


@pytest.mark.parametrize(
    "cells, expected",
    [
        ({}, []),
        (dict(id_number=VALID_X.lower()), []),
        (dict(id_number=" 1101 0519 4912 3100 2x "), []),
        (dict(id_number=""), [("id_number", "required")]),
        (dict(id_number=BAD_CHECKSUM), [("id_number", "id_checksum")]),
        (dict(id_number=BAD_BIRTH), [("id_number", "id_birth_date")]),
        (dict(id_number=FUTURE_BIRTH), [("id_number", "id_birth_date")]),
        (dict(id_number="1101051949123100"), [("id_number", "id_length")]),
        (dict(id_number="11010519491231002Y"), [("id_number", "id_format")]),
        (dict(id_number="1.10105E+17"), [("id_number", "number_precision")]),
        (dict(name=""), [("name", "required")]),
        (dict(name="名" * 101), [("name", "too_long")]),
        (dict(branch_code=""), [("branch_code", "required")]),
        (dict(joined_on="2015-05-04"), []),
        (dict(joined_on="2015/05/04"), [("joined_on", "date_format")]),
        (dict(joined_on="2015-02-30"), [("joined_on", "date_format")]),
        (dict(joined_on="20150504"), [("joined_on", "date_format")]),
        (dict(joined_on="2024-06-02"), [("joined_on", "date_future")]),
        (dict(joined_on="2024-06-01"), []),
        (dict(graduation_year="2024"), []),
        (dict(graduation_year="1999"), [("graduation_year", "year_range")]),
        (dict(graduation_year="2101"), [("graduation_year", "year_range")]),
        (dict(graduation_year="二〇二四"), [("graduation_year", "year_range")]),
        (dict(phone="13800138000"), []),
        (dict(phone="+86-27-87654321"), []),
        (dict(phone="138 0013 8000"), [("phone", "phone_format")]),
        (dict(phone="call me"), [("phone", "phone_format")]),
        (dict(phone="1" * 33), [("phone", "too_long")]),
        (dict(email="zhang.san@example.com"), []),
        (dict(email="张三@学校.中国"), []),
        (dict(email="zhang.san"), [("email", "email_format")]),
        (dict(email="a@b"), [("email", "email_format")]),
        (dict(email="a@b.cn, c@d.cn"), [("email", "email_format")]),
        (dict(email="a@" + "b" * 250 + ".cn"), [("email", "too_long")]),
        (dict(hukou_address="址" * 301), [("hukou_address", "too_long")]),
        (
            dict(id_number=BAD_CHECKSUM, name="", joined_on="x", phone="?"),
            [
                ("id_number", "id_checksum"),
                ("name", "required"),
                ("joined_on", "date_format"),
                ("phone", "phone_format"),
            ],
        ),
    ],
)
def test_parse_member_row(cells, expected):
    inp, errors = parse_member_row(row(**cells), today=TODAY)
    assert [(e.column, e.rule) for e in errors] == expected
    assert all(e.line == 2 for e in errors)
    if not expected:
        assert inp.id_number is not None and inp.id_number == inp.id_number.upper()
        assert " " not in inp.id_number


def test_messages_never_show_a_whole_id():
    for raw in (BAD_CHECKSUM, BAD_BIRTH):
        _, errors = parse_member_row(row(id_number=raw), today=TODAY)
        assert errors and all(raw not in e.message for e in errors)
        assert raw[:6] + "********" + raw[-4:] in errors[0].message


BRANCHES = {
    "B1": BranchInfo(id=10, code="B1", kind="branch", school_id=3),
    "T1": BranchInfo(id=11, code="T1", kind="temp_branch", school_id=None),
    "S": BranchInfo(id=3, code="S", kind="school", school_id=None),
}


def inputs(*rows: dict):
    return [parse_member_row(row(i, **cells), today=TODAY)[0] for i, cells in enumerate(rows, start=2)]


@pytest.mark.parametrize(
    "rows, expected",
    [
        ([{}], []),
        ([{}, dict(id_number=VALID_X)], []),
        ([dict(branch_code="NOPE")], [(2, "branch_code", "branch_missing")]),
        ([dict(branch_code="S")], [(2, "branch_code", "branch_not_branch_level")]),
        ([{}, dict(name="李四")], [(3, "id_number", "duplicate")]),
        ([dict(id_number=VALID_X), dict(id_number=VALID_X.lower())], [(3, "id_number", "duplicate")]),
    ],
)
def test_resolve_members_errors(rows, expected):
    _, errors = resolve_members(inputs(*rows), BRANCHES, {})
    assert [(e.line, e.column, e.rule) for e in errors] == expected


def test_duplicate_message_is_masked():
    _, (e,) = resolve_members(inputs({}, {}), BRANCHES, {})
    assert VALID not in e.message and "440524********0014" in e.message and "第2行" in e.message


def test_plans_school_and_actions():
    plans, errors = resolve_members(
        inputs(dict(graduation_year="2024"), dict(id_number=VALID_X.lower(), branch_code="T1")), BRANCHES, {}
    )
    assert errors == []
    assert [(p.id_number, p.branch_id, p.school_id, p.graduation_year, p.action) for p in plans] == [
        (VALID, 10, 3, 2024, "create"),
        (VALID_X, 11, None, None, "create"),
    ]
    snap = MemberSnapshot(
        id=1,
        id_number=VALID,
        name="张三",
        branch_id=10,
        school_id=3,
        joined_on=None,
        graduation_year=2024,
        hukou_address=None,
        residence_address=None,
        phone=None,
        email=None,
    )
    (plan,), _ = resolve_members(inputs(dict(graduation_year="2024")), BRANCHES, {VALID: snap})
    assert plan.action == "unchanged"
    (plan,), _ = resolve_members(inputs(dict(graduation_year="2024", branch_code="T1")), BRANCHES, {VALID: snap})
    assert plan.action == "update" and plan.changed == ("branch_id", "school_id") and plan.old_branch_id == 10


def test_absent_column_keeps_the_stored_value():
    snap = MemberSnapshot(
        id=1,
        id_number=VALID,
        name="张三",
        branch_id=10,
        school_id=3,
        joined_on=date(2015, 5, 4),
        graduation_year=2024,
        hukou_address="户籍",
        residence_address=None,
        phone="13800138000",
        email="zhangsan@example.com",
    )
    present = ["id_number", "name", "branch_code"]
    inp, _ = parse_member_row(Row(2, {"id_number": VALID, "name": "张三", "branch_code": "B1"}), present, today=TODAY)
    (plan,), _ = resolve_members([inp], BRANCHES, {VALID: snap})
    assert plan.action == "unchanged" and plan.phone == "13800138000" and plan.joined_on == date(2015, 5, 4)
    assert plan.email == "zhangsan@example.com"
    # present but empty clears
    (plan,), _ = resolve_members(inputs({}), BRANCHES, {VALID: snap})
    assert plan.action == "update" and plan.phone is None and plan.email is None
