"""`zhtj members import`: league members from CSV/XLSX into their branches (DOMAIN.md §2, §3).

As for orgs: `parse_member_row` (cells, pure), `resolve_members` (against each other and the
database, pure), `import_members` (batched reads, one transaction).

Rules where the template leaves a choice (documented in the README):
- `id_number` is stored normalised (blanks removed, x → X) and is the key: an existing member
  with it is updated (moving them to another branch is allowed and recorded in the membership
  history with reason "import").
- `branch_code` must name a branch-level org already in the database (a members file cannot
  create orgs); `school_id` becomes the branch's nearest ancestor of kind school.
- `joined_on` optional, YYYY-MM-DD, not after today (Asia/Shanghai); `graduation_year` optional,
  2000..2100; `phone` optional, digits with an optional leading + and hyphens.
- a column absent from the header leaves that field of existing members as it is.
- member flags (graduating, delayed, mobile...) are never changed by an import.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from domain.glossary import MEMBER_COLUMN_LABELS
from domain.idcard import mask, normalize, problems
from domain.orgs import KIND_RULES, OrgKind
from imports.fields import clip, looks_scientific, parse_int, parse_iso_date, today_shanghai
from imports.orgs import kind_name
from imports.reader import Row, read_table
from imports.report import ImportReport, RowError
from models.db import session_scope
from models.directory import chunked, load_orgs_with_ancestors
from models.tables import AuditLog, Member, MembershipHistory, Org, utcnow

MEMBER_COLUMNS: tuple[str, ...] = (
    "id_number",
    "name",
    "branch_code",
    "joined_on",
    "graduation_year",
    "hukou_address",
    "residence_address",
    "phone",
)
MEMBER_REQUIRED: tuple[str, ...] = ("id_number", "name", "branch_code")

NAME_MAX = 100
ADDRESS_MAX = 300
PHONE_MAX = 32
YEAR_MIN, YEAR_MAX = 2000, 2100
PHONE_PATTERN = re.compile(r"^\+?\d[\d-]*\d$")

#: Fields compared to decide update vs unchanged.
PLAN_FIELDS: tuple[str, ...] = (
    "name",
    "branch_id",
    "school_id",
    "joined_on",
    "graduation_year",
    "hukou_address",
    "residence_address",
    "phone",
)
OPTIONAL_COLUMNS: tuple[str, ...] = ("joined_on", "graduation_year", "hukou_address", "residence_address", "phone")


@dataclass
class MemberInput:
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


@dataclass(frozen=True)
class BranchInfo:
    """A database org a member row names as its branch."""

    id: int
    code: str
    kind: str
    school_id: int | None  # nearest ancestor of kind school


@dataclass(frozen=True)
class MemberSnapshot:
    id: int
    id_number: str
    name: str
    branch_id: int
    school_id: int | None
    joined_on: date | None
    graduation_year: int | None
    hukou_address: str | None
    residence_address: str | None
    phone: str | None


@dataclass
class MemberPlan:
    line: int
    id_number: str
    name: str
    branch_id: int
    school_id: int | None
    joined_on: date | None
    graduation_year: int | None
    hukou_address: str | None
    residence_address: str | None
    phone: str | None
    action: str = "create"  # create | update | unchanged
    changed: tuple[str, ...] = ()
    old_branch_id: int | None = None

    def values(self) -> dict[str, object]:
        return {f: getattr(self, f) for f in PLAN_FIELDS}


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
    if phone is not None and "phone" not in row.damaged:
        if len(phone) > PHONE_MAX:
            err("phone", "too_long", f"联系电话最长{PHONE_MAX}个字符，实际{len(phone)}个")
        elif not PHONE_PATTERN.match(phone):
            err("phone", "phone_format", f'联系电话只能包含数字、开头的 + 和连字符 -，实际为 "{clip(phone)}"')

    inp = MemberInput(
        line=line,
        id_number=id_number,
        name=name,
        branch_code=branch_code,
        joined_on=joined_on,
        graduation_year=graduation_year,
        phone=phone,
        present=present,
        **addresses,
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
        ok = True
        if inp.id_number is not None:
            if inp.id_number in first_line:
                errors.append(
                    RowError(
                        inp.line,
                        "id_number",
                        "duplicate",
                        f"身份证号 {mask(inp.id_number)} 在文件中重复（第{first_line[inp.id_number]}行已出现）",
                    )
                )
                continue
            first_line[inp.id_number] = inp.line
        else:
            ok = False
        branch = branches.get(inp.branch_code) if inp.branch_code else None
        if inp.branch_code and branch is None:
            errors.append(
                RowError(
                    inp.line,
                    "branch_code",
                    "branch_missing",
                    f'所在团支部编码 "{clip(inp.branch_code)}" 在数据库中不存在（请先导入组织）',
                )
            )
            ok = False
        elif branch is not None and not KIND_RULES[OrgKind(branch.kind)].branch_level:
            errors.append(
                RowError(
                    inp.line,
                    "branch_code",
                    "branch_not_branch_level",
                    f'组织 "{inp.branch_code}" 是 {kind_name(branch.kind)}，不能直接容纳团员；'
                    "请填写团支部等支部级组织的编码",
                )
            )
            ok = False
        if not ok or branch is None or inp.id_number is None:
            continue
        snap = existing.get(inp.id_number)

        def kept(col: str):
            if col not in inp.present and snap is not None:
                return getattr(snap, col)
            return getattr(inp, col)

        plan = MemberPlan(
            line=inp.line,
            id_number=inp.id_number,
            name=inp.name,
            branch_id=branch.id,
            school_id=branch.school_id,
            **{c: kept(c) for c in OPTIONAL_COLUMNS},
        )
        if snap is not None:
            plan.changed = tuple(f for f in PLAN_FIELDS if getattr(snap, f) != getattr(plan, f))
            plan.action = "update" if plan.changed else "unchanged"
            plan.old_branch_id = snap.branch_id
        plans.append(plan)
    return plans, errors


# ---------------------------------------------------------------------------------------------
# step 3: the database


async def load_branches(session: AsyncSession, codes: Iterable[str]) -> dict[str, BranchInfo]:
    """The orgs with these codes and, for each, its nearest school ancestor."""
    codes = set(codes)
    by_id = await load_orgs_with_ancestors(session, codes=codes)
    out: dict[str, BranchInfo] = {}
    for org in by_id.values():
        if org.code not in codes:
            continue
        school_id = None
        node: Org | None = by_id.get(org.parent_id) if org.parent_id is not None else None
        seen = 0
        while node is not None and seen < 1000:
            if node.kind == OrgKind.SCHOOL.value:
                school_id = node.id
                break
            node = by_id.get(node.parent_id) if node.parent_id is not None else None
            seen += 1
        out[org.code] = BranchInfo(id=org.id, code=org.code, kind=org.kind, school_id=school_id)
    return out


async def load_members(session: AsyncSession, id_numbers: Iterable[str]) -> dict[str, Member]:
    out: dict[str, Member] = {}
    for chunk in chunked(sorted(set(id_numbers))):
        for m in (await session.execute(select(Member).where(Member.id_number.in_(chunk)))).scalars():
            out[m.id_number] = m
    return out


def member_snapshot(m: Member) -> MemberSnapshot:
    return MemberSnapshot(
        id=m.id,
        id_number=m.id_number,
        name=m.name,
        branch_id=m.branch_id,
        school_id=m.school_id,
        joined_on=m.joined_on,
        graduation_year=m.graduation_year,
        hukou_address=m.hukou_address,
        residence_address=m.residence_address,
        phone=m.phone,
    )


def member_inputs(path: Path, *, today: date | None = None) -> tuple[list[MemberInput], list[RowError], int, bool]:
    """Read and cell-check a file: (inputs, errors, data rows, header ok)."""
    table = read_table(path, columns=MEMBER_COLUMNS, required=MEMBER_REQUIRED, labels=MEMBER_COLUMN_LABELS)
    errors = list(table.errors)
    header_ok = not any(e.line == 1 for e in table.errors)
    inputs: list[MemberInput] = []
    for row in table.rows:
        inp, errs = parse_member_row(row, table.columns, today=today)
        inputs.append(inp)
        errors.extend(errs)
    return inputs, errors, len(table.rows), header_ok


async def import_members(
    engine: AsyncEngine, path: Path, *, dry_run: bool = False, actor: str = "cli", today: date | None = None
) -> ImportReport:
    """Validate a member file and, when every row is valid and not `dry_run`, upsert by 身份证号.

    Raises `imports.reader.ImportFileError` when the file cannot be read at all.
    """
    path = Path(path)
    report = ImportReport(entity="members", file=path.name, dry_run=dry_run)
    inputs, errors, report.rows, header_ok = member_inputs(path, today=today)
    report.errors.extend(errors)
    if not header_ok:
        return report

    async with session_scope(engine) as session:
        branches = await load_branches(session, {i.branch_code for i in inputs if i.branch_code})
        members = await load_members(session, {i.id_number for i in inputs if i.id_number})
        plans, errors = resolve_members(inputs, branches, {k: member_snapshot(m) for k, m in members.items()})
        report.errors.extend(errors)
        report.tally(p.action for p in plans)
        if not report.ok:
            return report
        if dry_run or not (report.created or report.updated):
            return report

        now = utcnow()
        moved: list[tuple[Member, int]] = []
        for p in plans:
            if p.action == "create":
                session.add(Member(id_number=p.id_number, created_at=now, updated_at=now, **p.values()))
            elif p.action == "update":
                m = members[p.id_number]
                for k, v in p.values().items():
                    setattr(m, k, v)
                m.updated_at = now
                if p.old_branch_id != p.branch_id:
                    moved.append((m, p.old_branch_id))
        await session.flush()
        for m, old_branch_id in moved:
            session.add(
                MembershipHistory(
                    member_id=m.id,
                    from_branch_id=old_branch_id,
                    to_branch_id=m.branch_id,
                    reason="import",
                    at=now,
                )
            )
        session.add(
            AuditLog(
                at=now,
                actor=actor,
                action="members.import",
                entity="import",
                entity_id=None,
                detail={
                    "file": path.name,
                    "rows": report.rows,
                    "created": report.created,
                    "updated": report.updated,
                    "unchanged": report.unchanged,
                    "moved": len(moved),
                },
            )
        )
    report.written = True
    return report
