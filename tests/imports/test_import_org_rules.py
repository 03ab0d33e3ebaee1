"""Table-driven tests of the pure org import rules (parse_org_row, resolve_orgs)."""

from __future__ import annotations

import pytest

from imports.org_resolve import resolve_orgs
from imports.org_rows import ORG_COLUMNS, OrgSnapshot, parse_org_row
from imports.reader import Row


def row(line: int = 2, **cells: str) -> Row:
    return Row(line=line, cells={c: cells.get(c, "") for c in ORG_COLUMNS})


def parse(**cells: str):
    return parse_org_row(row(**cells))


@pytest.mark.parametrize(
    "cells, expected",
    [
        (dict(code="HB", name="湖北省团委", kind="province"), []),
        (dict(code="HB", name="湖北省团委", kind="省级团委"), []),
        (dict(code="HB", name="湖北省团委", kind="PROVINCE"), []),
        (dict(code="", name="x", kind="province"), [("code", "required")]),
        (dict(code="a b", name="x", kind="province"), [("code", "pattern")]),
        (dict(code="甲", name="x", kind="province"), [("code", "pattern")]),
        (dict(code="A" * 65, name="x", kind="province"), [("code", "too_long")]),
        (dict(code="A" * 64, name="x", kind="province"), []),
        (dict(code="A", name="", kind="province"), [("name", "required")]),
        (dict(code="A", name="x" * 201, kind="province"), [("name", "too_long")]),
        (dict(code="A", name="x", kind=""), [("kind", "required")]),
        (dict(code="A", name="x", kind="xyz"), [("kind", "unknown_kind")]),
        (dict(code="A", name="x", kind="city", parent_code="b c"), [("parent_code", "pattern")]),
        (dict(code="A", name="x", kind="province", partition="shanghai"), [("partition", "unknown_partition")]),
        (dict(code="A", name="x", kind="province", partition="北京"), []),
        (dict(code="A", name="x", kind="province", province="省" * 65), [("province", "too_long")]),
        (dict(code="A", name="x", kind="province", address="址" * 301), [("address", "too_long")]),
        (dict(code="A", name="x", kind="province", can_receive="maybe"), [("can_receive", "boolean")]),
        (dict(code="A", name="x", kind="township", contact_phone="027-87654321"), []),
        (dict(code="A", name="x", kind="township", contact_phone="转分机"), [("contact_phone", "phone_format")]),
        (dict(code="A", name="x", kind="township", contact_phone="1" * 33), [("contact_phone", "too_long")]),
        (dict(code="A", name="x", kind="township", contact_address="关山街道办事处302室"), []),
        (dict(code="A", name="x", kind="township", contact_address="址" * 301), [("contact_address", "too_long")]),
        (dict(code="A", name="x", kind="branch", new_student="2"), [("new_student", "boolean")]),
        (dict(code="A", name="x", kind="school", new_student="true"), [("new_student", "new_student_kind")]),
        (dict(code="A", name="x", kind="branch", new_student="true"), []),
        (
            dict(code="", name="", kind="nope", can_receive="x"),
            [("code", "required"), ("name", "required"), ("kind", "unknown_kind"), ("can_receive", "boolean")],
        ),
    ],
)
def test_parse_org_row(cells, expected):
    _, errors = parse(**cells)
    assert [(e.column, e.rule) for e in errors] == expected
    assert all(e.line == 2 for e in errors)


@pytest.mark.parametrize(
    "text, value",
    [
        ("", None),
        ("true", True),
        ("TRUE", True),
        ("是", True),
        ("1", True),
        ("false", False),
        ("False", False),
        ("否", False),
        ("0", False),
    ],
)
def test_booleans(text, value):
    inp, errors = parse(code="A", name="x", kind="branch", can_receive=text, new_student=text)
    assert errors == []
    assert inp.can_receive is value and inp.new_student is value


def test_unknown_kind_message_lists_the_kinds():
    _, (e,) = parse(code="A", name="x", kind="xyz")
    assert '"xyz"' in e.message and "province" in e.message and "special_unit_db" in e.message


def inputs(*rows: dict):
    out = []
    for i, cells in enumerate(rows, start=2):
        inp, _ = parse_org_row(row(i, **cells))
        out.append(inp)
    return out


DB = {
    "HB": OrgSnapshot(
        id=1,
        code="HB",
        name="湖北省团委",
        kind="province",
        parent_code=None,
        partition="national",
        province="湖北省",
        approval_authority=True,
    ),
    "WH": OrgSnapshot(
        id=2,
        code="WH",
        name="武汉市团委",
        kind="city",
        parent_code="HB",
        partition="national",
        province="湖北省",
        city="武汉市",
        approval_authority=True,
    ),
    "BJ": OrgSnapshot(
        id=3,
        code="BJ",
        name="北京市团委",
        kind="province",
        parent_code=None,
        partition="beijing",
        province="北京市",
        approval_authority=True,
    ),
}


@pytest.mark.parametrize(
    "rows, expected",
    [
        # parents in the database or the file, any order
        ([dict(code="WC", name="武昌区团委", kind="county", parent_code="WH")], []),
        (
            [
                dict(code="S1", name="学校", kind="school", parent_code="WC"),
                dict(code="WC", name="武昌区团委", kind="county", parent_code="WH"),
            ],
            [],
        ),
        # a malformed parent code is reported once, by the cell check
        ([dict(code="X", name="x", kind="county", parent_code="a b")], []),
        # missing parent, root-only kind with a parent, parent required
        ([dict(code="X", name="x", kind="county", parent_code="NOPE")], [(2, "parent_code", "parent_missing")]),
        ([dict(code="X", name="x", kind="province", parent_code="HB")], [(2, "parent_code", "parent_kind")]),
        ([dict(code="X", name="x", kind="city")], [(2, "parent_code", "parent_required")]),
        # wrong parent kind, from the database and from the file
        ([dict(code="V", name="村", kind="village", parent_code="WH")], [(2, "parent_code", "parent_kind")]),
        (
            [
                dict(code="C", name="学院", kind="college", parent_code="WC"),
                dict(code="WC", name="武昌区团委", kind="county", parent_code="WH"),
            ],
            [(2, "parent_code", "parent_kind")],
        ),
        # the parent row is broken itself: only its own error
        (
            [
                dict(code="P", name="x", kind="xyz", parent_code="WH"),
                dict(code="C", name="c", kind="branch", parent_code="P"),
            ],
            [],
        ),
        # duplicates
        (
            [
                dict(code="WC", name="a", kind="county", parent_code="WH"),
                dict(code="WC", name="b", kind="county", parent_code="WH"),
            ],
            [(3, "code", "duplicate")],
        ),
        # cycles: self, two rows, through the database
        ([dict(code="E", name="e", kind="enterprise", parent_code="E")], [(2, "parent_code", "cycle")]),
        (
            [
                dict(code="E1", name="e", kind="enterprise", parent_code="E2"),
                dict(code="E2", name="e", kind="enterprise", parent_code="E1"),
            ],
            [(2, "parent_code", "cycle"), (3, "parent_code", "cycle")],
        ),
        (
            [dict(code="HB", name="湖北", kind="province", parent_code="WH")],
            [(2, "parent_code", "parent_kind"), (2, "parent_code", "cycle")],
        ),
        # partitions
        ([dict(code="BJ1", name="x", kind="city", parent_code="BJ")], []),
        (
            [dict(code="BJ1", name="x", kind="city", parent_code="BJ", partition="national")],
            [(2, "partition", "partition_mismatch")],
        ),
        ([dict(code="GD", name="广东", kind="province", partition="guangdong")], []),
    ],
)
def test_resolve_orgs_errors(rows, expected):
    _, errors = resolve_orgs(inputs(*rows), DB)
    assert sorted((e.line, e.column, e.rule) for e in errors) == sorted(expected)


def test_cycle_through_the_database():
    db = dict(DB)
    db["E1"] = OrgSnapshot(id=10, code="E1", name="e1", kind="enterprise", parent_code="WH", partition="national")
    db["E2"] = OrgSnapshot(id=11, code="E2", name="e2", kind="enterprise", parent_code="E1", partition="national")
    _, errors = resolve_orgs(inputs(dict(code="E1", name="e1", kind="enterprise", parent_code="E2")), db)
    assert [(e.line, e.rule) for e in errors] == [(2, "cycle")]
    assert "E1 → E2 → E1" in errors[0].message


def test_inheritance_and_depth():
    plans, errors = resolve_orgs(
        inputs(
            dict(code="B1", name="支部", kind="branch", parent_code="T1", address="某路1号"),
            dict(code="T1", name="街道", kind="township", parent_code="WC", township="中南路街道"),
            dict(code="WC", name="武昌区团委", kind="county", parent_code="WH", county="武昌区", can_receive="否"),
            dict(code="BJ1", name="朝阳", kind="county", parent_code="BJ", city="北京市"),
        ),
        DB,
    )
    assert errors == []
    by = {p.code: p for p in plans}
    assert [p.code for p in plans] == ["B1", "T1", "WC", "BJ1"]
    assert (by["WC"].depth, by["T1"].depth, by["B1"].depth, by["BJ1"].depth) == (0, 1, 2, 0)
    b1 = by["B1"]
    assert (b1.province, b1.city, b1.county, b1.township) == ("湖北省", "武汉市", "武昌区", "中南路街道")
    assert b1.partition == "national" and b1.address == "某路1号"
    assert b1.branch_level and not b1.approval_authority and b1.can_receive and not b1.new_student
    assert not by["WC"].can_receive and by["WC"].approval_authority and not by["WC"].branch_level
    assert by["BJ1"].partition == "beijing" and by["BJ1"].province == "北京市"
    assert all(p.action == "create" for p in plans)


def test_root_defaults_to_national():
    (plan,), errors = resolve_orgs(inputs(dict(code="X", name="x", kind="province")), {})
    assert errors == [] and plan.partition == "national" and plan.parent_code is None


def test_unchanged_update_and_absent_columns():
    existing = dict(DB)
    same = inputs(dict(code="WH", name="武汉市团委", kind="city", parent_code="HB", city="武汉市"))
    (plan,), errors = resolve_orgs(same, existing)
    assert errors == [] and plan.action == "unchanged"
    renamed = inputs(dict(code="WH", name="武汉市委", kind="city", parent_code="HB", city="武汉市"))
    (plan,), _ = resolve_orgs(renamed, existing)
    assert plan.action == "update" and plan.changed == ("name",)
    # an explicit empty address clears it; an absent address column keeps it
    existing["WH"] = OrgSnapshot(**{**DB["WH"].__dict__, "address": "江汉路1号"})
    (plan,), _ = resolve_orgs(same, existing)
    assert plan.action == "update" and plan.address is None
    inp, _ = parse_org_row(
        Row(2, {"code": "WH", "name": "武汉市团委", "kind": "city", "parent_code": "HB", "city": "武汉市"}),
        ["code", "name", "kind", "parent_code", "city"],
    )
    (plan,), _ = resolve_orgs([inp], existing)
    assert plan.action == "unchanged" and plan.address == "江汉路1号"


def test_kind_change_guards():
    db = dict(DB)
    db["B"] = OrgSnapshot(
        id=20, code="B", name="b", kind="branch", parent_code="WH", partition="national", branch_level=True
    )
    rows = inputs(dict(code="B", name="b", kind="county", parent_code="WH"))
    _, errors = resolve_orgs(rows, db, orgs_with_members={"B"})
    assert [(e.column, e.rule) for e in errors] == [("kind", "kind_has_members")]
    rows = inputs(dict(code="WH", name="w", kind="county", parent_code="HB"))
    _, errors = resolve_orgs(rows, db, db_children={"WH": [("T", "township"), ("S", "school"), ("Y", "city")]})
    assert [(e.column, e.rule) for e in errors] == [("kind", "kind_children")]
    assert "Y" in errors[0].message and "T" not in errors[0].message.split("下级组织")[1].split("不能")[0]
