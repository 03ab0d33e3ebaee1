"""Configuration from environment variables (pydantic-settings).

Every variable is documented in the README. Nothing here does I/O except
creating the data directory when a caller asks for it.
"""

from __future__ import annotations

import os
import secrets
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from messages.digest import DIGEST_SCHEDULE_ID
from messages.transfers import WORKFLOW_ID_PREFIX

#: The task queue the worker polls and every start names, unless ZHTJ_TASK_QUEUE says otherwise.
TASK_QUEUE = "zhtj-transfer"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="", extra="ignore", populate_by_name=True)

    data_dir: Path = Field(default=Path(".zhtj"), alias="ZHTJ_DATA_DIR")
    database_url: str | None = Field(default=None, alias="DATABASE_URL")
    temporal_address: str | None = Field(default=None, alias="TEMPORAL_ADDRESS")
    temporal_namespace: str = Field(default="default", alias="TEMPORAL_NAMESPACE")
    task_queue: str = Field(default=TASK_QUEUE, alias="ZHTJ_TASK_QUEUE")
    workflow_id_prefix: str = Field(default=WORKFLOW_ID_PREFIX, alias="ZHTJ_WORKFLOW_ID_PREFIX")
    http_host: str = Field(default="127.0.0.1", alias="ZHTJ_HTTP_HOST")
    http_port: int = Field(default=8000, alias="ZHTJ_HTTP_PORT")
    temporal_port: int = Field(default=7233, alias="ZHTJ_TEMPORAL_PORT")
    temporal_ui_port: int = Field(default=8233, alias="ZHTJ_TEMPORAL_UI_PORT")
    time_scale: float = Field(default=1.0, alias="ZHTJ_TIME_SCALE")
    rehearsal_start: date | None = Field(default=None, alias="ZHTJ_REHEARSAL_START")
    rehearsal_epoch: float | None = Field(default=None, alias="ZHTJ_REHEARSAL_EPOCH")
    log_format: Literal["json", "console"] = Field(default="json", alias="ZHTJ_LOG_FORMAT")
    log_level: str = Field(default="INFO", alias="ZHTJ_LOG_LEVEL")
    secret_key: str | None = Field(default=None, alias="ZHTJ_SECRET_KEY")
    token_ttl_minutes: int = Field(default=480, alias="ZHTJ_TOKEN_TTL_MINUTES")
    digest_schedule_id: str = Field(default=DIGEST_SCHEDULE_ID, alias="ZHTJ_DIGEST_SCHEDULE_ID")
    # delivery channels (activities/delivery.py): mail when ZHTJ_SMTP_URL is set, webhooks always
    smtp_url: str | None = Field(default=None, alias="ZHTJ_SMTP_URL")
    smtp_from: str = Field(default="zhtj-transfer@localhost", alias="ZHTJ_SMTP_FROM")
    delivery_poll_seconds: float = Field(default=2.0, gt=0, alias="ZHTJ_DELIVERY_POLL_SECONDS")
    delivery_retry_seconds: float = Field(default=30.0, gt=0, alias="ZHTJ_DELIVERY_RETRY_SECONDS")
    delivery_retry_max_seconds: float = Field(default=3600.0, gt=0, alias="ZHTJ_DELIVERY_RETRY_MAX_SECONDS")
    delivery_give_up_hours: float = Field(default=24.0, gt=0, alias="ZHTJ_DELIVERY_GIVE_UP_HOURS")
    delivery_timeout_seconds: float = Field(default=10.0, gt=0, alias="ZHTJ_DELIVERY_TIMEOUT_SECONDS")
    delivery_heartbeat_seconds: float = Field(default=30.0, gt=0, alias="ZHTJ_DELIVERY_HEARTBEAT_SECONDS")

    @field_validator("time_scale")
    @classmethod
    def _positive_scale(cls, v: float) -> float:
        if v <= 0:
            raise ValueError("ZHTJ_TIME_SCALE must be a positive number (86400 makes a day one second)")
        return v

    @field_validator("database_url")
    @classmethod
    def _async_driver(cls, v: str | None) -> str | None:
        if v is None or v == "":
            return None
        if v.startswith(("postgresql://", "postgres://")):
            # Accept the plain form and use the async driver the app needs.
            return "postgresql+asyncpg://" + v.split("://", 1)[1]
        if v.startswith("sqlite://") and not v.startswith("sqlite+aiosqlite://"):
            return "sqlite+aiosqlite://" + v.split("://", 1)[1]
        return v

    @field_validator("smtp_url")
    @classmethod
    def _smtp_scheme(cls, v: str | None) -> str | None:
        if v is None or v == "":
            return None
        if not v.startswith(("smtp://", "smtps://")):
            raise ValueError("ZHTJ_SMTP_URL must be smtp://user:pass@host:port (or smtps:// for TLS from the start)")
        return v

    @property
    def effective_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'zhtj.sqlite3').resolve()}"

    @property
    def effective_temporal_address(self) -> str:
        return self.temporal_address or f"127.0.0.1:{self.temporal_port}"

    def signing_key(self) -> str:
        """ZHTJ_SECRET_KEY, else a random key kept in the data directory (created once, 0600)."""
        if self.secret_key:
            return self.secret_key
        path = self.ensure_data_dir() / "secret.key"
        if not path.exists():
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as f:
                f.write(secrets.token_urlsafe(48))
        return path.read_text().strip()

    def ensure_data_dir(self) -> Path:
        self.data_dir.mkdir(parents=True, exist_ok=True)
        return self.data_dir


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings_cache() -> None:
    """Forget the cached settings (tests change the environment)."""
    get_settings.cache_clear()
