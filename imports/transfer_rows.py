"""The bulk 办理转出 file of `zhtj transfers import`: its columns, and each row checked locally
and turned into the request body of a start (pure).

The file is read like `zhtj orgs import` reads its own (imports.reader: CSV in UTF-8 or GBK or
XLSX, header row, line numbers, Excel number precision); a column is named by its code, its
Chinese header or an alias. A row passes when its cells pass the checks a start makes of a
request on its own (the same domain rules the server applies): 姓名, 身份证号 (domain.idcard),
the transfer type (API code or Chinese name), the type's form (domain.forms.validate_form), the
target and partition; a member on two rows is a `duplicate` on the later one.

Rules: `required`, `too_long`, `length`/`format`/`birth_date`/`checksum` (身份证号),
`unknown_type`, `not_transferable` (出国（境）学习研究 stays at school), `partition`,
`duplicate`, and domain.forms' form rules (`required`, `not_for_type`, `too_long`, `date`,
`enum`, `type`, ...); from the reader `header_*`, `cell_without_header`, `number_precision`.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from domain import idcard
from domain.forms import FORM_FIELDS, validate_form
from domain.glossary import FORM_FIELD_LABELS, PARTITION_LABELS, TRANSFER_TYPE_LABELS, UNIT_KIND_LABELS
from domain.transfers import Channel, TransferType
from imports.fields import clip, today_shanghai
from imports.reader import Row, Table, read_table
from imports.report import RowError

LOCATION_KEYS: tuple[str, ...] = ("province", "city", "county", "township")
#: Form keys a bulk file may carry (type 5 出国（境）学习研究 is not transferred, so not its keys).
FORM_COLUMNS: tuple[str, ...] = (
    "school_name",
    "school_address",
    "employer_name",
    "employer_address",
    "address",
    "unit_kind",
    "joined_unit_on",
)
LOCATION_COLUMNS: tuple[str, ...] = tuple(f"location_{k}" for k in LOCATION_KEYS)
COLUMNS: tuple[str, ...] = (
    "name",
    "id_number",
    "type",
    *FORM_COLUMNS,
    *LOCATION_COLUMNS,
    "target_org_code",
    "partition",
)
REQUIRED: tuple[str, ...] = ("name", "id_number", "type")

COLUMN_LABELS: dict[str, str] = {
    "name": "姓名",
    "id_number": "身份证号",
    "type": "转接类型",
    **{k: FORM_FIELD_LABELS[k] for k in FORM_COLUMNS},
    **{f"location_{k}": FORM_FIELD_LABELS[f"location.{k}"] for k in LOCATION_KEYS},
    "target_org_code": "转入组织编码",
    "partition": "转入组织所属分区",
}
#: Further header names accepted (compared as the reader compares headers: NFKC, case aside).
COLUMN_ALIASES: dict[str, str] = {
    "身份证号码": "id_number",
    "公民身份号码": "id_number",
    "团员姓名": "name",
    "类型": "type",
    "转入组织": "target_org_code",
    "分区": "partition",
    "省": "location_province",
    "市": "location_city",
    "市州": "location_city",
    "县区": "location_county",
    "乡镇街道": "location_township",
}

NAME_MAX = 100
TARGET_MAX = 64
KEY_PREFIX = "bulk-"


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().lower()


_TYPE_NAMES: dict[str, TransferType] = {_nfkc(t.value): t for t in TransferType} | {
    _nfkc(TRANSFER_TYPE_LABELS[t]): t for t in TransferType
}
_UNIT_KINDS: dict[str, str] = {_nfkc(label): code for code, label in UNIT_KIND_LABELS.items()}
_PARTITIONS: dict[str, str] = (
    {_nfkc(p.value): p.value for p in PARTITION_LABELS}
    | {_nfkc(label): p.value for p, label in PARTITION_LABELS.items()}
    | {_nfkc(w): "national" for w in ("全国", "否", "no")}
)


def parse_type(text: str) -> TransferType | None:
    """A transfer type from its API code or its Chinese name (full- or half-width brackets)."""
    return _TYPE_NAMES.get(_nfkc(text))


def column_of(field_path: str) -> str:
    """The file column of an API/form error field: form.location.township → location_township."""
    parts = field_path.split(".")
    if parts[0] == "form":
        parts = parts[1:]
        if not parts:
            return ""
        if parts[0] == "location":
            return f"location_{parts[1]}" if len(parts) > 1 and parts[1] in LOCATION_KEYS else "location_province"
        return parts[0] if parts[0] in COLUMNS else ""
    if parts[0] == "transfer_type":
        return "type"
    return parts[0] if parts[0] in COLUMNS else ""


def read_bulk_table(path: Path) -> Table:
    """The file as text cells keyed by column; ImportFileError when it cannot be read at all."""
    return read_table(Path(path), columns=COLUMNS, required=REQUIRED, labels=COLUMN_LABELS, aliases=COLUMN_ALIASES)


# ---- one row -----------------------------------------------------------------------------------
@dataclass
class BulkRow:
    """A row that passed the local checks: its request body and Idempotency-Key."""

    line: int
    request: dict[str, Any]
    key: str = ""

    @property
    def masked_id(self) -> str:
        return idcard.mask(self.request["id_number"])

    @property
    def body(self) -> dict[str, Any]:
        """The row of a POST /api/transfers/bulk."""
        return {**self.request, "idempotency_key": self.key}


def idempotency_key(org_code: str, request: dict[str, Any]) -> str:
    """Stable across runs, files (CSV or XLSX) and row order: the org and the row's request."""
    basis = {
        "org": org_code.upper(),
        "id_number": request["id_number"],
        "type": request["type"],
        "target": request.get("target_org_code"),
        "partition": request.get("partition"),
        "form": request.get("form", {}),
    }
    digest = hashlib.sha256(json.dumps(basis, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    return KEY_PREFIX + digest[:48]


class _Problems(list[RowError]):
    """The problems found in one row."""

    def __init__(self, line: int) -> None:
        super().__init__()
        self.line = line

    def add(self, column: str, rule: str, message: str) -> None:
        self.append(RowError(self.line, column, rule, message))


def check_row(row: Row, *, today: date | None = None) -> tuple[dict[str, Any] | None, list[RowError]]:
    """A row's request body, or None and every local problem. Pure."""
    found = _Problems(row.line)
    name = _check_name(row, found)
    nid = _check_id_number(row, found, today or today_shanghai())
    ttype = _check_type(row, found)
    form = _check_form(row, ttype, found) if ttype is not None else {}
    target = _check_target(row, found)
    partition = _check_partition(row, found)
    if found or row.damaged or ttype is None:
        return None, list(found)
    request: dict[str, Any] = {
        "id_number": nid,
        "name": name,
        "type": ttype.value,
        "channel": Channel.OUT.value,
        "form": form,
    }
    if target:
        request["target_org_code"] = target
    if partition:
        request["partition"] = partition
    return request, []


def _check_name(row: Row, found: _Problems) -> str:
    name = row.get("name")
    if "name" not in row.damaged:
        if not name:
            found.add("name", "required", "请填写姓名")
        elif len(name) > NAME_MAX:
            found.add("name", "too_long", f"姓名不能超过{NAME_MAX}个字")
    return name


def _check_id_number(row: Row, found: _Problems, today: date) -> str:
    """The normalised 身份证号 ("" when missing or damaged) and its problems."""
    raw = row.get("id_number")
    if "id_number" in row.damaged:
        return ""
    if not raw:
        found.add("id_number", "required", "请填写身份证号")
        return ""
    for p in idcard.problems(raw, today=today):
        found.add("id_number", p.rule, p.message)
    return idcard.normalize(raw)


def _check_type(row: Row, found: _Problems) -> TransferType | None:
    """The row's transfer type; None when missing, unknown or not transferred."""
    raw = row.get("type")
    if not raw:
        found.add("type", "required", "请填写转接类型")
        return None
    ttype = parse_type(raw)
    if ttype is None:
        example = TRANSFER_TYPE_LABELS[TransferType.UNEMPLOYED]
        found.add(
            "type",
            "unknown_type",
            f"转接类型“{clip(raw)}”无效；应为 API 代码（如 unemployed）或中文名称（如 {example}）",
        )
        return None
    if ttype == TransferType.ABROAD_STUDY:
        found.add(
            "type",
            "not_transferable",
            "出国（境）学习研究的团员保留组织关系在原就读学校，请提交保留团组织关系申请，不办理转接",
        )
        return None
    return ttype


def _form_cells(ttype: TransferType, row: Row) -> dict[str, Any]:
    """The form object of a row: every filled form cell (a key of another type is reported by
    validate_form as not_for_type), and `location` nested from the location_* cells."""
    form: dict[str, Any] = {}
    for key in FORM_COLUMNS:
        value = row.get(key)
        if value and key not in row.damaged:
            form[key] = _UNIT_KINDS.get(_nfkc(value), value) if key == "unit_kind" else value
    location = {k: row.get(f"location_{k}") for k in LOCATION_KEYS if row.get(f"location_{k}")}
    if "location" in FORM_FIELDS[ttype]:
        if location or ttype != TransferType.SPECIAL_UNIT:  # optional only for special_unit
            form["location"] = location
    elif location:
        form["location"] = location  # reported as not_for_type
    return form


def _check_form(row: Row, ttype: TransferType, found: _Problems) -> dict[str, Any]:
    """The type's form, as validate_form normalises it, and its problems on their columns."""
    form = _form_cells(ttype, row)
    parsed, problems = validate_form(ttype, form)
    for p in problems:
        found.add(column_of(p.field), p.rule, p.message)
    return parsed.model_dump(mode="json", exclude_none=True) if parsed is not None else form


def _check_target(row: Row, found: _Problems) -> str:
    target = row.get("target_org_code")
    if len(target) > TARGET_MAX:
        found.add("target_org_code", "too_long", f"转入组织编码不能超过{TARGET_MAX}个字符")
    return target


def _check_partition(row: Row, found: _Problems) -> str | None:
    raw = row.get("partition")
    if not raw:
        return None
    partition = _PARTITIONS.get(_nfkc(raw))
    if partition is None:
        found.add(
            "partition",
            "partition",
            "转入组织所属分区应为 national（全国）、beijing（北京）、guangdong（广东）或 fujian（福建）",
        )
    return partition


# ---- the whole file ----------------------------------------------------------------------------
def check_table(table: Table, org_code: str, *, today: date | None = None) -> tuple[list[BulkRow], list[RowError]]:
    """Every row's local checks, and repeated members (the later line is the duplicate)."""
    rows: list[BulkRow] = []
    errors: list[RowError] = list(table.errors)
    bad_lines = {e.line for e in table.errors}
    seen: dict[str, int] = {}
    for row in table.rows:
        request, problems = check_row(row, today=today)
        errors += problems
        nid = idcard.normalize(row.get("id_number")) if row.get("id_number") else ""
        if nid and "id_number" not in row.damaged:
            if nid in seen:
                errors.append(
                    RowError(
                        row.line,
                        "id_number",
                        "duplicate",
                        f"与第{seen[nid]}行是同一团员（身份证号重复），每名团员只能有一行",
                    )
                )
                request = None
            else:
                seen[nid] = row.line
        if request is not None and row.line not in bad_lines:
            rows.append(BulkRow(row.line, request, idempotency_key(org_code, request)))
    return rows, errors
