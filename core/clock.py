"""The one calendar clock: what "today" is for every rule that reads a date.

Rules that read the calendar (the campaign year, 07-25, 09-01, a graduate's age in the
graduation month) take `today` or `now` as a parameter; callers get it here, never from the wall
clock. In production the calendar is the real date in Asia/Shanghai. For a rehearsal or a demo,
`ZHTJ_REHEARSAL_START=YYYY-MM-DD` starts the calendar at that date when the system starts
(`ZHTJ_REHEARSAL_EPOCH`, a Unix time, says when that was; `zhtj dev` sets it for the processes it
starts, so they share one calendar) and it advances `ZHTJ_TIME_SCALE` times faster than real
time: at 86400 a rehearsed day passes in a second, as the workflows' durations do.

Timestamps that record when something happened (created_at, decided_at) stay real instants;
workflows read `workflow.now()` and get what they need of the calendar in their input.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import UTC, date, datetime

from core.settings import Settings, get_settings
from domain.deadlines import shanghai_date, shanghai_midnight

#: When this process started: the rehearsal's epoch when no ZHTJ_REHEARSAL_EPOCH is given.
PROCESS_START = time.time()


@dataclass(frozen=True)
class Calendar:
    start: date | None = None  # the rehearsal's first day; None: the real calendar
    epoch: float = PROCESS_START  # the real Unix time the rehearsal's first day began
    scale: float = 1.0

    @property
    def rehearsal(self) -> bool:
        return self.start is not None

    def now(self, real: datetime | None = None) -> datetime:
        """The calendar's instant (aware): the real one, or the rehearsal's at `real` (default now)."""
        real = real or datetime.now(UTC)
        if self.start is None:
            return real
        elapsed = real - datetime.fromtimestamp(self.epoch, UTC)
        return shanghai_midnight(self.start) + elapsed * self.scale

    def today(self, real: datetime | None = None) -> date:
        """The calendar's date in Asia/Shanghai."""
        return shanghai_date(self.now(real))


def calendar(settings: Settings | None = None) -> Calendar:
    """The calendar of these settings (default: the process's)."""
    s = settings or get_settings()
    if s.rehearsal_start is None:
        return Calendar()
    return Calendar(
        start=s.rehearsal_start,
        epoch=s.rehearsal_epoch if s.rehearsal_epoch is not None else PROCESS_START,
        scale=s.time_scale,
    )
