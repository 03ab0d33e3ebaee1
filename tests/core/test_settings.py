from pathlib import Path

import pytest
from pydantic import ValidationError

from core.settings import Settings


def test_defaults(monkeypatch):
    for var in ("ZHTJ_DATA_DIR", "DATABASE_URL", "TEMPORAL_ADDRESS", "ZHTJ_TIME_SCALE", "ZHTJ_HTTP_PORT"):
        monkeypatch.delenv(var, raising=False)
    s = Settings()
    assert s.data_dir == Path(".zhtj")
    assert s.effective_database_url.startswith("sqlite+aiosqlite:///")
    assert s.effective_database_url.endswith(".zhtj/zhtj.sqlite3")
    assert s.effective_temporal_address == "127.0.0.1:7233"
    assert s.time_scale == 1.0 and s.http_port == 8000 and s.log_format == "json"


def test_environment_overrides(monkeypatch, tmp_path):
    monkeypatch.setenv("ZHTJ_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("TEMPORAL_ADDRESS", "temporal.example:7233")
    monkeypatch.setenv("TEMPORAL_NAMESPACE", "zhtj")
    monkeypatch.setenv("ZHTJ_HTTP_PORT", "9000")
    monkeypatch.setenv("ZHTJ_TIME_SCALE", "86400")
    monkeypatch.setenv("ZHTJ_LOG_FORMAT", "console")
    monkeypatch.delenv("DATABASE_URL", raising=False)
    s = Settings()
    assert s.effective_database_url == f"sqlite+aiosqlite:///{tmp_path.resolve()}/zhtj.sqlite3"
    assert s.effective_temporal_address == "temporal.example:7233"
    assert (s.temporal_namespace, s.http_port, s.time_scale, s.log_format) == ("zhtj", 9000, 86400.0, "console")


@pytest.mark.parametrize(
    "given, used",
    [
        ("postgresql://u:p@db:5432/zhtj", "postgresql+asyncpg://u:p@db:5432/zhtj"),
        ("postgres://u@db/zhtj", "postgresql+asyncpg://u@db/zhtj"),
        ("postgresql+asyncpg://u@db/zhtj", "postgresql+asyncpg://u@db/zhtj"),
        ("sqlite:////tmp/x.db", "sqlite+aiosqlite:////tmp/x.db"),
    ],
)
def test_database_url_gets_async_driver(monkeypatch, given, used):
    monkeypatch.setenv("DATABASE_URL", given)
    assert Settings().effective_database_url == used


@pytest.mark.parametrize("bad", ["0", "-1", "abc"])
def test_time_scale_must_be_positive(monkeypatch, bad):
    monkeypatch.setenv("ZHTJ_TIME_SCALE", bad)
    with pytest.raises(ValidationError, match="ZHTJ_TIME_SCALE|time_scale"):
        Settings()


def test_log_format_is_checked(monkeypatch):
    monkeypatch.setenv("ZHTJ_LOG_FORMAT", "xml")
    with pytest.raises(ValidationError):
        Settings()
