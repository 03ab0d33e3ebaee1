"""Flows that keep a member at school or in a county temp branch (DOMAIN.md §6). Pure, no I/O.

- **Holdings**: an unemployed graduate kept at school in 毕业学生流动团员团支部 for at most 6
  months (§I.4), and a member received by a county-level 学社衔接临时团支部 who must be moved out
  within one year (§I.1). A holding is `active` until its end, `overdue` after it, `released`
  when the member is moved out.
- **Abroad-study retention** (§I.5): a written application the school committee decides,
  `pending` → `approved` (also 系统默认通过) / `returned` / `withdrawn`.
- The special branches a school creates when first needed: code ``<school>-MOB`` / ``-ABR`` /
  ``-DLY`` and the names of DOMAIN.md §2.

**[decision]** The school's (or county's) admins are reminded 30 and 7 days before a holding
ends; the holding's length is in calendar months on the Shanghai calendar
(`domain.deadlines.add_months`). `HoldingPolicy.scaled(ZHTJ_TIME_SCALE)` shrinks the whole
timeline (length and reminder offsets) by the same factor, as `TransferPolicy.scaled` does.

**[decision]** The 6 months a member is kept at school (§I.4) run from graduation, taken as
06-30 of the graduation year (`HoldingPolicy.graduation_month/_day`), not from the day the school
marks the member: the holding ends at 00:00 Shanghai of `HoldingPolicy.mobile_ends_on` (12-30 of
the graduation year). Marking a member whose 6 months are over is refused: they are to be moved
out (`HoldingPolicy.mobile_term_over_message`). The calendar time left from the marking to that
end is scaled like every span (`HoldingPolicy.due_after`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from enum import StrEnum
from typing import Self

from pydantic import BaseModel, Field, field_validator, model_validator

from domain.deadlines import add_months, shanghai_midnight, time_left
from domain.directory import OrgInfo
from domain.orgs import OrgKind

DAY = timedelta(days=1)


class HoldingKind(StrEnum):
    MOBILE = "mobile"  # 毕业学生流动团员团支部, ≤ 6 months (§I.4)
    COUNTY_TEMP = "county_temp"  # county-level 学社衔接临时团支部, ≤ 1 year (§I.1)


class HoldingStatus(StrEnum):
    ACTIVE = "active"
    OVERDUE = "overdue"  # the end passed and the member is still held: on the overdue list
    RELEASED = "released"  # moved out (a completed transfer, or an admin)

    @property
    def is_open(self) -> bool:
        return self in (HoldingStatus.ACTIVE, HoldingStatus.OVERDUE)


class RetentionStatus(StrEnum):
    PENDING = "pending"  # the school committee decides
    APPROVED = "approved"  # by an admin or 系统默认通过; the member is in the abroad-study branch
    RETURNED = "returned"  # returned with a reason; the member may apply again
    WITHDRAWN = "withdrawn"

    @property
    def is_open(self) -> bool:
        return self == RetentionStatus.PENDING


class RegisterKind(StrEnum):
    """The special registers (登记造册) a school or a higher committee keeps."""

    ABROAD_STUDY = "abroad_study"
    MOBILE = "mobile"
    DELAYED = "delayed"
    COUNTY_TEMP = "county_temp"
    #: members the provincial 特殊单位专属库 holds (§I.3), with the transfer that put them there
    SPECIAL_UNIT = "special_unit"


#: §I.4 refusal shown when a school marks an unemployed graduate before 07-25.
MOBILE_TOO_EARLY_MESSAGE = "7月25日后方可将未就业毕业生标记并编入毕业学生流动团员团支部（《通知》一、4）"


# ---- the school's special branches (DOMAIN.md §2) -----------------------------------------------
_SCHOOL_BRANCH: dict[OrgKind, tuple[str, str]] = {
    OrgKind.MOBILE_BRANCH: ("MOB", "毕业学生流动团员团支部"),
    OrgKind.ABROAD_STUDY_BRANCH: ("ABR", "出国（境）学习研究团员团支部"),
    OrgKind.DELAYED_BRANCH: ("DLY", "延迟毕业团支部"),
}


def _special(kind: OrgKind | str) -> tuple[str, str]:
    try:
        return _SCHOOL_BRANCH[OrgKind(kind)]
    except KeyError:
        raise ValueError(f"{kind} is not one of a school's special branches") from None


def school_branch_code(school_code: str, kind: OrgKind | str) -> str:
    """``WHU-MOB``, ``WHU-ABR``, ``HUST-DLY``: the code of a special branch created when needed."""
    return f"{school_code}-{_special(kind)[0]}"


def school_branch_name(school_name: str, kind: OrgKind | str) -> str:
    """The school's name without its trailing 团委, then the branch's name (武汉大学延迟毕业团支部)."""
    base = school_name[: -len("团委")] if school_name.endswith("团委") else school_name
    return f"{base}{_special(kind)[1]}"


#: The clause that puts a member into each of the school's special branches.
SCHOOL_BRANCH_CLAUSES: dict[OrgKind, str] = {
    OrgKind.ABROAD_STUDY_BRANCH: "§I.5",
    OrgKind.MOBILE_BRANCH: "§I.4",
    OrgKind.DELAYED_BRANCH: "§I.7",
}
_PLACEMENT_REASONS: dict[OrgKind, str] = {
    OrgKind.ABROAD_STUDY_BRANCH: "出国（境）学习研究，保留团组织关系在原就读学校",
    OrgKind.MOBILE_BRANCH: "未就业，在原就读学校保留团组织关系（一般不超过6个月）",
    OrgKind.DELAYED_BRANCH: "延迟毕业，由学校集中管理",
}


@dataclass(frozen=True)
class Placement:
    """Where a flow that keeps the member at school puts them, and which clause says so."""

    code: str
    name: str
    kind: OrgKind
    exists: bool  # False: the branch is created under the school on first use
    clause: str
    explanation: str


def school_placement(kind: OrgKind | str, school: OrgInfo, children: Iterable[OrgInfo]) -> Placement:
    """The school's branch of a special kind among its children (the first by code), or the one
    to create (``<school>-ABR|MOB|DLY``), with its clause (§I.5, §I.4, §I.7)."""
    k = OrgKind(kind)
    found = sorted((c for c in children if c.kind == k and c.parent_code == school.code), key=lambda c: c.code)
    code, name = (
        (found[0].code, found[0].name)
        if found
        else (school_branch_code(school.code, k), school_branch_name(school.name, k))
    )
    clause = SCHOOL_BRANCH_CLAUSES[k]
    return Placement(
        code=code,
        name=name,
        kind=k,
        exists=bool(found),
        clause=clause,
        explanation=f"{clause} {_PLACEMENT_REASONS[k]} → {name}" + ("" if found else "（首次使用时建立）"),
    )


# ---- holding timeline -------------------------------------------------------------------------
class HoldingPolicy(BaseModel):
    """How long a holding lasts and when its admins are reminded; resolved at workflow start."""

    mobile_months: int = Field(default=6, gt=0, description="§I.4: 一般不超过6个月")
    county_temp_months: int = Field(default=12, gt=0, description="§I.1: 一年内转出")
    remind_before: tuple[timedelta, ...] = Field(
        default=(30 * DAY, 7 * DAY), description="[decision] reminders before the end, unscaled"
    )
    graduation_month: int = Field(default=6, ge=1, le=12, description="[decision] graduation is taken as 06-30")
    graduation_day: int = Field(default=30, ge=1, le=31, description="[decision] of the graduation year")
    time_scale: float = Field(default=1.0, description="ZHTJ_TIME_SCALE: every span is divided by it")

    @field_validator("time_scale")
    @classmethod
    def _positive(cls, v: float) -> float:
        if v <= 0:
            raise ValueError("time scale must be positive")
        return v

    @field_validator("remind_before")
    @classmethod
    def _positive_offsets(cls, v: tuple[timedelta, ...]) -> tuple[timedelta, ...]:
        if any(d <= timedelta(0) for d in v):
            raise ValueError("reminder offsets must be positive")
        return tuple(sorted(set(v), reverse=True))  # earliest reminder first

    @model_validator(mode="after")
    def _real_graduation_day(self) -> Self:
        date(2001, self.graduation_month, self.graduation_day)  # ValueError for 02-30, 06-31, 02-29
        return self

    def scaled(self, scale: float) -> HoldingPolicy:
        if scale <= 0:
            raise ValueError("time scale must be positive")
        return self.model_copy(update={"time_scale": self.time_scale * scale})

    def months(self, kind: HoldingKind | str) -> int:
        return self.mobile_months if HoldingKind(kind) == HoldingKind.MOBILE else self.county_temp_months

    def due_at(self, kind: HoldingKind | str, started_at: datetime) -> datetime:
        """When the holding ends: calendar months on the Shanghai calendar, then scaled."""
        span = add_months(started_at, self.months(kind)) - started_at
        return started_at + span / self.time_scale

    # -- §I.4: the months at school run from graduation [decision] --

    def graduated_on(self, graduation_year: int) -> date:
        """The day graduation is taken to be (06-30 of the graduation year)."""
        return date(graduation_year, self.graduation_month, self.graduation_day)

    def mobile_ends_on(self, graduation_year: int) -> date:
        """The day a member kept at school must have been moved out by: graduation + 6 calendar
        months (06-30 → 12-30); the holding ends as this day begins (00:00 Shanghai)."""
        return add_months(self.graduated_on(graduation_year), self.mobile_months)

    def mobile_left(self, now: datetime | date, graduation_year: int) -> timedelta:
        """Calendar time (unscaled) from `now` (a date: its Shanghai midnight) to the end of the
        months at school; zero or negative once they are over."""
        return time_left(now, shanghai_midnight(self.mobile_ends_on(graduation_year)))

    def mobile_term_over(self, now: datetime | date, graduation_year: int) -> bool:
        return self.mobile_left(now, graduation_year) <= timedelta(0)

    def mobile_term_over_message(self, member_name: str, graduation_year: int) -> str:
        """The refusal shown when a school marks a graduate whose months at school are over."""
        return (
            f"{member_name}毕业已满{self.mobile_months}个月（保留期已于{self.mobile_ends_on(graduation_year)}届满），"
            "应转出团组织关系，不能再编入毕业学生流动团员团支部（《通知》一、4）"
        )

    def due_after(self, left: timedelta) -> timedelta:
        """The real wait for `left` of calendar time: divided by the time scale."""
        return left / self.time_scale

    def reminders(self, started_at: datetime, due_at: datetime) -> list[tuple[datetime, timedelta]]:
        """(instant, unscaled time left) of each reminder, earliest first; a reminder that would
        fall at or before the start is dropped (a holding started late in its term)."""
        out = [(due_at - d / self.time_scale, d) for d in self.remind_before]
        return [(t, d) for t, d in out if t > started_at]


DEFAULT_HOLDING_POLICY = HoldingPolicy()


def holding_policy_for(scale: float = 1.0) -> HoldingPolicy:
    return DEFAULT_HOLDING_POLICY.scaled(scale) if scale != 1.0 else DEFAULT_HOLDING_POLICY
