"""Types crossing the DigestWorkflow boundary: the daily digest of each admin (`domain.digest`).

A Temporal Schedule (`DIGEST_SCHEDULE_ID`, or ZHTJ_DIGEST_SCHEDULE_ID) starts `DigestWorkflow`
once a calendar day; its one activity (`WRITE_DIGESTS_ACTIVITY`) writes each admin's digest of
that day once (notification key `digest/<user id>/<date>`).
"""

from __future__ import annotations

from datetime import date, datetime

from pydantic import BaseModel, Field

#: The schedule's id, and the id its workflows start with (the schedule appends the action time).
DIGEST_SCHEDULE_ID = "zhtj-daily-digest"
DIGEST_WORKFLOW = "DigestWorkflow"
#: The activity writing the digests, registered under this name by the worker.
WRITE_DIGESTS_ACTIVITY = "write_digests"
#: The search attribute a schedule sets on the workflows it starts: the action's time.
SCHEDULED_START_TIME = "TemporalScheduledStartTime"


class DigestInput(BaseModel):
    """What the schedule starts the workflow with: nothing, the day is the action's. A run started
    by hand may name the calendar day to write."""

    day: date | None = None


class DigestRequest(BaseModel):
    """The activity's input: the instant the run is for (the schedule's action time, or the
    workflow's start), recorded in history, so a retry writes the same day."""

    at: datetime
    day: date | None = Field(default=None, description="the calendar day; default: the calendar's day at `at`")


class DigestResult(BaseModel):
    day: date
    admins: int = 0  # admins with something to say that day
    written: int = 0  # digests this attempt wrote
    existing: int = 0  # digests of that day already written (a retry, a second run)
