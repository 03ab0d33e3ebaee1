"""Durations of the process (DOMAIN.md §5–§6), resolved once per transfer and recorded in history.

Every duration is divided by ZHTJ_TIME_SCALE (86400 makes a day one second), so a demo can run a
campaign in minutes while tests on the time-skipping server use the real, unscaled values.
"""

from __future__ import annotations

from datetime import timedelta

from pydantic import BaseModel, Field

DAY = timedelta(days=1)


class TransferPolicy(BaseModel):
    remind_after: timedelta = Field(default=10 * DAY, description="reminder to an undecided node (§I.8 note 1)")
    auto_approve_after: timedelta = Field(default=15 * DAY, description="系统默认通过 (§I.8)")
    returned_expiry: timedelta = Field(default=30 * DAY, description="[decision] returned, not resubmitted")
    assignment_first_reminder: timedelta = Field(default=10 * DAY, description="[decision] 分配团支部 reminder")
    assignment_repeat_reminder: timedelta = Field(default=7 * DAY, description="[decision] and every 7 days after")

    def scaled(self, scale: float) -> TransferPolicy:
        if scale <= 0:
            raise ValueError("time scale must be positive")
        return TransferPolicy(**{name: getattr(self, name) / scale for name in type(self).model_fields})


DEFAULT_POLICY = TransferPolicy()


def policy_for(scale: float = 1.0) -> TransferPolicy:
    return DEFAULT_POLICY.scaled(scale) if scale != 1.0 else DEFAULT_POLICY
