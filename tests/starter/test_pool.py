"""starter.pool.gather_limited: bounded, ordered, and a failure cancels the rest."""

from __future__ import annotations

import asyncio

import pytest

from starter.pool import gather_limited


async def test_results_in_order_at_most_limit_at_once():
    running = peak = 0

    async def one(i: int) -> int:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0.001 * (5 - i % 5))
        running -= 1
        return i * i

    assert await gather_limited(3, [one(i) for i in range(20)]) == [i * i for i in range(20)]
    assert peak == 3
    assert await gather_limited(0, [one(1)]) == [1]  # a limit below 1 still runs one at a time
    assert await gather_limited(4, []) == []


async def test_a_failure_cancels_the_others_and_is_raised():
    finished: list[int] = []

    async def one(i: int) -> None:
        if i == 1:
            raise ValueError("boom")
        await asyncio.sleep(0.05)
        finished.append(i)

    with pytest.raises(ValueError, match="boom"):
        await gather_limited(2, [one(i) for i in range(6)])
    await asyncio.sleep(0.1)
    assert finished == []
