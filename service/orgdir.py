"""The whole org directory as a pure `Directory`, cached per process and reloaded when it changes.

Routing searches the directory by region, kind and name; loading it per request would cost a
full scan each time. The cache is checked with one cheap query (row count and latest update).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.directory import Directory
from models import Org
from models.db import session_factory
from service.directory import org_info


class DirectoryCache:
    """Per engine: the directory, its version, and when the version was last checked. Within
    `recheck` seconds of a check the cached directory is used as it is (an import shows up at
    most that much later)."""

    def __init__(self, recheck: float = 2.0) -> None:
        self.recheck = recheck
        self._entries: dict[str, tuple[tuple, Directory, float]] = {}
        self._lock = asyncio.Lock()

    def forget(self) -> None:
        self._entries.clear()

    async def get(self, engine: AsyncEngine, *, codes: Iterable[str] = (), ids: Iterable[int] = ()) -> Directory:
        """The directory; `codes`/`ids` the caller needs: one missing from the cached copy (an
        org created a moment ago) makes it load again at once."""
        key = str(engine.url)  # not id(): a disposed engine's id may be reused by the next
        entry = self._entries.get(key)
        if entry is not None and time.monotonic() - entry[2] < self.recheck:
            d = entry[1]
            if all(c in d for c in codes) and all(d.by_id(i) is not None for i in ids):
                return d
            entry = None
        async with session_factory(engine)() as session:
            version = tuple((await session.execute(select(func.count(Org.id), func.max(Org.updated_at)))).one())
            if entry is not None and version == entry[0] and all(c in entry[1] for c in codes):
                self._entries[key] = (version, entry[1], time.monotonic())
                return entry[1]
            async with self._lock:
                rows = (await session.execute(select(Org))).scalars().all()
                code_of = {o.id: o.code for o in rows}
                directory = Directory(org_info(o, code_of.get(o.parent_id)) for o in rows)
                self._entries[key] = (version, directory, time.monotonic())
        return directory


#: The process's cache, shared by the API, the UI and the services.
DIRECTORIES = DirectoryCache()
