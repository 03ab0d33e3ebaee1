"""The org template of `zhtj orgs import` (DOMAIN.md §2 "Org kinds and the import template"):
its columns, the check of one row's cells (step 1, pure), and the values the steps pass on.

`OrgInput` is a row after its cell checks (the seed builds them directly); `OrgSnapshot` an org
already in the database; `OrgPlan` what a valid row makes of its org (create, update, unchanged).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from domain.directory import OrgInfo
from domain.glossary import ORG_COLUMN_LABELS, ORG_KIND_LABELS, PARTITION_LABELS
from domain.orgs import OrgKind, Partition
from imports.fields import BOOL_HINT, clip, parse_bool
from imports.reader import Row
from imports.report import RowError

REGION_COLUMNS: tuple[str, ...] = ("province", "city", "county", "township")
ORG_COLUMNS: tuple[str, ...] = (
    "code",
    "name",
    "kind",
    "parent_code",
    "partition",
    *REGION_COLUMNS,
    "address",
    "can_receive",
    "new_student",
    "contact_phone",
    "contact_address",
)
ORG_REQUIRED: tuple[str, ...] = ("code", "name", "kind")

CODE_PATTERN = re.compile(r"^[A-Za-z0-9_-]+$")
CODE_MAX = 64
NAME_MAX = 200
REGION_MAX = 64
ADDRESS_MAX = 300
PHONE_MAX = 32
PHONE_PATTERN = re.compile(r"^\+?\d[\d-]*\d$")
EMAIL_MAX = 254
EMAIL_PATTERN = re.compile(r"^[^@\s,;<>]+@[^@\s,;<>]+\.[^@\s,;<>.][^@\s,;<>]*$")

_KIND_BY_TEXT: dict[str, OrgKind] = {k.value: k for k in OrgKind} | {v: k for k, v in ORG_KIND_LABELS.items()}
_PARTITION_BY_TEXT: dict[str, Partition] = (
    {p.value: p for p in Partition} | {v: p for p, v in PARTITION_LABELS.items()} | {"全国": Partition.NATIONAL}
)


def kind_name(kind: OrgKind | str) -> str:
    k = OrgKind(kind)
    return f"{ORG_KIND_LABELS[k]}({k.value})"


def phone_problem(phone: str, label: str = "联系电话") -> tuple[str, str] | None:
    """(rule, message) when a phone cell is not a phone number (the org and member templates)."""
    if len(phone) > PHONE_MAX:
        return "too_long", f"{label}最长{PHONE_MAX}个字符，实际{len(phone)}个"
    if not PHONE_PATTERN.match(phone):
        return "phone_format", f'{label}只能包含数字、开头的 + 和连字符 -，实际为 "{clip(phone)}"'
    return None


def email_problem(email: str, label: str = "电子邮箱") -> tuple[str, str] | None:
    """(rule, message) when an address cell is not one mail address."""
    if len(email) > EMAIL_MAX:
        return "too_long", f"{label}最长{EMAIL_MAX}个字符，实际{len(email)}个"
    if not EMAIL_PATTERN.match(email):
        return "email_format", f'{label}应为一个邮件地址（如 name@example.com），实际为 "{clip(email)}"'
    return None


def _label(col: str) -> str:
    return ORG_COLUMN_LABELS[col]


# ---------------------------------------------------------------------------------------------
# values


@dataclass
class OrgInput:
    """One file row after the cell checks. None means "empty cell" (or unusable value).

    `present`: the columns the file has. For an existing org, a column not present keeps the
    org's value; a new org takes the row's value (or the empty-cell default)."""

    line: int
    code: str
    name: str
    kind: OrgKind | None
    parent_code: str | None
    partition: Partition | None
    regions: dict[str, str | None]
    address: str | None
    can_receive: bool | None
    new_student: bool | None
    present: frozenset[str] = frozenset(ORG_COLUMNS)
    cells_ok: bool = True  # no cell error in this row
    bad_columns: frozenset[str] = frozenset()  # columns with a cell error
    contact_phone: str | None = None  # 联系电话 of the org's office (told to a member sent there)
    contact_address: str | None = None  # 联系地址 (where to go), when it differs from `address`


#: An org already in the database, as the resolver sees it: the directory's own view of a row
#: (`models.directory.org_info`), its `id` set.
OrgSnapshot = OrgInfo


#: Fields compared to decide update vs unchanged, in the order they are reported: every template
#: column but the key, then what the kind implies.
PLAN_FIELDS: tuple[str, ...] = (
    *(c for c in ORG_COLUMNS if c != "code"),
    "branch_level",
    "approval_authority",
)


@dataclass
class OrgPlan:
    """What one valid file row will make of its org."""

    line: int
    code: str
    name: str
    kind: str
    parent_code: str | None
    partition: str
    province: str | None
    city: str | None
    county: str | None
    township: str | None
    address: str | None
    contact_phone: str | None
    contact_address: str | None
    can_receive: bool
    new_student: bool
    branch_level: bool
    approval_authority: bool
    depth: int = 0  # 0 when the parent is not in the file; parents are written first
    action: str = "create"  # create | update | unchanged
    changed: tuple[str, ...] = ()

    def values(self) -> dict[str, object]:
        return {f: getattr(self, f) for f in PLAN_FIELDS}


# ---------------------------------------------------------------------------------------------
# step 1: one row's cells


def parse_org_row(row: Row, present: Iterable[str] = ORG_COLUMNS) -> tuple[OrgInput, list[RowError]]:
    """Check one row's cells on their own; every problem is returned, none is raised."""
    present = frozenset(present)
    line = row.line
    errs: list[RowError] = []

    def err(col: str, rule: str, msg: str) -> None:
        errs.append(RowError(line, col, rule, msg))

    code = row.get("code")
    if not code:
        err("code", "required", "组织编码不能为空")
    elif len(code) > CODE_MAX:
        err("code", "too_long", f"组织编码最长{CODE_MAX}个字符，实际{len(code)}个")
    elif not CODE_PATTERN.match(code):
        err("code", "pattern", f'组织编码 "{clip(code)}" 只能包含字母、数字、下划线和连字符（A-Z a-z 0-9 _ -）')

    name = row.get("name")
    if not name:
        err("name", "required", "组织名称不能为空")
    elif len(name) > NAME_MAX:
        err("name", "too_long", f"组织名称最长{NAME_MAX}个字符，实际{len(name)}个")

    kind: OrgKind | None = None
    kind_text = row.get("kind")
    if not kind_text:
        err("kind", "required", "组织类型不能为空；应为 " + ", ".join(k.value for k in OrgKind))
    else:
        kind = _KIND_BY_TEXT.get(kind_text) or _KIND_BY_TEXT.get(kind_text.lower())
        if kind is None:
            err(
                "kind",
                "unknown_kind",
                f'未知的组织类型 "{clip(kind_text)}"；应为 ' + ", ".join(k.value for k in OrgKind),
            )

    parent_code = row.get("parent_code") or None
    if parent_code is not None and (len(parent_code) > CODE_MAX or not CODE_PATTERN.match(parent_code)):
        err("parent_code", "pattern", f'上级组织编码 "{clip(parent_code)}" 不是有效的组织编码')
        parent_code = None

    partition: Partition | None = None
    part_text = row.get("partition")
    if part_text:
        partition = _PARTITION_BY_TEXT.get(part_text.lower()) or _PARTITION_BY_TEXT.get(part_text)
        if partition is None:
            err(
                "partition",
                "unknown_partition",
                f'未知的系统分区 "{clip(part_text)}"；应为 '
                + ", ".join(p.value for p in Partition)
                + "（留空则与上级相同）",
            )

    regions: dict[str, str | None] = {}
    for col in REGION_COLUMNS:
        value = row.get(col) or None
        if value is not None and len(value) > REGION_MAX:
            err(col, "too_long", f"{_label(col)}最长{REGION_MAX}个字符，实际{len(value)}个")
        regions[col] = value

    address = row.get("address") or None
    if address is not None and len(address) > ADDRESS_MAX:
        err("address", "too_long", f"详细地址最长{ADDRESS_MAX}个字符，实际{len(address)}个")

    contact_phone = row.get("contact_phone") or None
    problem = phone_problem(contact_phone) if contact_phone and "contact_phone" not in row.damaged else None
    if problem is not None:
        err("contact_phone", *problem)
    contact_address = row.get("contact_address") or None
    if contact_address is not None and len(contact_address) > ADDRESS_MAX:
        err("contact_address", "too_long", f"联系地址最长{ADDRESS_MAX}个字符，实际{len(contact_address)}个")

    flags: dict[str, bool | None] = {}
    for col in ("can_receive", "new_student"):
        text = row.get(col)
        flags[col] = None
        if text:
            flags[col] = parse_bool(text)
            if flags[col] is None:
                err(col, "boolean", f'{_label(col)}应为 {BOOL_HINT}，实际为 "{clip(text)}"')

    if flags["new_student"] and kind is not None and kind != OrgKind.BRANCH:
        err(
            "new_student",
            "new_student_kind",
            f"只有团支部(branch)可以标记为新生团组织；本行组织类型为 {kind_name(kind)}",
        )

    inp = OrgInput(
        line=line,
        code=code,
        name=name,
        kind=kind,
        parent_code=parent_code,
        partition=partition,
        regions=regions,
        address=address,
        contact_phone=contact_phone,
        contact_address=contact_address,
        can_receive=flags["can_receive"],
        new_student=flags["new_student"],
        present=present,
        cells_ok=not errs,
        bad_columns=frozenset(e.column for e in errs),
    )
    return inp, errs
