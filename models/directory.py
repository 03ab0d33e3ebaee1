"""Reading the org directory: the one loader of orgs with their ancestors, the pure
`domain.directory` snapshot built from rows, and the per-process cache of the whole directory.

Routing searches the directory by region, kind and name; loading it per request would cost a
full scan each time. The cache is checked with one cheap query (row count and latest update).
Importers, services and activities all read orgs through this module.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import TypeVar

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import col

from domain.directory import Directory, OrgInfo
from models.db import session_factory
from models.tables import Org, row_id

#: Rows per IN (...) list: well under SQLite's and asyncpg's parameter limits.
CHUNK = 500

T = TypeVar("T")

_FIELDS = (
    "code",
    "name",
    "kind",
    "partition",
    "province",
    "city",
    "county",
    "township",
    "address",
    "contact_phone",
    "contact_address",
    "branch_level",
    "approval_authority",
    "can_receive",
    "new_student",
)


def chunked(items: Sequence[T], n: int = CHUNK) -> Iterator[Sequence[T]]:
    """Consecutive slices of at most `n` items."""
    for i in range(0, len(items), n):
        yield items[i : i + n]


def org_info(org: Org, parent_code: str | None) -> OrgInfo:
    return OrgInfo(parent_code=parent_code, id=org.id, **{f: getattr(org, f) for f in _FIELDS})


async def load_orgs_with_ancestors(
    session: AsyncSession, *, codes: Iterable[str] = (), ids: Iterable[int] = ()
) -> dict[int, Org]:
    """Orgs with these codes or ids and all their ancestors, by id: one query per tree level
    (per chunk of ids)."""
    found: dict[int, Org] = {}
    for code_chunk in chunked(sorted(set(codes))):
        for org in (await session.execute(select(Org).where(col(Org.code).in_(code_chunk)))).scalars():
            found[row_id(org.id)] = org
    want = set(ids)
    while True:
        want |= {o.parent_id for o in found.values() if o.parent_id is not None}
        want -= found.keys()
        if not want:
            return found
        batch = sorted(want)
        want = set()
        for id_chunk in chunked(batch):
            for org in (await session.execute(select(Org).where(col(Org.id).in_(id_chunk)))).scalars():
                found[row_id(org.id)] = org


def directory_of(rows: Iterable[Org]) -> Directory:
    """The pure directory of these org rows (each row's parent among them, or none)."""
    rows = list(rows)
    code_of = {o.id: o.code for o in rows}
    return Directory(org_info(o, code_of.get(o.parent_id) if o.parent_id is not None else None) for o in rows)


async def load_with_ancestors(session: AsyncSession, codes: Iterable[str]) -> Directory:
    """The orgs with these codes and all their ancestors, as a pure directory."""
    return directory_of((await load_orgs_with_ancestors(session, codes=codes)).values())


class DirectoryCache:
    """Per engine: the directory, its version, and when the version was last checked. Within
    `recheck` seconds of a check the cached directory is used as it is (an import shows up at
    most that much later)."""

    def __init__(self, recheck: float = 2.0) -> None:
        self.recheck = recheck
        self._entries: dict[str, tuple[tuple[object, ...], Directory, float]] = {}
        self._lock = asyncio.Lock()

    def forget(self) -> None:
        self._entries.clear()

    async def get(self, engine: AsyncEngine, *, codes: Iterable[str] = (), ids: Iterable[int] = ()) -> Directory:
        """The directory; `codes`/`ids` the caller needs: one missing from the cached copy (an
        org created a moment ago) makes it load again at once."""
        codes, ids = list(codes), list(ids)
        key = str(engine.url)  # not id(): a disposed engine's id may be reused by the next
        entry = self._entries.get(key)
        if entry is not None and time.monotonic() - entry[2] < self.recheck:
            d = entry[1]
            if all(c in d for c in codes) and all(d.by_id(i) is not None for i in ids):
                return d
            entry = None
        async with session_factory(engine)() as session:
            version = tuple(
                (await session.execute(select(func.count(col(Org.id)), func.max(col(Org.updated_at))))).one()
            )
            if entry is not None and version == entry[0] and all(c in entry[1] for c in codes):
                self._entries[key] = (version, entry[1], time.monotonic())
                return entry[1]
            async with self._lock:
                directory = directory_of((await session.execute(select(Org))).scalars().all())
                self._entries[key] = (version, directory, time.monotonic())
        return directory


#: The process's cache, shared by the API, the UI and the services.
DIRECTORIES = DirectoryCache()
