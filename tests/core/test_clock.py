"""The one calendar clock: the real Shanghai date, or a rehearsal that starts at a given date and
runs ZHTJ_TIME_SCALE times faster, shared by every process through its epoch."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from core.clock import Calendar, calendar
from core.settings import Settings

REAL = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)  # 11:00 in Shanghai


def test_without_a_rehearsal_the_calendar_is_the_real_shanghai_date():
    c = Calendar()
    assert not c.rehearsal
    assert c.now(REAL) == REAL
    assert c.today(datetime(2026, 6, 30, 16, 30, tzinfo=UTC)) == date(2026, 7, 1)  # 00:30 in Shanghai


@pytest.mark.parametrize(
    "elapsed, scale, today",
    [
        (timedelta(0), 1, date(2026, 6, 1)),
        (timedelta(hours=23), 1, date(2026, 6, 1)),
        (timedelta(hours=25), 1, date(2026, 6, 2)),
        (timedelta(seconds=54), 86400, date(2026, 7, 25)),  # 06-01 + 54 days: the start deadline
        (timedelta(seconds=111), 86400, date(2026, 9, 20)),  # + 111 days: the receive deadline
        (timedelta(seconds=136), 86400, date(2026, 10, 15)),  # + 136 days: further study
    ],
)
def test_a_rehearsal_starts_at_its_date_and_runs_at_the_time_scale(elapsed, scale, today):
    epoch = REAL.timestamp()
    c = Calendar(start=date(2026, 6, 1), epoch=epoch, scale=scale)
    assert c.rehearsal
    assert c.today(REAL + elapsed) == today


def test_the_settings_make_the_calendar(monkeypatch):
    monkeypatch.setenv("ZHTJ_REHEARSAL_START", "2026-06-01")
    monkeypatch.setenv("ZHTJ_REHEARSAL_EPOCH", str(REAL.timestamp()))
    monkeypatch.setenv("ZHTJ_TIME_SCALE", "86400")
    c = calendar(Settings())
    assert (c.start, c.epoch, c.scale) == (date(2026, 6, 1), REAL.timestamp(), 86400)
    assert c.today(REAL + timedelta(seconds=2)) == date(2026, 6, 3)


def test_processes_started_apart_share_one_rehearsal_through_the_epoch(monkeypatch):
    """`zhtj dev` gives the worker and the API the epoch it began with: the same calendar in both."""
    monkeypatch.setenv("ZHTJ_REHEARSAL_START", "2026-06-01")
    monkeypatch.setenv("ZHTJ_TIME_SCALE", "86400")
    monkeypatch.setenv("ZHTJ_REHEARSAL_EPOCH", "1700000000")
    first, second = calendar(Settings()), calendar(Settings())
    moment = datetime.fromtimestamp(1700000000 + 10, UTC)
    assert first.today(moment) == second.today(moment) == date(2026, 6, 11)


def test_a_bad_rehearsal_date_is_refused_naming_the_variable(monkeypatch):
    monkeypatch.setenv("ZHTJ_REHEARSAL_START", "2026-13-01")
    with pytest.raises(ValueError, match="ZHTJ_REHEARSAL_START"):
        Settings()
