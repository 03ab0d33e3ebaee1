"""The member template of `zhtj members import` (DOMAIN.md §2, §3): its columns, the check of one
row's cells (step 1) and of the rows against each other and the database (step 2), both pure.

`MemberInput` is a row after its cell checks (the seed builds them directly); `MemberSnapshot` a
member already in the database; `MemberPlan` what a valid row makes of its member.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, fields, replace
from datetime import date
from typing import Any

from domain.glossary import MEMBER_COLUMN_LABELS
from domain.idcard import mask, normalize, problems
from domain.orgs import KIND_RULES, OrgKind
from imports.fields import clip, looks_scientific, parse_int, parse_iso_date, today_shanghai
from imports.org_rows import email_problem, kind_name, phone_problem
from imports.reader import Row
from imports.report import RowError

MEMBER_COLUMNS: tuple[str, ...] = (
    "id_number",
    "name",
    "branch_code",
    "joined_on",
    "graduation_year",
    "hukou_address",
    "residence_address",
    "phone",
    "email",
)
MEMBER_REQUIRED: tuple[str, ...] = ("id_number", "name", "branch_code")

NAME_MAX = 100
ADDRESS_MAX = 300
YEAR_MIN, YEAR_MAX = 2000, 2100

OPTIONAL_COLUMNS: tuple[str, ...] = (
    "joined_on",
    "graduation_year",
    "hukou_address",
    "residence_address",
    "phone",
    "email",
)


@dataclass
class MemberInput:
    """One row after the cell checks. For an existing member, a column not in `present` keeps the
    member's value (the branch too, when `branch_code` is not present); a new member takes the row's."""

    line: int
    id_number: str | None  # normalised; None when missing or invalid
    name: str
    branch_code: str
    joined_on: date | None
    graduation_year: int | None
    hukou_address: str | None
    residence_address: str | None
    phone: str | None
    present: frozenset[str] = frozenset(MEMBER_COLUMNS)
    #: Where a new member stands (a file import leaves them false; transfers own them afterwards).
    graduating: bool = False
    delayed_graduation: bool = False
    email: str | None = None  # where the member's notices are mailed


@dataclass(frozen=True)
class BranchInfo:
    """A database org a member row names as its branch."""

    id: int
    code: str
    kind: str
    school_id: int | None  # nearest ancestor of kind school


@dataclass(frozen=True)
class MemberValues:
    """What an import writes of a member besides the key (身份证号) and the flags of a new member:
    the fields compared to decide update vs unchanged."""

    name: str
    branch_id: int
    school_id: int | None
    joined_on: date | None
    graduation_year: int | None
    hukou_address: str | None
    residence_address: str | None
    phone: str | None
    email: str | None

    def values(self) -> dict[str, object]:
        return {f: getattr(self, f) for f in PLAN_FIELDS}


#: Fields compared to decide update vs unchanged.
PLAN_FIELDS: tuple[str, ...] = tuple(f.name for f in fields(MemberValues))


@dataclass(frozen=True)
class MemberSnapshot(MemberValues):
    id: int
    id_number: str


@dataclass(frozen=True)
class MemberPlan(MemberValues):
    line: int
    id_number: str
    action: str = "create"  # create | update | unchanged
    changed: tuple[str, ...] = ()
    member_id: int | None = None  # an existing member's
    old_branch_id: int | None = None
    graduating: bool = False  # written only when the member is created
    delayed_graduation: bool = False


# ---------------------------------------------------------------------------------------------
# step 1: one row's cells


def parse_member_row(
    row: Row, present: Iterable[str] = MEMBER_COLUMNS, *, today: date | None = None
) -> tuple[MemberInput, list[RowError]]:
    present = frozenset(present)
    today = today or today_shanghai()
    line = row.line
    errs: list[RowError] = []

    def err(col: str, rule: str, msg: str) -> None:
        errs.append(RowError(line, col, rule, msg))

    id_number: str | None = None
    raw_id = row.get("id_number")
    if "id_number" in row.damaged:
        pass  # already reported by the reader (a number cell that lost its last digits)
    elif not raw_id:
        err("id_number", "required", "身份证号不能为空")
    elif looks_scientific(raw_id):
        err(
            "id_number",
            "number_precision",
            f'身份证号 "{clip(raw_id)}" 是科学计数法，Excel 已丢失末尾数字；请把该列设为文本格式后重新填写',
        )
    else:
        found = problems(raw_id, today=today)
        for p in found:
            shown = f"：{mask(raw_id)}" if len(normalize(raw_id)) == 18 else ""
            err("id_number", f"id_{p.rule}", f"{p.message}{shown}")
        if not found:
            id_number = normalize(raw_id)

    name = row.get("name")
    if not name:
        err("name", "required", "姓名不能为空")
    elif len(name) > NAME_MAX:
        err("name", "too_long", f"姓名最长{NAME_MAX}个字符，实际{len(name)}个")

    branch_code = row.get("branch_code")
    if not branch_code:
        err("branch_code", "required", "所在团支部编码不能为空")

    joined_on: date | None = None
    text = row.get("joined_on")
    if text and "joined_on" not in row.damaged:
        joined_on = parse_iso_date(text)
        if joined_on is None:
            err("joined_on", "date_format", f'入团时间应为 YYYY-MM-DD 格式的有效日期，实际为 "{clip(text)}"')
        elif joined_on > today:
            err("joined_on", "date_future", f"入团时间 {joined_on.isoformat()} 晚于今天")
            joined_on = None

    graduation_year: int | None = None
    text = row.get("graduation_year")
    if text and "graduation_year" not in row.damaged:
        graduation_year = parse_int(text)
        if graduation_year is None or not YEAR_MIN <= graduation_year <= YEAR_MAX:
            err(
                "graduation_year",
                "year_range",
                f'毕业年份应为 {YEAR_MIN}–{YEAR_MAX} 之间的四位年份，实际为 "{clip(text)}"',
            )
            graduation_year = None

    addresses: dict[str, str | None] = {}
    for col in ("hukou_address", "residence_address"):
        value = row.get(col) or None
        if value is not None and len(value) > ADDRESS_MAX:
            err(col, "too_long", f"{MEMBER_COLUMN_LABELS[col]}最长{ADDRESS_MAX}个字符，实际{len(value)}个")
        addresses[col] = value

    phone = row.get("phone") or None
    problem = phone_problem(phone) if phone is not None and "phone" not in row.damaged else None
    if problem is not None:
        err("phone", *problem)

    email = row.get("email") or None
    problem = email_problem(email) if email is not None else None
    if problem is not None:
        err("email", *problem)

    inp = MemberInput(
        line=line,
        id_number=id_number,
        name=name,
        branch_code=branch_code,
        joined_on=joined_on,
        graduation_year=graduation_year,
        phone=phone,
        email=email,
        present=present,
        hukou_address=addresses["hukou_address"],
        residence_address=addresses["residence_address"],
    )
    return inp, errs


# ---------------------------------------------------------------------------------------------
# step 2: rows against each other and the database


def resolve_members(
    inputs: Sequence[MemberInput],
    branches: Mapping[str, BranchInfo],
    existing: Mapping[str, MemberSnapshot],
) -> tuple[list[MemberPlan], list[RowError]]:
    """Duplicates, branch checks and the create/update/unchanged decision (pure).

    `branches`: the database orgs named in `branch_code`, by code; `existing`: members already
    stored with the file's ID numbers, by normalised ID number.
    """
    errors: list[RowError] = []
    plans: list[MemberPlan] = []
    first_line: dict[str, int] = {}
    for inp in inputs:
        if inp.id_number is not None:
            if inp.id_number in first_line:
                errors.append(_duplicate(inp, first_line[inp.id_number]))
                continue
            first_line[inp.id_number] = inp.line
        branch, branch_error = _branch_of(inp, branches)
        if branch_error is not None:
            errors.append(branch_error)
        if branch is None or branch_error is not None or inp.id_number is None:
            continue
        plans.append(_plan(inp, inp.id_number, branch, existing.get(inp.id_number)))
    return plans, errors


def _duplicate(inp: MemberInput, first_line: int) -> RowError:
    assert inp.id_number is not None
    return RowError(
        inp.line,
        "id_number",
        "duplicate",
        f"身份证号 {mask(inp.id_number)} 在文件中重复（第{first_line}行已出现）",
    )


def _branch_of(inp: MemberInput, branches: Mapping[str, BranchInfo]) -> tuple[BranchInfo | None, RowError | None]:
    """The row's branch, or the error that it is missing or cannot hold members."""
    branch = branches.get(inp.branch_code) if inp.branch_code else None
    if inp.branch_code and branch is None:
        return None, RowError(
            inp.line,
            "branch_code",
            "branch_missing",
            f'所在团支部编码 "{clip(inp.branch_code)}" 在数据库中不存在（请先导入组织）',
        )
    if branch is not None and not KIND_RULES[OrgKind(branch.kind)].branch_level:
        return branch, RowError(
            inp.line,
            "branch_code",
            "branch_not_branch_level",
            f'组织 "{inp.branch_code}" 是 {kind_name(branch.kind)}，不能直接容纳团员；请填写团支部等支部级组织的编码',
        )
    return branch, None


def _plan(inp: MemberInput, id_number: str, branch: BranchInfo, snap: MemberSnapshot | None) -> MemberPlan:
    def kept(col: str) -> Any:
        if col not in inp.present and snap is not None:
            return getattr(snap, col)
        return getattr(inp, col)

    keep_branch = snap is not None and "branch_code" not in inp.present
    plan = MemberPlan(
        line=inp.line,
        id_number=id_number,
        name=inp.name,
        branch_id=snap.branch_id if snap is not None and keep_branch else branch.id,
        school_id=snap.school_id if snap is not None and keep_branch else branch.school_id,
        graduating=inp.graduating,
        delayed_graduation=inp.delayed_graduation,
        **{c: kept(c) for c in OPTIONAL_COLUMNS},
    )
    if snap is None:
        return plan
    changed = tuple(f for f in PLAN_FIELDS if getattr(snap, f) != getattr(plan, f))
    return replace(
        plan,
        changed=changed,
        action="update" if changed else "unchanged",
        member_id=snap.id,
        old_branch_id=snap.branch_id,
    )
