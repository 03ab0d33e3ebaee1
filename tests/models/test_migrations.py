import os
import subprocess
import sys
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import inspect, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlmodel import SQLModel

from models import AuditLog
from models.db import DatabaseNotMigrated, assert_migrated, current_revision, head_revision, make_engine, session_scope
from models.migrate import downgrade, upgrade

ZHTJ = str(Path(sys.executable).parent / "zhtj")
TABLES = {
    "orgs",
    "members",
    "users",
    "transfers",
    "approval_steps",
    "notifications",
    "membership_history",
    "audit_log",
    "alembic_version",
    "abroad_retentions",
    "holdings",
    "upload_jobs",
    "upload_rows",
    "notification_reads",
    "webhooks",
    "delivery_outbox",
    "deliveries",
}


async def _tables(url: str) -> set[str]:
    engine = make_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


async def test_up_down_up(empty_database_url):
    assert await _tables(empty_database_url) == set()
    upgrade(empty_database_url)
    assert await _tables(empty_database_url) == TABLES
    downgrade(empty_database_url, "base")
    assert await _tables(empty_database_url) == {"alembic_version"}
    upgrade(empty_database_url)
    assert await _tables(empty_database_url) == TABLES
    engine = make_engine(empty_database_url)
    try:
        assert await current_revision(engine) == head_revision()
        await assert_migrated(engine)
    finally:
        await engine.dispose()


async def test_unmigrated_database_is_refused(empty_database_url):
    engine = make_engine(empty_database_url)
    try:
        with pytest.raises(DatabaseNotMigrated, match="zhtj migrate"):
            await assert_migrated(engine)
    finally:
        await engine.dispose()


async def test_audit_log_is_append_only(engine):
    async with session_scope(engine) as session:
        session.add(AuditLog(actor="t", action="x", entity="e", entity_id="1", detail={"a": 1}))
    for stmt in ("UPDATE audit_log SET actor = 'other'", "DELETE FROM audit_log"):
        with pytest.raises((DBAPIError, IntegrityError), match="append-only"):
            async with engine.begin() as conn:
                await conn.execute(text(stmt))
    async with engine.connect() as conn:
        rows = (await conn.execute(text("SELECT actor FROM audit_log"))).all()
    assert rows == [("t",)]


@pytest.mark.parametrize(
    "command", [["worker"], ["api"], ["users", "add", "someone", "--password", "x" * 10, "--role", "service"]]
)
def test_commands_refuse_unmigrated_database(empty_database_url, tmp_path, command):
    env = dict(os.environ, DATABASE_URL=empty_database_url, ZHTJ_DATA_DIR=str(tmp_path), TEMPORAL_ADDRESS="127.0.0.1:1")
    proc = subprocess.run([ZHTJ, *command], env=env, capture_output=True, text=True, timeout=60)
    assert proc.returncode == 1
    assert "zhtj migrate" in proc.stderr and "数据库尚未迁移" in proc.stderr


def test_migrate_command(empty_database_url, tmp_path):
    env = dict(os.environ, DATABASE_URL=empty_database_url, ZHTJ_DATA_DIR=str(tmp_path))
    proc = subprocess.run([ZHTJ, "migrate"], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    assert "migrated" in proc.stdout
    again = subprocess.run([ZHTJ, "migrate"], env=env, capture_output=True, text=True, timeout=120)
    assert again.returncode == 0, again.stderr


async def test_migrations_match_the_models(database_url):
    """A model change without a migration (or the reverse) fails here."""
    engine = make_engine(database_url)
    try:
        async with engine.connect() as conn:
            diff = await conn.run_sync(
                lambda sync_conn: compare_metadata(MigrationContext.configure(sync_conn), SQLModel.metadata)
            )
    finally:
        await engine.dispose()
    assert diff == []
