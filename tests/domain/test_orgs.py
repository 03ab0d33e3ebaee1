"""Org kinds, where each may hang, and the directory's navigation (DOMAIN.md §2)."""

from __future__ import annotations

import pytest

from domain.directory import Directory, OrgInfo
from domain.orgs import KIND_RULES, OrgKind, parent_allowed, rule_for

K = OrgKind


@pytest.mark.parametrize(
    "kind, parent, allowed",
    [
        (K.PROVINCE, None, True),
        (K.PROVINCE, K.PROVINCE, False),
        (K.CITY, None, False),  # only a province may be a root
        (K.CITY, K.PROVINCE, True),
        (K.COUNTY, K.CITY, True),
        (K.COUNTY, K.PROVINCE, True),
        (K.COUNTY, K.COUNTY, False),
        (K.TOWNSHIP, K.COUNTY, True),
        (K.TOWNSHIP, K.CITY, True),
        (K.TOWNSHIP, K.PROVINCE, False),
        (K.VILLAGE, K.TOWNSHIP, True),
        (K.VILLAGE, K.COUNTY, False),
        (K.SCHOOL, K.COUNTY, True),
        (K.SCHOOL, K.TOWNSHIP, False),
        (K.COLLEGE, K.SCHOOL, True),
        (K.COLLEGE, K.COLLEGE, False),
        (K.ENTERPRISE, K.ENTERPRISE, True),
        (K.ENTERPRISE, K.SCHOOL, False),
        (K.BRANCH, K.COLLEGE, True),
        (K.BRANCH, K.TOWNSHIP, True),
        (K.BRANCH, K.VILLAGE, False),
        (K.BRANCH, K.BRANCH, False),
        (K.TEMP_BRANCH, K.TOWNSHIP, True),
        (K.TEMP_BRANCH, K.COUNTY, True),  # the county-level temp branch (§I.1)
        (K.TEMP_BRANCH, K.CITY, False),
        (K.MOBILE_BRANCH, K.SCHOOL, True),
        (K.MOBILE_BRANCH, K.COLLEGE, False),
        (K.ABROAD_STUDY_BRANCH, K.SCHOOL, True),
        (K.DELAYED_BRANCH, K.SCHOOL, True),
        (K.SPECIAL_UNIT_DB, K.PROVINCE, True),
        (K.SPECIAL_UNIT_DB, K.CITY, False),
        ("branch", "school", True),  # plain strings work too
    ],
)
def test_parent_allowed(kind, parent, allowed):
    assert parent_allowed(kind, parent) is allowed


@pytest.mark.parametrize(
    "kind, branch_level, approves",
    [
        (K.PROVINCE, False, True),
        (K.CITY, False, True),
        (K.COUNTY, False, True),
        (K.TOWNSHIP, False, True),
        (K.VILLAGE, True, True),  # holds members and decides for itself
        (K.SCHOOL, False, True),
        (K.COLLEGE, False, True),
        (K.ENTERPRISE, False, True),
        (K.BRANCH, True, False),
        (K.TEMP_BRANCH, True, False),
        (K.MOBILE_BRANCH, True, False),
        (K.ABROAD_STUDY_BRANCH, True, False),
        (K.DELAYED_BRANCH, True, False),
        (K.SPECIAL_UNIT_DB, True, False),
    ],
)
def test_kind_rules(kind, branch_level, approves):
    rule = rule_for(str(kind))
    assert (rule.branch_level, rule.approves) == (branch_level, approves)


def test_every_kind_has_a_rule():
    assert set(KIND_RULES) == set(OrgKind)


@pytest.mark.parametrize("call", [lambda: rule_for("party"), lambda: parent_allowed("party", None)])
def test_unknown_kinds_are_refused(call):
    with pytest.raises(ValueError):
        call()


# ---- the directory ------------------------------------------------------------------------------
def _org(code: str, kind: OrgKind, parent: str | None = None, **kw) -> OrgInfo:
    rule = KIND_RULES[kind]
    kw.setdefault("approval_authority", rule.approves)
    return OrgInfo(code, f"{code}团组织", str(kind), parent, branch_level=rule.branch_level, **kw)


DIRECTORY = Directory(
    [
        _org("HB", K.PROVINCE, province="湖北省", id=1),
        _org("WH", K.CITY, "HB", province="湖北省", city="武汉市", id=2),
        _org("HS", K.COUNTY, "WH", province="湖北省", city="武汉市", county="洪山区"),
        _org("WHU", K.SCHOOL, "HB", province="湖北省"),
        _org("WHU-CS", K.COLLEGE, "WHU", province="湖北省"),
        _org("WHU-CS-1", K.BRANCH, "WHU-CS", province="湖北省"),
        _org("WHU-X", K.COLLEGE, "WHU", approval_authority=False),  # a committee without authority
        _org("WHU-X-1", K.BRANCH, "WHU-X"),
        _org("LONE", K.BRANCH),  # no parent, no authority anywhere above
        _org("LOOP-A", K.BRANCH, "LOOP-B"),  # a broken directory: a parent cycle
        _org("LOOP-B", K.BRANCH, "LOOP-A"),
    ]
)


@pytest.mark.parametrize(
    "code, approver",
    [
        ("WHU-CS-1", "WHU-CS"),  # a branch: its nearest committee with authority
        ("WHU-CS", "WHU-CS"),  # a committee with authority decides for itself
        ("WHU-X-1", "WHU"),  # skips an ancestor without authority
        ("WHU-X", "WHU"),
        ("LONE", "LONE"),  # nobody above has authority: the org itself
        ("LOOP-A", "LOOP-A"),
    ],
)
def test_approver(code, approver):
    assert DIRECTORY.approver(DIRECTORY[code]).code == approver


@pytest.mark.parametrize(
    "code, kind, nearest",
    [
        ("WHU-CS-1", K.SCHOOL, "WHU"),
        ("WHU-CS-1", K.PROVINCE, "HB"),
        ("WHU", K.SCHOOL, "WHU"),  # the org itself counts
        ("WHU", "province", "HB"),
        ("HS", K.SCHOOL, None),
        ("LOOP-A", K.PROVINCE, None),
    ],
)
def test_nearest(code, kind, nearest):
    found = DIRECTORY.nearest(DIRECTORY[code], kind)
    assert (found.code if found else None) == nearest


@pytest.mark.parametrize(
    "code, ancestors",
    [
        ("WHU-CS-1", ["WHU-CS", "WHU", "HB"]),  # parent first, root last
        ("HB", []),
        ("LOOP-A", ["LOOP-B"]),  # a cycle ends instead of looping
    ],
)
def test_ancestors(code, ancestors):
    org = DIRECTORY[code]
    assert [a.code for a in DIRECTORY.ancestors(org)] == ancestors
    assert all(DIRECTORY.is_ancestor(a, org) for a in ancestors)
    assert not DIRECTORY.is_ancestor(code, org)


@pytest.mark.parametrize(
    "kind, region, codes",
    [
        (K.COUNTY, {"county": "洪山区"}, ["HS"]),
        (K.CITY, {"province": "湖北省", "city": "武汉市", "county": None}, ["WH"]),  # None is ignored
        (K.COUNTY, {"county": "武昌区"}, []),
        (None, {"city": "武汉市"}, ["WH", "HS"]),
    ],
)
def test_find(kind, region, codes):
    assert [o.code for o in DIRECTORY.find(kind=kind, **region)] == codes


def test_lookups():
    hb = DIRECTORY["HB"]
    assert DIRECTORY.get(None) is None and DIRECTORY.get("NONE") is None and DIRECTORY.get("HB") is hb
    assert DIRECTORY.by_id(1) is hb and DIRECTORY.by_id(None) is None and DIRECTORY.by_id(99) is None
    assert "WHU" in DIRECTORY and "NONE" not in DIRECTORY and len(DIRECTORY) == 11
    assert [c.code for c in DIRECTORY.children(DIRECTORY["WHU"])] == ["WHU-CS", "WHU-X"]
    assert sorted(o.code for o in DIRECTORY.descendants(DIRECTORY["WHU"])) == ["WHU-CS", "WHU-CS-1", "WHU-X", "WHU-X-1"]
    assert DIRECTORY["WHU"].kind_enum is K.SCHOOL
