"""Holding timeline and the school's special branches (DOMAIN.md §6)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from domain.deadlines import SHANGHAI, add_months
from domain.directory import OrgInfo as _Org
from domain.holdings import (
    DEFAULT_HOLDING_POLICY,
    HoldingKind,
    HoldingPolicy,
    HoldingStatus,
    RetentionStatus,
    holding_policy_for,
    school_branch_code,
    school_branch_name,
    school_placement,
)
from domain.orgs import OrgKind

DAY = timedelta(days=1)


def sh(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def test_default_policy_is_six_months_and_one_year_with_reminders_30_and_7_days_before():
    p = DEFAULT_HOLDING_POLICY
    start = sh(2026, 7, 26, 9, 0)
    assert p.due_at(HoldingKind.MOBILE, start) == sh(2027, 1, 26, 9, 0)
    assert p.due_at(HoldingKind.COUNTY_TEMP, start) == sh(2027, 7, 26, 9, 0)
    due = p.due_at(HoldingKind.MOBILE, start)
    assert p.reminders(start, due) == [(due - 30 * DAY, 30 * DAY), (due - 7 * DAY, 7 * DAY)]


def test_month_end_is_clamped_on_the_shanghai_calendar():
    # 08-31 + 6 months = 02-28 (Shanghai), even when the instant is 08-30 in UTC
    start = sh(2026, 8, 31, 1, 0)
    assert start.astimezone(UTC).day == 30
    assert DEFAULT_HOLDING_POLICY.due_at("mobile", start) == sh(2027, 2, 28, 1, 0)


def test_scaled_policy_shrinks_the_whole_timeline():
    start = sh(2026, 7, 26)
    p = holding_policy_for(2_592_000)  # 30 days → one second
    real = add_months(start, 6) - start
    due = p.due_at(HoldingKind.MOBILE, start)
    assert due - start == real / 2_592_000
    (first, before1), (second, before7) = p.reminders(start, due)
    assert (before1, before7) == (30 * DAY, 7 * DAY)  # unscaled, for the reminder text
    assert due - first == timedelta(seconds=1)
    assert start < first < second < due
    assert holding_policy_for(1.0) is DEFAULT_HOLDING_POLICY
    assert p.scaled(2).time_scale == 2 * 2_592_000


def test_reminders_before_the_start_are_dropped_and_offsets_sorted():
    p = HoldingPolicy(mobile_months=1, remind_before=(7 * DAY, 40 * DAY, 7 * DAY))
    assert p.remind_before == (40 * DAY, 7 * DAY)
    start = sh(2026, 2, 1)
    due = p.due_at(HoldingKind.MOBILE, start)
    assert p.reminders(start, due) == [(due - 7 * DAY, 7 * DAY)]


@pytest.mark.parametrize("bad", [dict(time_scale=0), dict(remind_before=(timedelta(0),)), dict(mobile_months=0)])
def test_policy_refuses_nonsense(bad):
    with pytest.raises(ValueError):
        HoldingPolicy(**bad)
    with pytest.raises(ValueError):
        DEFAULT_HOLDING_POLICY.scaled(-1)


# ---- §I.4 [decision]: the 6 months at school run from graduation (06-30 of the graduation year) -----


@pytest.mark.parametrize(
    "case, policy, year, ends_on",
    [
        ("default", DEFAULT_HOLDING_POLICY, 2026, date(2026, 12, 30)),
        ("another-year", DEFAULT_HOLDING_POLICY, 2027, date(2027, 12, 30)),
        ("scaled-same-calendar", holding_policy_for(86_400), 2026, date(2026, 12, 30)),
        ("graduation-07-15", HoldingPolicy(graduation_month=7, graduation_day=15), 2026, date(2027, 1, 15)),
        ("graduation-08-31-clamped", HoldingPolicy(graduation_month=8, graduation_day=31), 2027, date(2028, 2, 29)),
        ("three-months", HoldingPolicy(mobile_months=3), 2026, date(2026, 9, 30)),
    ],
)
def test_mobile_holding_ends_months_after_graduation(case, policy, year, ends_on):
    assert policy.graduated_on(year) == date(year, policy.graduation_month, policy.graduation_day)
    assert policy.mobile_ends_on(year) == ends_on


@pytest.mark.parametrize(
    "case, now, left",
    [
        ("on-07-25", sh(2026, 7, 25), 158 * DAY),
        ("after-07-25-wall-time-counts", sh(2026, 8, 15, 9, 30), 137 * DAY - timedelta(hours=9, minutes=30)),
        ("a-date-is-its-shanghai-midnight", date(2026, 11, 20), 40 * DAY),
        ("a-minute-before-the-end", sh(2026, 12, 29, 23, 59), timedelta(minutes=1)),
        ("at-the-end", sh(2026, 12, 30), timedelta(0)),
        ("at-the-end-seen-in-utc", datetime(2026, 12, 29, 16, 0, tzinfo=UTC), timedelta(0)),
        ("the-next-year", date(2027, 3, 1), -61 * DAY),
    ],
)
def test_time_left_of_the_months_at_school(case, now, left):
    p = DEFAULT_HOLDING_POLICY
    assert p.mobile_left(now, 2026) == left
    assert p.mobile_term_over(now, 2026) is (left <= timedelta(0))
    # scaling shrinks the wait, never the calendar
    assert holding_policy_for(86_400).mobile_left(now, 2026) == left
    assert holding_policy_for(86_400).due_after(left) == left / 86_400


def test_marking_refused_once_over_says_to_move_out():
    msg = DEFAULT_HOLDING_POLICY.mobile_term_over_message("张三", 2025)
    assert msg.startswith("张三毕业已满6个月") and "2025-12-30届满" in msg and "应转出团组织关系" in msg
    assert DEFAULT_HOLDING_POLICY.due_after(40 * DAY) == 40 * DAY


@pytest.mark.parametrize("month, day", [(2, 30), (6, 31), (2, 29), (13, 1), (6, 0)])
def test_graduation_day_must_be_a_day_of_every_year(month, day):
    with pytest.raises(ValueError):
        HoldingPolicy(graduation_month=month, graduation_day=day)


def test_statuses():
    assert HoldingStatus.ACTIVE.is_open and HoldingStatus.OVERDUE.is_open and not HoldingStatus.RELEASED.is_open
    assert RetentionStatus.PENDING.is_open and not RetentionStatus.APPROVED.is_open


def test_school_branch_codes_and_names():
    assert school_branch_code("HUST", OrgKind.DELAYED_BRANCH) == "HUST-DLY"
    assert school_branch_code("WHU", "mobile_branch") == "WHU-MOB"
    assert school_branch_code("WHU", OrgKind.ABROAD_STUDY_BRANCH) == "WHU-ABR"
    assert school_branch_name("华中科技大学团委", OrgKind.DELAYED_BRANCH) == "华中科技大学延迟毕业团支部"
    assert school_branch_name("某学院", OrgKind.MOBILE_BRANCH) == "某学院毕业学生流动团员团支部"
    with pytest.raises(ValueError):
        school_branch_code("WHU", "branch")


# ---- §6 placements: one row per flow that keeps the member at school ----------------------------

_WHU = _Org("WHU", "武汉大学团委", "school", "HB", approval_authority=True)
_WHU_CHILDREN = [
    _Org("WHU-ABR", "武汉大学出国（境）学习研究团员团支部", "abroad_study_branch", "WHU", branch_level=True),
    _Org("WHU-MOB", "武汉大学毕业学生流动团员团支部", "mobile_branch", "WHU", branch_level=True),
    _Org("WHU-CS", "武汉大学计算机学院团委", "college", "WHU", approval_authority=True),
]


@pytest.mark.parametrize(
    "case, kind, children, code, exists, clause",
    [
        ("abroad-study-branch-exists", "abroad_study_branch", _WHU_CHILDREN, "WHU-ABR", True, "§I.5"),
        ("abroad-study-branch-created", "abroad_study_branch", [], "WHU-ABR", False, "§I.5"),
        ("unemployed-kept-at-school", "mobile_branch", _WHU_CHILDREN, "WHU-MOB", True, "§I.4"),
        ("unemployed-mobile-branch-created", "mobile_branch", [], "WHU-MOB", False, "§I.4"),
        ("delayed-graduation-first-use", "delayed_branch", _WHU_CHILDREN, "WHU-DLY", False, "§I.7"),
        (
            "delayed-graduation-reused",
            "delayed_branch",
            [_Org("WHU-YCBY", "武汉大学延迟毕业团支部", "delayed_branch", "WHU", branch_level=True)],
            "WHU-YCBY",
            True,
            "§I.7",
        ),
    ],
)
def test_school_placement(case, kind, children, code, exists, clause):
    p = school_placement(kind, _WHU, children)
    assert (p.code, p.exists, p.clause) == (code, exists, clause)
    assert p.explanation.startswith(clause) and p.name.startswith("武汉大学")
