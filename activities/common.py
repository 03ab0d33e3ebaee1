"""Helpers the persisting activities share."""

from __future__ import annotations

from typing import Any


def json_safe(value: Any) -> Any:
    """A value for a JSON column: dicts, lists and scalars as they are, anything else as text."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)
