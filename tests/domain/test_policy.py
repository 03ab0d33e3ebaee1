"""Durations of the process (DOMAIN.md §5–§6) and ZHTJ_TIME_SCALE."""

from __future__ import annotations

from datetime import timedelta

import pytest

from domain.policy import DEFAULT_POLICY, policy_for

DAY = timedelta(days=1)


@pytest.mark.parametrize(
    "name, unscaled",
    [
        ("remind_after", 10 * DAY),  # §I.8 note 1
        ("auto_approve_after", 15 * DAY),  # 系统默认通过, §I.8
        ("returned_expiry", 30 * DAY),
        ("assignment_first_reminder", 10 * DAY),
        ("assignment_repeat_reminder", 7 * DAY),
    ],
)
@pytest.mark.parametrize("scale", [1.0, 86400, 0.5])
def test_every_duration_is_divided_by_the_time_scale(name, unscaled, scale):
    assert getattr(policy_for(scale), name) == unscaled / scale


def test_the_unscaled_policy_is_the_default_one():
    assert policy_for() is DEFAULT_POLICY and policy_for(1.0) is DEFAULT_POLICY
    assert DEFAULT_POLICY.scaled(2).scaled(3) == DEFAULT_POLICY.scaled(6)


@pytest.mark.parametrize("scale", [0, -1, -86400])
def test_a_scale_must_be_positive(scale):
    with pytest.raises(ValueError):
        policy_for(scale)
