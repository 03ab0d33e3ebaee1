"""Helpers shared by every CLI command: run a coroutine, open the configured database."""

from __future__ import annotations

import asyncio
import os
import sys
from collections.abc import AsyncIterator, Coroutine
from contextlib import asynccontextmanager
from typing import Any, NoReturn

from sqlalchemy.ext.asyncio import AsyncEngine

from core.settings import get_settings
from models.db import assert_migrated, make_engine


@asynccontextmanager
async def open_engine(*, check_migrated: bool = True, url: str | None = None) -> AsyncIterator[AsyncEngine]:
    """The configured database's engine; refuses an unmigrated database unless told not to."""
    engine = make_engine(url or get_settings().effective_database_url)
    try:
        if check_migrated:
            await assert_migrated(engine)
        yield engine
    finally:
        await engine.dispose()


def run(coro: Coroutine[Any, Any, Any]) -> Any:
    return asyncio.run(coro)


def exit_now(status: int = 0) -> NoReturn:
    """End the process once output is flushed.

    A process that used a Temporal client sometimes aborts at interpreter exit (exit 134/139)
    after all its work is done; os._exit skips that teardown.
    """
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(status)
