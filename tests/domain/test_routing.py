"""Routing (DOMAIN.md §4): one row per case of the table, each asserting the target and the clause."""

from __future__ import annotations

from dataclasses import fields
from datetime import date
from functools import lru_cache

import pytest

from domain.directory import Directory, OrgInfo
from domain.forms import validate_form
from domain.orgs import KIND_RULES, OrgKind
from domain.partition import PartitionChoice
from domain.routing import TYPE_CLAUSES, bare_name, check_override, route
from domain.transfers import TransferType as T
from seed.demo import EMPLOYER_WITHOUT_ORG, EMPLOYER_WITHOUT_ORG_CLOSED_TOWNSHIP, build_org_tree

NATIONAL = PartitionChoice.national()
BEIJING = PartitionChoice.special("beijing")
GUANGDONG = PartitionChoice.special("guangdong")
JULY = date(2026, 7, 1)
SEPT = date(2026, 9, 1)

_FIELDS = [f.name for f in fields(OrgInfo) if f.name != "id"]


@lru_cache(maxsize=1)
def demo() -> Directory:
    return Directory(OrgInfo(**{n: getattr(o, n) for n in _FIELDS}) for o in build_org_tree())


def org(code: str, name: str, kind: OrgKind, parent: str | None = None, **kw) -> OrgInfo:
    rule = KIND_RULES[kind]
    return OrgInfo(
        code, name, str(kind), parent, branch_level=rule.branch_level, approval_authority=rule.approves, **kw
    )


HB = dict(province="湖北省")


def small() -> Directory:
    """Edge cases the demo tree lacks: a school without a new-student org, a township without a
    temp branch whose county has none either, a school with two new-student orgs."""
    return Directory(
        [
            org("HB", "共青团湖北省委员会", OrgKind.PROVINCE, **HB),
            org("WH", "共青团武汉市委员会", OrgKind.CITY, "HB", city="武汉市", **HB),
            org("HS", "共青团武汉市洪山区委员会", OrgKind.COUNTY, "WH", city="武汉市", county="洪山区", **HB),
            org(
                "HS-QS",
                "洪山区青山街道团工委",
                OrgKind.TOWNSHIP,
                "HS",
                city="武汉市",
                county="洪山区",
                township="青山街道",
                **HB,
            ),
            org("CUG", "中国地质大学（武汉）团委", OrgKind.SCHOOL, "HB", **HB),
            org("CUG-GEO", "中国地质大学（武汉）地球科学学院团委", OrgKind.COLLEGE, "CUG", **HB),
            org("CUG-GEO-1", "地球科学学院2022级1班团支部", OrgKind.BRANCH, "CUG-GEO", **HB),
            org("WUT", "武汉理工大学团委", OrgKind.SCHOOL, "HB", **HB),
            org("WUT-NEW-B", "武汉理工大学2026级本科新生团支部", OrgKind.BRANCH, "WUT", new_student=True, **HB),
            org("WUT-NEW-A", "武汉理工大学2026级研究生新生团支部", OrgKind.BRANCH, "WUT", new_student=True, **HB),
            org(
                "WUT-NEW-X",
                "武汉理工大学2025级新生团支部",
                OrgKind.BRANCH,
                "WUT",
                new_student=True,
                can_receive=False,
                **HB,
            ),
        ]
    )


WHU_BRANCH = "WHU-CS-2022-1"
HUBEI = {"province": "湖北省", "city": "武汉市"}
CLOSED = EMPLOYER_WITHOUT_ORG_CLOSED_TOWNSHIP["location"]  # 江夏区法泗街道: cannot receive
XUEYUAN = {"province": "湖北省", "city": "宜昌市", "county": "西陵区", "township": "学院街道"}
LONGQUAN = {"province": "湖北省", "city": "宜昌市", "county": "夷陵区", "township": "龙泉镇"}
SHIPAI = {"province": "广东省", "city": "广州市", "county": "天河区", "township": "石牌街道"}


def school_form(name: str, loc=HUBEI) -> dict:
    return {"school_name": name, "school_address": "某地", "location": loc}


def employer_form(name: str, loc=HUBEI) -> dict:
    return {"employer_name": name, "employer_address": "某地", "location": loc}


def home_form(loc) -> dict:
    return {"address": "某地某号", "location": loc}


# (id, type, form, kwargs, target, clause, stays_at_school, needs_provincial_node)
ROUTES = [
    # 1 升学 (§I.2)
    (
        "further-study-new-student-org",
        T.FURTHER_STUDY,
        school_form("华中科技大学"),
        {},
        "HUST-NEW-2026",
        "§I.2",
        False,
        False,
    ),
    (
        "further-study-by-code-beijing",
        T.FURTHER_STUDY,
        school_form("北京大学", {"province": "北京市", "city": "北京市"}),
        {"admitting_school_code": "PKU", "partition_choice": BEIJING},
        "PKU-NEW-2026",
        "§I.2",
        False,
        False,
    ),
    ("further-study-school-not-in-system", T.FURTHER_STUDY, school_form("清华大学"), {}, None, "§I.2", True, False),
    # 2 工作单位有团组织 (§I.1)
    (
        "employer-with-org-by-name",
        T.EMPLOYED_WITH_ORG,
        employer_form("东风汽车集团有限公司"),
        {},
        "DFM",
        "§I.1",
        False,
        False,
    ),
    (
        "employer-with-org-by-code-branch",
        T.EMPLOYED_WITH_ORG,
        employer_form("东风公司研发总院"),
        {"employer_org_code": "DFM-RD"},
        "DFM-RD",
        "§I.1",
        False,
        False,
    ),
    (
        "employer-with-org-narrowed-by-city",
        T.EMPLOYED_WITH_ORG,
        employer_form("东风汽车", {"province": "湖北省", "city": "襄阳市"}),
        {},
        "DFM-XY",
        "§I.1",
        False,
        False,
    ),
    (
        "employer-with-org-sub-unit-name",
        T.EMPLOYED_WITH_ORG,
        employer_form("东风汽车集团有限公司襄阳基地总装车间"),
        {},
        "DFM-XY",
        "§I.1",
        False,
        False,
    ),
    # 3 工作单位无团组织 (§I.1)
    (
        "employer-without-org-township",
        T.EMPLOYED_WITHOUT_ORG,
        employer_form(EMPLOYER_WITHOUT_ORG["name"], EMPLOYER_WITHOUT_ORG["location"]),
        {},
        "HB-WH-HS-GS-TMP",
        "§I.1",
        False,
        False,
    ),
    (
        "employer-without-org-closed-township-sept",
        T.EMPLOYED_WITHOUT_ORG,
        employer_form("武汉法泗农业科技发展有限公司", CLOSED),
        {"today": SEPT},
        "HB-WH-JX-TMP",
        "§I.1",
        False,
        False,
    ),
    (
        "employer-without-org-closed-township-later-year",
        T.EMPLOYED_WITHOUT_ORG,
        employer_form("武汉法泗农业科技发展有限公司", CLOSED),
        {"today": date(2027, 3, 1), "graduation_year": 2026},
        "HB-WH-JX-TMP",
        "§I.1",
        False,
        False,
    ),
    # 4 因公出国（境） (§I.6)
    (
        "abroad-official-dispatching-unit",
        T.ABROAD_OFFICIAL,
        employer_form("东风汽车集团有限公司"),
        {},
        "DFM",
        "§I.6",
        False,
        False,
    ),
    (
        "abroad-official-guangdong",
        T.ABROAD_OFFICIAL,
        employer_form("广州汽车集团股份有限公司"),
        {"partition_choice": GUANGDONG},
        "GAC",
        "§I.6",
        False,
        False,
    ),
    # 5 出国（境）学习研究 (§I.5)
    ("abroad-study-stays-at-school", T.ABROAD_STUDY, {}, {}, "WHU-ABR", "§I.5", True, False),
    # 6 因私出国（境） (§I.6)
    ("abroad-private-township", T.ABROAD_PRIVATE, home_form(XUEYUAN), {}, "HB-YC-XL-XY-TMP", "§I.6", False, False),
    (
        "abroad-private-closed-township-sept",
        T.ABROAD_PRIVATE,
        home_form(CLOSED),
        {"today": SEPT},
        "HB-WH-JX-TMP",
        "§I.1",
        False,
        False,
    ),
    # 7 未就业 (§I.4)
    ("unemployed-township", T.UNEMPLOYED, home_form(LONGQUAN), {}, "HB-YC-YL-LQ-TMP", "§I.4", False, False),
    (
        "unemployed-closed-township-october",
        T.UNEMPLOYED,
        home_form(CLOSED),
        {"today": date(2026, 10, 8)},
        "HB-WH-JX-TMP",
        "§I.1",
        False,
        False,
    ),
    (
        "unemployed-guangdong-township",
        T.UNEMPLOYED,
        home_form(SHIPAI),
        {"partition_choice": GUANGDONG},
        "GD-GZ-TH-SP-TMP",
        "§I.4",
        False,
        False,
    ),
    # 8 特殊单位 (§I.3)
    (
        "special-unit-military",
        T.SPECIAL_UNIT,
        {"unit_kind": "military", "joined_unit_on": "2026-09-10"},
        {},
        "HB-SU",
        "§I.3",
        False,
        True,
    ),
    (
        "special-unit-classified",
        T.SPECIAL_UNIT,
        {"unit_kind": "classified", "joined_unit_on": "2026-08-01"},
        {},
        "HB-SU",
        "§I.3",
        False,
        True,
    ),
]


@pytest.mark.parametrize(
    "ttype, form, kwargs, target, clause, stays, provincial",
    [r[1:] for r in ROUTES],
    ids=[r[0] for r in ROUTES],
)
def test_route(ttype, form, kwargs, target, clause, stays, provincial):
    d = demo()
    kwargs = {"today": JULY, "partition_choice": NATIONAL, **kwargs}
    p = route(d, ttype, form, from_org=d[WHU_BRANCH], **kwargs)
    assert p.problems == []
    assert (p.target_code, p.clause, p.stays_at_school, p.needs_provincial_node) == (target, clause, stays, provincial)
    assert p.explanation.startswith(TYPE_CLAUSES[ttype])
    if p.target is not None:
        assert p.explanation.count(p.target.name) == 1


def test_route_accepts_the_validated_form_model():
    d = demo()
    form, problems = validate_form(
        T.EMPLOYED_WITHOUT_ORG, employer_form(EMPLOYER_WITHOUT_ORG["name"], EMPLOYER_WITHOUT_ORG["location"])
    )
    assert problems == []
    p = route(d, T.EMPLOYED_WITHOUT_ORG, form, from_org=d[WHU_BRANCH], today=JULY, partition_choice=NATIONAL)
    assert (
        p.explanation
        == "§I.1 工作单位无团组织 → 工作单位所在地乡镇街道学社衔接临时团支部：洪山区关山街道学社衔接临时团支部"
    )


def test_county_temp_branch_explanation_says_one_year():
    d = demo()
    p = route(d, T.EMPLOYED_WITHOUT_ORG, employer_form("x", CLOSED), from_org=d[WHU_BRANCH], today=SEPT)
    assert "法泗街道团工委暂不能接收" in p.explanation
    assert "县级团组织应当在一年内" in p.explanation


# (id, directory, from_org, type, form, kwargs, clause, stays, problem fragment)
NO_TARGET = [
    (
        "closed-township-before-sept",
        "demo",
        WHU_BRANCH,
        T.EMPLOYED_WITHOUT_ORG,
        employer_form("x", CLOSED),
        {},
        "§I.1",
        False,
        "9月1日前无法转入",
    ),
    (
        "closed-township-aug-31",
        "demo",
        WHU_BRANCH,
        T.UNEMPLOYED,
        home_form(CLOSED),
        {"today": date(2026, 8, 31)},
        "§I.1",
        False,
        "9月1日前无法转入",
    ),
    (
        "township-without-temp-branch-or-county-branch",
        "small",
        "CUG-GEO-1",
        T.UNEMPLOYED,
        home_form({"province": "湖北省", "city": "武汉市", "county": "洪山区", "township": "青山街道"}),
        {"today": SEPT},
        "§I.1",
        False,
        "尚未建立可接收的县级学社衔接临时团支部",
    ),
    (
        "township-not-in-directory",
        "demo",
        WHU_BRANCH,
        T.ABROAD_PRIVATE,
        home_form({"province": "湖北省", "city": "武汉市", "county": "洪山区", "township": "不存在街道"}),
        {},
        "§I.6",
        False,
        "未找到",
    ),
    (
        "employer-org-not-found",
        "demo",
        WHU_BRANCH,
        T.EMPLOYED_WITH_ORG,
        employer_form("武汉某某科技有限公司"),
        {},
        "§I.1",
        False,
        "已落实工作单位（工作单位无团组织）",
    ),
    (
        "employer-ambiguous",
        "demo",
        WHU_BRANCH,
        T.EMPLOYED_WITH_ORG,
        employer_form("东风汽车", {}),
        {},
        "§I.1",
        False,
        "找到多个",
    ),
    (
        "employer-code-wrong-kind",
        "demo",
        WHU_BRANCH,
        T.EMPLOYED_WITH_ORG,
        employer_form("x"),
        {"employer_org_code": "HB-WH-HS-GS-TMP"},
        "§I.1",
        False,
        "学社衔接临时团支部",
    ),
    (
        "school-code-not-a-school",
        "demo",
        WHU_BRANCH,
        T.FURTHER_STUDY,
        school_form("x"),
        {"admitting_school_code": "HUST-CS"},
        "§I.2",
        False,
        "不是学校团委",
    ),
    ("abroad-study-not-at-school", "demo", "DFM-HQ", T.ABROAD_STUDY, {}, {}, "§I.5", True, "不属于学校"),
    ("abroad-study-school-without-branch", "small", "CUG-GEO-1", T.ABROAD_STUDY, {}, {}, "§I.5", True, "尚未建立"),
    (
        "special-unit-no-db-in-province",
        "demo",
        "PKU-SS-2025-1",
        T.SPECIAL_UNIT,
        {"unit_kind": "military"},
        {"partition_choice": BEIJING},
        "§I.3",
        False,
        "尚未建立特殊单位专属库",
    ),
    # partition refused both ways
    (
        "partition-national-but-beijing-school",
        "demo",
        WHU_BRANCH,
        T.FURTHER_STUDY,
        school_form("北京大学"),
        {},
        "§I.2",
        False,
        "属于北京",
    ),
    (
        "partition-beijing-but-hubei-township",
        "demo",
        WHU_BRANCH,
        T.EMPLOYED_WITHOUT_ORG,
        employer_form("x", EMPLOYER_WITHOUT_ORG["location"]),
        {"partition_choice": BEIJING},
        "§I.1",
        False,
        "不是北京的团组织",
    ),
    (
        "partition-national-but-guangdong-township",
        "demo",
        WHU_BRANCH,
        T.UNEMPLOYED,
        home_form(SHIPAI),
        {},
        "§I.4",
        False,
        "属于广东",
    ),
    ("target-is-current-org", "demo", "HB-YC-XL-XY-TMP", T.UNEMPLOYED, home_form(XUEYUAN), {}, "§I.4", False, "相同"),
]


@pytest.mark.parametrize(
    "dir_name, from_code, ttype, form, kwargs, clause, stays, fragment",
    [r[1:] for r in NO_TARGET],
    ids=[r[0] for r in NO_TARGET],
)
def test_route_without_target(dir_name, from_code, ttype, form, kwargs, clause, stays, fragment):
    d = demo() if dir_name == "demo" else small()
    kwargs = {"today": JULY, "partition_choice": NATIONAL, **kwargs}
    p = route(d, ttype, form, from_org=d[from_code], **kwargs)
    assert p.target is None and not p.ok
    assert (p.clause, p.stays_at_school) == (clause, stays)
    assert any(fragment in m for m in p.problems), p.problems


def test_further_study_stays_at_school_until_new_student_org_exists():
    d = small()
    p = route(
        d,
        T.FURTHER_STUDY,
        school_form("中国地质大学(武汉)"),
        from_org=d["CUG-GEO-1"],
        today=SEPT,
        partition_choice=NATIONAL,
    )
    assert (p.target, p.clause, p.stays_at_school, p.problems) == (None, "§I.2", True, [])
    assert "尚未创建新生团组织" in p.explanation
    assert "暂时保留在原就读学校原团组织" in p.explanation


def test_further_study_picks_a_receiving_new_student_org_and_says_there_are_more():
    d = small()
    p = route(d, T.FURTHER_STUDY, school_form("武汉理工大学"), from_org=d["CUG-GEO-1"], today=SEPT)
    assert p.target_code == "WUT-NEW-A"  # first by code among those that can receive
    assert "共有2个新生团组织" in p.explanation


def test_route_without_partition_choice_does_not_filter():
    d = demo()
    p = route(d, T.FURTHER_STUDY, school_form("北京大学"), from_org=d[WHU_BRANCH], today=JULY, partition_choice=None)
    assert p.target_code == "PKU-NEW-2026"


@pytest.mark.parametrize(
    "name, bare",
    [
        ("武汉大学团委", "武汉大学"),
        ("共青团湖北省委员会", "湖北省"),
        ("中国地质大学（武汉）团委", "中国地质大学(武汉)"),
        ("东风汽车集团有限公司 ", "东风汽车集团有限公司"),
        ("团委", "团委"),
    ],
)
def test_bare_name(name, bare):
    assert bare_name(name) == bare


# ---- overrides ---------------------------------------------------------------------------------
# (id, type, target, choice, from_org, refused fragment or None)
OVERRIDES = [
    ("unemployed-village", T.UNEMPLOYED, "HB-WH-HS-GS-GSSQ", NATIONAL, WHU_BRANCH, None),
    ("unemployed-other-temp-branch", T.UNEMPLOYED, "HB-WH-HS-LN-TMP", NATIONAL, WHU_BRANCH, None),
    (
        "employed-without-org-village-refused",
        T.EMPLOYED_WITHOUT_ORG,
        "HB-WH-HS-GS-GSSQ",
        NATIONAL,
        WHU_BRANCH,
        "应转入学社衔接临时团支部",
    ),
    ("employed-without-org-enterprise-refused", T.EMPLOYED_WITHOUT_ORG, "DFM", NATIONAL, WHU_BRANCH, "企事业单位团委"),
    ("abroad-private-village-refused", T.ABROAD_PRIVATE, "HB-YC-YL-LQ-SY", NATIONAL, WHU_BRANCH, "村/社区团组织"),
    ("employed-with-org-branch", T.EMPLOYED_WITH_ORG, "DFM-RD", NATIONAL, WHU_BRANCH, None),
    ("employed-with-org-subsidiary", T.EMPLOYED_WITH_ORG, "DFM-XY", NATIONAL, WHU_BRANCH, None),
    ("employed-with-org-temp-refused", T.EMPLOYED_WITH_ORG, "HB-WH-HS-GS-TMP", NATIONAL, WHU_BRANCH, "工作单位团组织"),
    (
        "employed-with-org-school-branch-refused",
        T.EMPLOYED_WITH_ORG,
        "HUST-CS-2022-1",
        NATIONAL,
        WHU_BRANCH,
        "应转入工作单位团组织",
    ),
    ("abroad-official-enterprise", T.ABROAD_OFFICIAL, "GAC", GUANGDONG, WHU_BRANCH, None),
    ("further-study-new-student", T.FURTHER_STUDY, "HUST-NEW-2026", NATIONAL, WHU_BRANCH, None),
    ("further-study-school", T.FURTHER_STUDY, "HUST", NATIONAL, WHU_BRANCH, None),
    ("further-study-college", T.FURTHER_STUDY, "HUST-CS", NATIONAL, WHU_BRANCH, None),
    ("further-study-class-branch-refused", T.FURTHER_STUDY, "HUST-CS-2022-1", NATIONAL, WHU_BRANCH, "录取学校的团组织"),
    ("abroad-study-own-school", T.ABROAD_STUDY, "WHU-ABR", None, WHU_BRANCH, None),
    ("abroad-study-other-school-refused", T.ABROAD_STUDY, "HUST-ABR", None, WHU_BRANCH, "不是原就读学校"),
    ("abroad-study-mobile-branch-refused", T.ABROAD_STUDY, "WHU-MOB", None, WHU_BRANCH, "毕业学生流动团员团支部"),
    ("special-unit-db", T.SPECIAL_UNIT, "HB-SU", NATIONAL, WHU_BRANCH, None),
    ("special-unit-province-refused", T.SPECIAL_UNIT, "HB", NATIONAL, WHU_BRANCH, "特殊单位专属库"),
    ("closed-temp-branch-refused", T.EMPLOYED_WITHOUT_ORG, "HB-WH-JX-FS-TMP", NATIONAL, WHU_BRANCH, "暂不能接收"),
    ("same-as-current-refused", T.UNEMPLOYED, "HB-YC-XL-XY-TMP", NATIONAL, "HB-YC-XL-XY-TMP", "相同"),
    # partition, both ways
    (
        "partition-national-guangdong-target-refused",
        T.EMPLOYED_WITHOUT_ORG,
        "GD-GZ-TH-SP-TMP",
        NATIONAL,
        WHU_BRANCH,
        "属于广东",
    ),
    ("partition-guangdong-target-ok", T.EMPLOYED_WITHOUT_ORG, "GD-GZ-TH-SP-TMP", GUANGDONG, WHU_BRANCH, None),
    (
        "partition-beijing-national-target-refused",
        T.EMPLOYED_WITHOUT_ORG,
        "HB-WH-HS-GS-TMP",
        BEIJING,
        WHU_BRANCH,
        "不是北京的团组织",
    ),
    ("partition-guangdong-fujian-target-refused", T.FURTHER_STUDY, "XMU-NEW-2026", GUANGDONG, WHU_BRANCH, "属于福建"),
]


@pytest.mark.parametrize(
    "ttype, target, choice, from_code, fragment",
    [r[1:] for r in OVERRIDES],
    ids=[r[0] for r in OVERRIDES],
)
def test_check_override(ttype, target, choice, from_code, fragment):
    d = demo()
    reasons = check_override(d, ttype, d[target], partition_choice=choice, today=SEPT, from_org=d[from_code])
    if fragment is None:
        assert reasons == []
    else:
        assert reasons and any(fragment in r for r in reasons), reasons


def test_override_wrong_kind_and_partition_gives_both_reasons():
    d = demo()
    reasons = check_override(d, T.UNEMPLOYED, d["GAC"], partition_choice=NATIONAL, today=SEPT)
    assert len(reasons) == 2
    assert "未就业" in reasons[0] and "属于广东" in reasons[1]


@pytest.mark.parametrize(
    "today, graduation_year, refused",
    [(JULY, None, True), (SEPT, None, False), (JULY, JULY.year - 1, False), (SEPT, SEPT.year + 1, True)],
    ids=["july", "september", "earlier-graduate-in-july", "next-years-graduate-in-september"],
)
def test_a_county_temp_branch_picked_by_hand_follows_the_september_rule(today, graduation_year, refused):
    """§I.1 从9月份起: routing proposes a county-level temp branch only from 09-01 of the graduation
    year, and an initiator's own pick of one is refused before then too."""
    d = demo()
    county_temp = next(o for o in d if o.kind == "temp_branch" and d[o.parent_code].kind == "county")
    reasons = check_override(
        d, T.UNEMPLOYED, county_temp, partition_choice=NATIONAL, today=today, graduation_year=graduation_year
    )
    assert any("从9月份起" in r for r in reasons) is refused, reasons
