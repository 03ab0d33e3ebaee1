"""Presentation helpers of the UI: the templates with their filters and the glossary's labels,
local times, and the mapping of service problems onto form fields."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime
from pathlib import Path
from typing import Any

from fastapi.templating import Jinja2Templates

from domain import idcard
from domain.deadlines import SHANGHAI
from domain.glossary import (
    ACTION_LABELS,
    CHANNEL_LABELS,
    FORM_FIELD_LABELS,
    NODE_STATUS_LABELS,
    ORG_KIND_LABELS,
    PARTITION_LABELS,
    PARTITION_QUESTION,
    RETURN_REASON_LABELS,
    TRANSFER_STATUS_LABELS,
    TRANSFER_TYPE_LABELS,
    UNIT_KIND_LABELS,
)
from domain.roles import Role
from domain.transfers import FORBIDDEN_RETURN_REASONS
from service.errors import Problem

TEMPLATES_DIR = Path(__file__).resolve().parent.parent / "templates"
templates = Jinja2Templates(directory=str(TEMPLATES_DIR))


def label_of(mapping: dict, code: Any) -> str:
    for k, v in mapping.items():
        if k == code or getattr(k, "value", None) == code:
            return v
    return "" if code is None else str(code)


def local_time(value: datetime | date | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """An instant as Asia/Shanghai wall time."""
    if value is None:
        return "—"
    if isinstance(value, datetime):
        return value.astimezone(SHANGHAI).strftime(fmt)
    return value.strftime("%Y-%m-%d")


#: The 退回 form's choices: (code, label, whether the 《通知》 forbids it as a ground).
RETURN_REASON_CHOICES: list[tuple[str, str, bool]] = [
    (code.value, label, code in FORBIDDEN_RETURN_REASONS) for code, label in RETURN_REASON_LABELS.items()
]

#: Service problem fields → the form input they belong beside.
FIELD_INPUTS: dict[str, str] = {
    "form.location": "loc_province",
    "form.location.province": "loc_province",
    "form.location.city": "loc_city",
    "form.location.county": "loc_county",
    "form.location.township": "loc_township",
    "transfer_type": "type",
    "decision": "reason_code",
    "branch_code": "branch_code",
}


def input_for(field: str) -> str:
    if field in FIELD_INPUTS:
        return FIELD_INPUTS[field]
    return field[len("form.") :] if field.startswith("form.") else field


def field_errors(problems: Iterable[Problem]) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for p in problems:
        out.setdefault(input_for(p.field), []).append(p.message)
    return out


def form_rows(form: dict[str, Any]) -> list[tuple[str, str]]:
    """A stored form as (label, value) rows, in Chinese."""
    rows = []
    for key, value in (form or {}).items():
        if key == "location" and isinstance(value, dict):
            text = "".join(
                value.get(k) or ""
                for k in ("province", "city", "county", "township")
                if not (k == "city" and value.get("city") == value.get("province"))
            )
            rows.append((FORM_FIELD_LABELS["location"], text))
        elif key == "unit_kind":
            rows.append((FORM_FIELD_LABELS[key], UNIT_KIND_LABELS.get(value, value)))
        else:
            rows.append((FORM_FIELD_LABELS.get(key, key), str(value)))
    return rows


def _install() -> None:
    env = templates.env
    env.filters["localtime"] = local_time
    env.filters["mask"] = idcard.mask
    env.filters["type_label"] = lambda c: label_of(TRANSFER_TYPE_LABELS, c)
    env.filters["status_label"] = lambda c: label_of(TRANSFER_STATUS_LABELS, c)
    env.filters["node_status_label"] = lambda c: label_of(NODE_STATUS_LABELS, c)
    env.filters["channel_label"] = lambda c: label_of(CHANNEL_LABELS, c)
    env.filters["reason_label"] = lambda c: label_of(RETURN_REASON_LABELS, c)
    env.filters["kind_label"] = lambda c: label_of(ORG_KIND_LABELS, c)
    env.filters["action_label"] = lambda c: ACTION_LABELS.get(c, c)
    env.globals.update(
        TRANSFER_TYPE_LABELS={k.value: v for k, v in TRANSFER_TYPE_LABELS.items()},
        TRANSFER_STATUS_LABELS={k.value: v for k, v in TRANSFER_STATUS_LABELS.items()},
        PARTITION_LABELS={k.value: v for k, v in PARTITION_LABELS.items()},
        PARTITION_QUESTION=PARTITION_QUESTION,
        FORM_FIELD_LABELS=FORM_FIELD_LABELS,
        UNIT_KIND_LABELS=UNIT_KIND_LABELS,
        RETURN_REASON_CHOICES=RETURN_REASON_CHOICES,
        Role=Role,
    )


_install()
