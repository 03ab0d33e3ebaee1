"""The whole org directory as a pure `Directory`, cached per process and reloaded when it changes.

Routing searches the directory by region, kind and name; loading it per request would cost a
full scan each time. The cache is checked with one cheap query (row count and latest update).
"""

from __future__ import annotations

import asyncio

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.directory import Directory
from models import Org
from models.db import session_factory
from service.directory import org_info


class DirectoryCache:
    def __init__(self) -> None:
        self._version: tuple | None = None
        self._directory: Directory | None = None
        self._lock = asyncio.Lock()

    async def get(self, engine: AsyncEngine) -> Directory:
        async with session_factory(engine)() as session:
            version = tuple((await session.execute(select(func.count(Org.id), func.max(Org.updated_at)))).one())
            if version == self._version and self._directory is not None:
                return self._directory
            async with self._lock:
                if version != self._version or self._directory is None:
                    rows = (await session.execute(select(Org))).scalars().all()
                    code_of = {o.id: o.code for o in rows}
                    self._directory = Directory(org_info(o, code_of.get(o.parent_id)) for o in rows)
                    self._version = version
        return self._directory
