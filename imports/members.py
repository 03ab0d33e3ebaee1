"""`zhtj members import`: league members from CSV/XLSX into their branches (DOMAIN.md §2, §3).

As for orgs: `imports.member_rows.parse_member_row` (cells, pure), `resolve_members` (against
each other and the database, pure); here `plan_members` (batched reads), `apply_members` (the
writes) and `import_members`, all in one transaction. `zhtj seed demo` writes its members with
the same `plan_members` and `apply_members`.

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

import dataclasses
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from domain.orgs import OrgKind
from imports.member_rows import (
    MEMBER_COLUMNS,
    MEMBER_REQUIRED,
    BranchInfo,
    MemberInput,
    MemberPlan,
    MemberSnapshot,
    parse_member_row,
    resolve_members,
)
from imports.reader import Row
from imports.report import ImportReport, RowError
from imports.upsert import import_file
from models.directory import chunked, load_orgs_with_ancestors
from models.tables import Member, MembershipHistory, Org, table_of

_SNAPSHOT_COLUMNS = tuple(f.name for f in dataclasses.fields(MemberSnapshot))


async def load_branches(session: AsyncSession, codes: Iterable[str]) -> dict[str, BranchInfo]:
    """The orgs with these codes and, for each, its nearest school ancestor."""
    codes = set(codes)
    by_id = await load_orgs_with_ancestors(session, codes=codes)
    return {
        org.code: BranchInfo(id=org_id, code=org.code, kind=org.kind, school_id=_school_of(org, by_id))
        for org_id, org in by_id.items()
        if org.code in codes
    }


def _school_of(org: Org, by_id: dict[int, Org]) -> int | None:
    """The id of the org's nearest ancestor of kind school, if any."""
    node = by_id.get(org.parent_id) if org.parent_id is not None else None
    seen = 0
    while node is not None and seen < 1000:
        if node.kind == OrgKind.SCHOOL.value:
            return node.id
        node = by_id.get(node.parent_id) if node.parent_id is not None else None
        seen += 1
    return None


async def load_members(session: AsyncSession, id_numbers: Iterable[str]) -> dict[str, MemberSnapshot]:
    """The stored members with these (normalised) ID numbers, by ID number."""
    table = table_of(Member)
    columns = [table.c[c] for c in _SNAPSHOT_COLUMNS]
    out: dict[str, MemberSnapshot] = {}
    for chunk in chunked(sorted(set(id_numbers))):
        for row in (await session.execute(select(*columns).where(table.c.id_number.in_(chunk)))).mappings():
            out[row["id_number"]] = MemberSnapshot(**row)
    return out


@dataclass
class MemberPlanning:
    plans: list[MemberPlan]
    errors: list[RowError]


async def plan_members(session: AsyncSession, inputs: Sequence[MemberInput]) -> MemberPlanning:
    """Load the branches and stored members the inputs name (batched) and resolve; writes nothing."""
    branches = await load_branches(session, {i.branch_code for i in inputs if i.branch_code})
    existing = await load_members(session, {i.id_number for i in inputs if i.id_number})
    return MemberPlanning(*resolve_members(inputs, branches, existing))


async def apply_members(session: AsyncSession, plans: Sequence[MemberPlan], now: datetime) -> int:
    """Insert the new members, update the changed ones by id, and record each move to another
    branch in the membership history (reason "import"). Returns how many moved."""
    creates = [
        {
            "id_number": p.id_number,
            **p.values(),
            "graduating": p.graduating,
            "delayed_graduation": p.delayed_graduation,
            "mobile": False,
            "abroad_retention": False,
            "in_special_unit_db": False,
            "created_at": now,
            "updated_at": now,
        }
        for p in plans
        if p.action == "create"
    ]
    updated = [p for p in plans if p.action == "update"]
    if creates:
        await session.execute(insert(Member), creates)
    if updated:
        await session.execute(update(Member), [{"id": p.member_id, **p.values(), "updated_at": now} for p in updated])
    moves = [
        {
            "member_id": p.member_id,
            "from_branch_id": p.old_branch_id,
            "to_branch_id": p.branch_id,
            "reason": "import",
            "at": now,
        }
        for p in updated
        if p.old_branch_id != p.branch_id
    ]
    if moves:
        await session.execute(insert(MembershipHistory), moves)
    return len(moves)


async def import_members(
    engine: AsyncEngine, path: Path, *, dry_run: bool = False, actor: str = "cli", today: date | None = None
) -> ImportReport:
    """Validate a member file and, when every row is valid and not `dry_run`, upsert by 身份证号.

    Raises `imports.reader.ImportFileError` when the file cannot be read at all.
    """

    def parse(row: Row, present: list[str]) -> tuple[MemberInput, list[RowError]]:
        return parse_member_row(row, present, today=today)

    async def apply(session: AsyncSession, planning: MemberPlanning, now: datetime) -> dict[str, object]:
        return {"moved": await apply_members(session, planning.plans, now)}

    return await import_file(
        engine,
        path,
        entity="members",
        columns=MEMBER_COLUMNS,
        required=MEMBER_REQUIRED,
        parse=parse,
        plan=plan_members,
        apply=apply,
        dry_run=dry_run,
        actor=actor,
    )
