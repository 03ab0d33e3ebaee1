"""Deadline arithmetic on the Asia/Shanghai calendar (DOMAIN.md §5–§7). Pure: `now` is a parameter.

Instants are timezone-aware datetimes (naive ones are refused). Durations of the approval
process come from a `TransferPolicy`; calendar dates of the campaign (§7) are Shanghai dates of
the graduation year, returned as Shanghai-midnight aware datetimes (the instant the day begins).

**[decision]** "7月25日后" (marking unemployed graduates as mobile, §I.4) and "从9月份起" (the
county temp branch, §I.1) start at 00:00 Shanghai of 07-25 and 09-01 — the same instants that end
the "7月25日前" window and open the September work. Month arithmetic clamps the day of month
(08-31 + 6 months = 02-28/29).
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, timezone, tzinfo
from typing import TypeVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from domain.policy import TransferPolicy


def _shanghai() -> tzinfo:
    try:
        return ZoneInfo("Asia/Shanghai")
    except ZoneInfoNotFoundError:  # no tz database (slim image without tzdata): China has kept UTC+8 since 1991
        return timezone(timedelta(hours=8), "Asia/Shanghai")


SHANGHAI = _shanghai()

_D = TypeVar("_D", date, datetime)


def _aware(moment: datetime, name: str = "datetime") -> datetime:
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")
    return moment


def shanghai_midnight(day: date) -> datetime:
    """00:00 of a Shanghai calendar day, as an aware datetime."""
    return datetime.combine(day, time(0), tzinfo=SHANGHAI)


def shanghai_date(moment: datetime | date) -> date:
    """The Shanghai calendar date of an instant (a plain date is taken as a Shanghai date)."""
    if isinstance(moment, datetime):
        return _aware(moment).astimezone(SHANGHAI).date()
    return moment


# ---- approval nodes (§I.8, A2 note 1) --------------------------------------------------------
def node_deadlines(started_at: datetime, policy: TransferPolicy) -> tuple[datetime, datetime]:
    """(remind_at, deadline) of a node whose clock started at `started_at`, in UTC."""
    start = _aware(started_at, "started_at").astimezone(UTC)
    return start + policy.remind_after, start + policy.auto_approve_after


def days_waiting(started_at: datetime, now: datetime) -> int:
    """Shanghai calendar days from the start day to today (0 on the day it started)."""
    return max((shanghai_date(now) - shanghai_date(started_at)).days, 0)


def is_overdue(due_at: datetime, now: datetime) -> bool:
    """Whether `now` has reached `due_at` (a reminder time, a deadline, a retention end...)."""
    return _aware(now, "now") >= _aware(due_at, "due_at")


# ---- campaign calendar (§7, §II.2) -----------------------------------------------------------
@dataclass(frozen=True)
class CampaignDates:
    """Shanghai-midnight instants of a graduation year's campaign."""

    year: int
    transfers_open: datetime  # 06-01: schools start non-升学, non-参军 transfers
    schools_started_by: datetime  # 07-25: 100% started; from then unemployed may be marked 流动 (§I.4)
    further_study_open: datetime  # 09-01: admitting schools create new-student orgs; county temp branches (§I.1)
    receiving_done_by: datetime  # 09-20: local orgs finish receiving
    further_study_done_by: datetime  # 10-15: 升学 transfers finished


def campaign_dates(year: int) -> CampaignDates:
    def at(month: int, day: int) -> datetime:
        return shanghai_midnight(date(year, month, day))

    return CampaignDates(year, at(6, 1), at(7, 25), at(9, 1), at(9, 20), at(10, 15))


def _reached(now: datetime | date, instant: datetime) -> bool:
    if isinstance(now, datetime):
        return _aware(now, "now") >= instant
    return shanghai_midnight(now) >= instant


def time_left(now: datetime | date, end: datetime) -> timedelta:
    """Calendar time from `now` to `end` (a plain date is taken as its Shanghai midnight): zero
    or negative once `end` is reached."""
    start = _aware(now, "now") if isinstance(now, datetime) else shanghai_midnight(now)
    return _aware(end, "end") - start


def mobile_marking_allowed(now: datetime | date, graduation_year: int) -> bool:
    """Schools may mark unemployed graduates into 毕业学生流动团员团支部 from 07-25 (§I.4)."""
    return _reached(now, campaign_dates(graduation_year).schools_started_by)


def county_temp_branch_allowed(now: datetime | date, year: int) -> bool:
    """A county-level temp branch receives for a township that cannot, from 09-01 of `year` (§I.1)."""
    return _reached(now, campaign_dates(year).further_study_open)


# ---- calendar month arithmetic -----------------------------------------------------------------
def add_months(start: _D, months: int) -> _D:
    """`start` moved by whole calendar months, the day of month clamped to the month's length.

    An aware datetime is moved on the Shanghai calendar (keeping its Shanghai wall time) and
    returned in its own timezone; a date is moved as it is.
    """
    if isinstance(start, datetime):
        tz = _aware(start, "start").tzinfo
        local = start.astimezone(SHANGHAI)
        moved = datetime.combine(add_months(local.date(), months), local.timetz())
        return moved.astimezone(tz)
    index = start.year * 12 + (start.month - 1) + months
    year, month = divmod(index, 12)
    day = min(start.day, calendar.monthrange(year, month + 1)[1])
    return date(year, month + 1, day)
