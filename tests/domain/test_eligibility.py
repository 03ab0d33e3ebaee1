"""Age rules (DOMAIN.md §3): members 14–28, graduates under 28 in the graduation month."""

from __future__ import annotations

from datetime import date

import pytest

from domain.eligibility import age_on, graduate_transfer_problem, member_age_problem
from domain.idcard import make_id

TODAY = date(2026, 7, 1)


def born(y: int, m: int, d: int) -> str:
    return make_id("420111", date(y, m, d), 17)


@pytest.mark.parametrize(
    "birth, day, age",
    [
        (date(2000, 7, 1), date(2026, 6, 30), 25),
        (date(2000, 7, 1), date(2026, 7, 1), 26),
        (date(2004, 2, 29), date(2026, 2, 28), 21),  # leap-day birthday: a year older on 03-01
        (date(2004, 2, 29), date(2026, 3, 1), 22),
        (date(2004, 2, 29), date(2028, 2, 29), 24),
        (date(2026, 5, 1), date(2026, 6, 1), 0),
        (date(2026, 7, 2), date(2026, 7, 1), 0),  # never negative
    ],
)
def test_age_on(birth, day, age):
    assert age_on(birth, day) == age


@pytest.mark.parametrize(
    "id_number, problem",
    [
        (born(2012, 7, 1), None),  # 14 today
        (born(2012, 7, 2), "未满14周岁"),  # 13, turns 14 tomorrow
        (born(1997, 7, 2), None),  # 28, turns 29 tomorrow: 14..28 inclusive
        (born(1998, 7, 1), None),  # 28 today
        (born(1997, 7, 1), "已超过28周岁"),  # 29 today
        ("11010519491231002X", "已超过28周岁"),  # valid checksum, born 1949
        ("440524188001010014", "已超过28周岁"),  # valid checksum, born 1880
        ("130402198207290622", "校验位"),
        ("4201112003010", "18位"),
        ("420111200302300011", "不是有效日期"),
    ],
)
def test_member_age_problem(id_number, problem):
    got = member_age_problem(id_number, TODAY)
    if problem is None:
        assert got is None, got
    else:
        assert got is not None and problem in got


def test_member_age_problem_says_the_age():
    assert "现年29周岁" in member_age_problem(born(1997, 7, 1), TODAY)


# First day of the graduation month (default July) is the day of measure: age there must be < 28.
@pytest.mark.parametrize(
    "id_number, year, month, problem",
    [
        (born(2003, 5, 20), 2026, 7, None),  # 23
        (born(1998, 7, 2), 2026, 7, None),  # 28th birthday on 07-02: still 27 on 07-01
        (born(1998, 7, 1), 2026, 7, "已满28周岁"),  # 28th birthday on the first day of the month
        (born(1998, 6, 30), 2026, 7, "已满28周岁"),
        (born(1998, 6, 30), 2026, 6, None),  # June graduation: 27 on 06-01, 28 on 06-30
        (born(1998, 6, 1), 2026, 6, "已满28周岁"),
        (born(1998, 12, 31), 2026, 12, None),  # December graduation, 28 on the last day
        (born(1999, 1, 1), 2027, 1, "已满28周岁"),
        ("11010519491231002X", 2026, 7, "已满76周岁"),
        ("440524188001010014", 2026, 7, "已满146周岁"),
        ("130402198207290622", 2026, 7, "校验位"),
        (born(2003, 5, 20), 2026, 13, "毕业月份13无效"),
    ],
)
def test_graduate_transfer_problem(id_number, year, month, problem):
    got = graduate_transfer_problem(id_number, year, month, today=TODAY)
    if problem is None:
        assert got is None, got
    else:
        assert got is not None and problem in got, got


def test_graduate_rule_ignores_age_on_the_day_of_transfer():
    # 28 since 2026-07-02, but was 27 on 2026-07-01: moved even in October.
    assert graduate_transfer_problem(born(1998, 7, 2), 2026, today=date(2026, 10, 8)) is None


def test_graduate_message_is_chinese_and_dated():
    msg = graduate_transfer_problem(born(1998, 7, 1), 2026, today=TODAY)
    assert (
        msg
        == "毕业学生团员须在毕业当月未满28周岁方可办理学社衔接转接；该团员出生于1998年7月1日，2026年7月1日已满28周岁"
    )


# ---- who may use 学社衔接 (DOMAIN.md, after §7) ----------------------------------------------------

from domain.directory import Directory, OrgInfo  # noqa: E402
from domain.eligibility import NO_GRADUATION_YEAR_MESSAGE, campaign_year, xueshe_problem  # noqa: E402

TREE = Directory(
    [
        OrgInfo("HB", "湖北省团委", "province"),
        OrgInfo("WH", "武汉市团委", "city", "HB"),
        OrgInfo("HS", "洪山区团委", "county", "WH"),
        OrgInfo("GS", "关山街道团工委", "township", "HS"),
        OrgInfo("GS-TMP", "关山街道学社衔接临时团支部", "temp_branch", "GS"),
        OrgInfo("HS-TMP", "洪山区学社衔接临时团支部", "temp_branch", "HS"),
        OrgInfo("GS-V", "关山村团支部", "village", "GS"),
        OrgInfo("WHU", "武汉大学团委", "school", "WH"),
        OrgInfo("WHU-CS", "计算机学院团委", "college", "WHU"),
        OrgInfo("WHU-CS-1", "2022级1班团支部", "branch", "WHU-CS"),
        OrgInfo("WHU-MOB", "毕业学生流动团员团支部", "mobile_branch", "WHU"),
        OrgInfo("WHU-ABR", "出国（境）学习研究团员团支部", "abroad_study_branch", "WHU"),
        OrgInfo("WHU-DLY", "延迟毕业团支部", "delayed_branch", "WHU"),
        OrgInfo("DFM", "东风公司团委", "enterprise", "WH"),
        OrgInfo("DFM-1", "东风公司第一团支部", "branch", "DFM"),
        OrgInfo("HB-SU", "特殊单位专属库", "special_unit_db", "HB"),
    ]
)


@pytest.mark.parametrize(
    "today, year",
    [(date(2026, 5, 31), 2025), (date(2026, 6, 1), 2026), (date(2026, 12, 31), 2026), (date(2027, 1, 1), 2026)],
)
def test_campaign_year_runs_from_june_to_may(today, year):
    assert campaign_year(today) == year


JULY_2026 = date(2026, 7, 10)


@pytest.mark.parametrize(
    "branch, graduation_year, fragment",
    [
        ("WHU-CS-1", 2026, None),  # this year's graduate
        ("WHU-CS-1", 2024, None),  # an earlier graduate still at school: overdue, not ineligible
        ("WHU-MOB", 2026, None),  # kept at school as 流动团员
        ("WHU-ABR", 2026, None),  # abroad-study retention
        ("WHU-DLY", 2026, None),  # a delayed graduate whose year has come
        ("GS-TMP", None, None),  # held in a township temp branch: must be moved on
        ("HS-TMP", 2020, None),  # ... or a county one
        ("WHU-CS-1", 2027, "2027年毕业"),  # a later year's student
        ("WHU-DLY", 2027, "已标记延迟毕业"),  # a delayed graduate who has not graduated yet
        ("WHU-CS-1", None, "graduation_year"),  # no graduation year: says what to import
        ("DFM-1", 2026, "不是学校团组织下的团支部"),  # an enterprise employee
        ("GS-V", 2026, "不是学校团组织下的团支部"),  # a village member
        ("HB-SU", 2026, "特殊单位专属库"),  # moved offline (§I.3)
    ],
)
def test_who_may_use_xueshe(branch, graduation_year, fragment):
    got = xueshe_problem(TREE, TREE[branch], graduation_year, today=JULY_2026)
    if fragment is None:
        assert got is None
    else:
        assert got is not None and fragment in got, got


def test_a_missing_graduation_year_names_the_import_column():
    assert xueshe_problem(TREE, TREE["WHU-CS-1"], None, today=JULY_2026) == NO_GRADUATION_YEAR_MESSAGE
    assert "graduation_year" in NO_GRADUATION_YEAR_MESSAGE


def test_next_years_graduate_becomes_eligible_on_june_first():
    assert xueshe_problem(TREE, TREE["WHU-CS-1"], 2027, today=date(2027, 5, 31)) is not None
    assert xueshe_problem(TREE, TREE["WHU-CS-1"], 2027, today=date(2027, 6, 1)) is None
