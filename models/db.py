"""Async engine and sessions, and the migration guard the app runs at start."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, event, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine

MIGRATIONS_DIR = Path(__file__).resolve().parent.parent / "migrations"


class DatabaseNotMigrated(RuntimeError):
    """Raised at start when the schema is missing or behind the code."""


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def make_engine(url: str, **kw: Any) -> AsyncEngine:
    if is_sqlite(url):
        path = url.split(":///", 1)[-1]
        if path and path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        engine = create_async_engine(url, connect_args={"timeout": 30}, **kw)

        @event.listens_for(engine.sync_engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:  # pragma: no cover - exercised on every connect
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.close()
            dbapi_conn.isolation_level = None  # we issue BEGIN ourselves, below

        @event.listens_for(engine.sync_engine, "begin")
        def _begin_immediate(conn: Connection) -> None:  # pragma: no cover - exercised on every transaction
            # Take the write lock at BEGIN: a read transaction that later writes fails at once
            # (SQLITE_BUSY_SNAPSHOT) when another writer committed meanwhile; busy_timeout
            # covers waiting for the lock, not that upgrade.
            conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    kw.setdefault("pool_size", 10)
    kw.setdefault("max_overflow", 20)
    # No pre-ping: it costs a round trip per checkout (a tenth of a busy process's CPU). Connections
    # are recycled hourly; one dropped by a database restart fails its transaction, which the
    # activity's retry or the client's retry repeats.
    kw.setdefault("pool_recycle", 3600)
    return create_async_engine(url, **kw)


def reader(engine: AsyncEngine) -> AsyncEngine:
    """The engine for single-statement reads on hot paths: on PostgreSQL in autocommit, so a read
    costs one round trip instead of three (BEGIN, the query, ROLLBACK); it shares the engine's
    pool (and costs microseconds to make). SQLite reads are local calls and keep the engine."""
    return engine if is_sqlite(str(engine.url)) else engine.execution_options(isolation_level="AUTOCOMMIT")


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


@asynccontextmanager
async def transaction(engine: AsyncEngine) -> AsyncIterator[AsyncConnection]:
    """One transaction on a plain connection, for Core statements on hot paths (no ORM session)."""
    async with engine.begin() as conn:
        yield conn


@asynccontextmanager
async def session_scope(engine: AsyncEngine) -> AsyncIterator[AsyncSession]:
    """One transaction: committed on success, rolled back on any error."""
    async with session_factory(engine)() as session, session.begin():
        yield session


def head_revision() -> str:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    heads = ScriptDirectory.from_config(cfg).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"migrations must have exactly one head, found {heads}")
    return heads[0]


async def current_revision(engine: AsyncEngine) -> str | None:
    async with engine.connect() as conn:
        try:
            row = (await conn.execute(text("SELECT version_num FROM alembic_version"))).first()
        except DBAPIError:  # no alembic_version table: never migrated
            return None
        return row[0] if row else None


async def assert_migrated(engine: AsyncEngine) -> None:
    """Refuse to run on a database that `zhtj migrate` has not brought to the current schema."""
    have = await current_revision(engine)
    want = head_revision()
    if have != want:
        state = "has no schema" if have is None else f"is at revision {have}"
        raise DatabaseNotMigrated(
            f"The database {state}, but this version of zhtj needs revision {want}. "
            f"Run `zhtj migrate` first. (数据库尚未迁移，请先运行 zhtj migrate)"
        )
