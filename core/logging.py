"""structlog everywhere: JSON (or console) lines carrying workflow/run ids, never a whole 身份证号.

`configure()` routes the standard library's logging (uvicorn, temporalio, alembic) through the
same processors, so every line in every process is masked and formatted alike.
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import structlog

from core.settings import get_settings
from domain.idcard import mask_text

_configured: tuple[str, str] | None = None


def _mask_value(value: Any) -> Any:
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: _mask_value(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return (
            type(value)(_mask_value(v) for v in value)
            if not isinstance(value, tuple)
            else tuple(_mask_value(v) for v in value)
        )
    if isinstance(value, BaseException):
        return mask_text(repr(value))
    return value


def mask_ids(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """Processor: mask every 18-character 身份证号 in every field (keys too), nested or not."""
    return {mask_text(k) if isinstance(k, str) else k: _mask_value(v) for k, v in event_dict.items()}


def _mask_rendered(_logger: Any, _method: str, event_dict: Any) -> Any:
    """Last line of defence: mask the rendered line (tracebacks are rendered late)."""
    if isinstance(event_dict, str):
        return mask_text(event_dict)
    return event_dict


def _temporal_extra(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """Lift the workflow/activity info temporalio puts on stdlib records into top-level fields."""
    record = event_dict.get("_record")
    if record is None:
        return event_dict
    for attr, keys in (
        ("temporal_workflow", ("workflow_id", "run_id", "workflow_type", "task_queue")),
        ("temporal_activity", ("workflow_id", "workflow_run_id", "activity_id", "activity_type")),
    ):
        info = getattr(record, attr, None)
        if isinstance(info, dict):
            for k in keys:
                if k in info and k not in event_dict:
                    event_dict["run_id" if k == "workflow_run_id" else k] = info[k]
    return event_dict


def configure(fmt: str = "json", level: str = "INFO", stream: Any = None) -> None:
    """Configure structlog and stdlib logging once per process (idempotent)."""
    global _configured
    if _configured == (fmt, level) and stream is None:
        return
    shared: list[Any] = [
        structlog.contextvars.merge_contextvars,
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        _temporal_extra,
        structlog.processors.format_exc_info,
        mask_ids,
    ]
    renderer: Any = (
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if fmt == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[structlog.stdlib.filter_by_level, *shared, structlog.stdlib.ProcessorFormatter.wrap_for_formatter],
        logger_factory=structlog.stdlib.LoggerFactory(),
        wrapper_class=structlog.stdlib.BoundLogger,
        cache_logger_on_first_use=False,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=shared,
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, renderer, _mask_rendered],
    )
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for noisy in ("sqlalchemy.engine", "aiosqlite", "asyncio", "httpx", "httpcore", "alembic.runtime.plugins"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lg = logging.getLogger(name)
        lg.handlers[:] = []
        lg.propagate = True
    _configured = (fmt, level) if stream is None else None


def configure_from_settings() -> None:
    s = get_settings()
    configure(s.log_format, s.log_level)


def get_logger(name: str | None = None, **bound: Any) -> structlog.stdlib.BoundLogger:
    logger: structlog.stdlib.BoundLogger = structlog.get_logger(name)
    return logger.bind(**bound) if bound else logger
