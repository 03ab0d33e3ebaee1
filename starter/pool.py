"""Bounded concurrency for many API calls: at most `limit` awaitables in flight at once."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Awaitable, Iterable
from typing import TypeVar

T = TypeVar("T")


async def gather_limited(limit: int, awaitables: Iterable[Awaitable[T]]) -> list[T]:
    """Await every item, at most `limit` (at least 1) at a time; the results in order. When one
    fails, the others are cancelled and the failure is raised."""
    sem = asyncio.Semaphore(max(1, limit))

    async def one(item: Awaitable[T]) -> T:
        async with sem:
            return await item

    items = list(awaitables)
    tasks = [asyncio.ensure_future(one(a)) for a in items]
    try:
        return await asyncio.gather(*tasks)
    except BaseException:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for a in items:  # the coroutines never reached: closed, not left "never awaited"
            if inspect.iscoroutine(a) and inspect.getcoroutinestate(a) == inspect.CORO_CREATED:
                a.close()
        raise


__all__ = ["gather_limited"]
