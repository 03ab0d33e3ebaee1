"""Deadline arithmetic on the Asia/Shanghai calendar (DOMAIN.md §5–§7)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from domain.deadlines import (
    SHANGHAI,
    add_months,
    campaign_dates,
    county_temp_branch_allowed,
    days_waiting,
    is_overdue,
    mobile_marking_allowed,
    node_deadlines,
    shanghai_date,
    time_left,
)
from domain.policy import DEFAULT_POLICY, TransferPolicy


def utc(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def sh(*args) -> datetime:
    return datetime(*args, tzinfo=SHANGHAI)


def test_node_deadlines_default_policy():
    start = utc(2026, 7, 1, 3, 0)
    remind, deadline = node_deadlines(start, DEFAULT_POLICY)
    assert (remind, deadline) == (utc(2026, 7, 11, 3, 0), utc(2026, 7, 16, 3, 0))
    assert remind.tzinfo is UTC


def test_node_deadlines_scaled_policy_and_shanghai_input():
    remind, deadline = node_deadlines(sh(2026, 7, 1, 8, 0), DEFAULT_POLICY.scaled(86400))
    assert (remind, deadline) == (utc(2026, 7, 1, 0, 0, 10), utc(2026, 7, 1, 0, 0, 15))


def test_node_deadlines_custom_policy():
    policy = TransferPolicy(remind_after=timedelta(days=1), auto_approve_after=timedelta(days=2))
    assert node_deadlines(utc(2026, 1, 1), policy) == (utc(2026, 1, 2), utc(2026, 1, 3))


def test_naive_datetimes_refused():
    with pytest.raises(ValueError):
        node_deadlines(datetime(2026, 7, 1), DEFAULT_POLICY)
    with pytest.raises(ValueError):
        is_overdue(utc(2026, 7, 1), datetime(2026, 7, 2))


@pytest.mark.parametrize(
    "started, now, days",
    [
        (utc(2026, 7, 1, 1, 0), utc(2026, 7, 1, 15, 59), 0),  # both 07-01 in Shanghai
        (utc(2026, 7, 1, 1, 0), utc(2026, 7, 1, 16, 0), 1),  # 16:00 UTC is 00:00 next day in Shanghai
        (utc(2026, 6, 30, 15, 59), utc(2026, 6, 30, 16, 1), 1),  # two minutes apart, across Shanghai midnight
        (utc(2026, 6, 30, 16, 1), utc(2026, 7, 1, 15, 0), 0),  # different UTC dates, the same Shanghai date
        (utc(2026, 7, 1), utc(2026, 7, 16), 15),
        (utc(2026, 7, 2), utc(2026, 7, 1), 0),  # never negative
    ],
)
def test_days_waiting_counts_shanghai_calendar_days(started, now, days):
    assert days_waiting(started, now) == days


@pytest.mark.parametrize(
    "now, overdue",
    [(utc(2026, 7, 11, 2, 59, 59), False), (utc(2026, 7, 11, 3, 0), True), (sh(2026, 7, 11, 11, 0), True)],
)
def test_is_overdue(now, overdue):
    assert is_overdue(utc(2026, 7, 11, 3, 0), now) is overdue


def test_campaign_dates_are_shanghai_midnights():
    c = campaign_dates(2026)
    got = [c.transfers_open, c.schools_started_by, c.further_study_open, c.receiving_done_by, c.further_study_done_by]
    assert [(d.month, d.day) for d in got] == [(6, 1), (7, 25), (9, 1), (9, 20), (10, 15)]
    assert all(d.astimezone(SHANGHAI).time().isoformat() == "00:00:00" for d in got)
    assert c.further_study_open.astimezone(UTC) == utc(2026, 8, 31, 16, 0)


@pytest.mark.parametrize(
    "now, allowed",
    [
        (utc(2026, 7, 24, 15, 59, 59), False),  # 07-24 23:59:59 Shanghai
        (utc(2026, 7, 24, 16, 0), True),  # 07-25 00:00 Shanghai, still 07-24 in UTC
        (date(2026, 7, 24), False),
        (date(2026, 7, 25), True),
        (utc(2027, 1, 1), True),
    ],
)
def test_mobile_marking_allowed_from_july_25_shanghai(now, allowed):
    assert mobile_marking_allowed(now, 2026) is allowed


@pytest.mark.parametrize(
    "now, left",
    [
        (sh(2026, 7, 26), timedelta(days=157)),
        (sh(2026, 12, 29, 23, 0), timedelta(hours=1)),
        (utc(2026, 12, 29, 16, 0), timedelta(0)),  # 12-30 00:00 Shanghai: reached
        (date(2026, 12, 29), timedelta(days=1)),  # a date: its Shanghai midnight
        (date(2027, 1, 1), -timedelta(days=2)),  # past: negative
    ],
)
def test_time_left_to_a_shanghai_instant(now, left):
    assert time_left(now, sh(2026, 12, 30)) == left


def test_time_left_refuses_naive_datetimes():
    with pytest.raises(ValueError):
        time_left(datetime(2026, 7, 26), sh(2026, 12, 30))
    with pytest.raises(ValueError):
        time_left(sh(2026, 7, 26), datetime(2026, 12, 30))


@pytest.mark.parametrize(
    "now, year, allowed",
    [
        (utc(2026, 8, 31, 15, 59), 2026, False),  # 08-31 23:59 Shanghai
        (utc(2026, 8, 31, 16, 0), 2026, True),  # 09-01 00:00 Shanghai
        (date(2026, 8, 31), 2026, False),
        (date(2026, 9, 1), 2026, True),
        (date(2027, 3, 1), 2026, True),  # a later year: still from September of the graduation year
        (date(2027, 3, 1), 2027, False),
    ],
)
def test_county_temp_branch_allowed_from_september_1(now, year, allowed):
    assert county_temp_branch_allowed(now, year) is allowed


@pytest.mark.parametrize(
    "start, months, end",
    [
        (date(2026, 7, 25), 6, date(2027, 1, 25)),
        (date(2026, 8, 31), 6, date(2027, 2, 28)),  # clamped
        (date(2027, 8, 31), 6, date(2028, 2, 29)),  # leap year
        (date(2026, 3, 31), 1, date(2026, 4, 30)),
        (date(2026, 12, 15), 1, date(2027, 1, 15)),
        (date(2026, 1, 31), -2, date(2025, 11, 30)),
        (date(2028, 2, 29), 12, date(2029, 2, 28)),
        (date(2026, 9, 1), 24, date(2028, 9, 1)),
        # instants move on the Shanghai calendar, keeping their Shanghai wall time:
        # 2026-08-30 17:00 UTC is 08-31 01:00 in Shanghai, six months later 02-28 01:00
        (utc(2026, 8, 30, 17, 0), 6, sh(2027, 2, 28, 1, 0)),
        (sh(2026, 9, 1, 9, 30), 12, sh(2027, 9, 1, 9, 30)),
    ],
)
def test_add_months(start, months, end):
    got = add_months(start, months)
    assert got == end
    if isinstance(start, datetime):
        assert got.tzinfo is start.tzinfo  # returned in the instant's own timezone


def test_add_months_refuses_a_naive_datetime():
    with pytest.raises(ValueError):
        add_months(datetime(2026, 7, 1), 1)


def test_shanghai_date():
    assert shanghai_date(utc(2026, 6, 30, 16, 0)) == date(2026, 7, 1)
    assert shanghai_date(date(2026, 6, 30)) == date(2026, 6, 30)
