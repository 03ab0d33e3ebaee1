"""`zhtj orgs import`: the org directory from CSV/XLSX (DOMAIN.md §2 "Org kinds and the import template").

Two pure steps, then one transaction:
1. `imports.org_rows.parse_org_row` checks each row's cells on their own;
2. `imports.org_resolve.resolve_orgs` checks rows against each other and the database
   (duplicates, parents, parent kinds, cycles, partition), fills inherited values in parent-first
   order and decides for each row whether it creates, updates or leaves an org unchanged;
3. here: `plan_orgs` loads what the rules need in a few batched queries and resolves; when the
   whole file is valid and this is not a dry run, `apply_orgs` writes it parents-first, and
   `import_orgs` records the import, all in one transaction. `zhtj seed demo` writes its
   directory with the same `plan_orgs` and `apply_orgs`.

Rules where the template leaves a choice (documented in the README):
- `partition` empty → the parent's partition; a root (province) with none → national. A given
  partition must equal the parent's: a partition is a province's whole subtree.
- region columns empty → the parent's value (the parent may be in the file or the database).
- `can_receive` empty → true; `new_student` empty → false, and true only for kind `branch`.
- a column absent from the header leaves that field of existing orgs as it is; new orgs get the
  empty-cell default.
- `kind` also accepts the Chinese kind name; `partition` also 北京/广东/福建/全国.
- changing the kind of an existing org is refused when it holds members and the new kind is not
  branch-level, or when its children in the database may not hang under the new kind.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import col

from imports.org_resolve import resolve_orgs
from imports.org_rows import ORG_COLUMNS, ORG_REQUIRED, OrgInput, OrgPlan, OrgSnapshot, parse_org_row
from imports.reader import Row
from imports.report import ImportReport, RowError
from imports.upsert import import_file
from models.directory import chunked, load_orgs_with_ancestors, org_info
from models.tables import Member, Org, row_id


def _parse(row: Row, present: list[str]) -> tuple[OrgInput, list[RowError]]:
    inp, errs = parse_org_row(row, present)
    if row.damaged:
        inp.cells_ok = False
    return inp, errs


@dataclass
class OrgPlanning:
    """The resolver's answer for some inputs, and the ids of the database orgs it saw by code
    (the inputs' orgs, their parents and all their ancestors)."""

    plans: list[OrgPlan]
    errors: list[RowError]
    ids: dict[str, int]


async def plan_orgs(session: AsyncSession, inputs: Sequence[OrgInput]) -> OrgPlanning:
    """Load what the rules need (a few batched queries) and resolve the inputs; writes nothing."""
    codes = {i.code for i in inputs if i.code} | {i.parent_code for i in inputs if i.parent_code}
    by_id = await load_orgs_with_ancestors(session, codes=codes)
    code_of = {o.id: o.code for o in by_id.values()}
    db: dict[str, OrgSnapshot] = {
        o.code: org_info(o, code_of.get(o.parent_id) if o.parent_id is not None else None) for o in by_id.values()
    }
    for o in by_id.values():  # plain snapshots from here on: later reads in this session see apply_orgs' writes
        session.expunge(o)
    with_members, children = await _kind_change_context(session, inputs, db, code_of)
    plans, errors = resolve_orgs(inputs, db, orgs_with_members=with_members, db_children=children)
    return OrgPlanning(plans, errors, {code: row_id(o.id) for code, o in db.items()})


async def _kind_change_context(
    session: AsyncSession,
    inputs: Sequence[OrgInput],
    db: Mapping[str, OrgSnapshot],
    code_of: Mapping[int | None, str],
) -> tuple[set[str], dict[str, list[tuple[str, str]]]]:
    """For the database orgs whose kind the inputs change: those holding members, and each one's
    children as (code, kind)."""
    changed = [db[i.code].id for i in inputs if i.code in db and i.kind is not None and db[i.code].kind != i.kind.value]
    with_members: set[str] = set()
    children: dict[str, list[tuple[str, str]]] = {}
    for chunk in chunked(changed):
        rows = await session.execute(select(col(Member.branch_id)).where(col(Member.branch_id).in_(chunk)).distinct())
        with_members |= {code_of[r[0]] for r in rows}
        kids = await session.execute(
            select(col(Org.parent_id), col(Org.code), col(Org.kind)).where(col(Org.parent_id).in_(chunk))
        )
        for parent_id, code, kind in kids:
            children.setdefault(code_of[parent_id], []).append((code, kind))
    return with_members, children


def _row_values(plan: OrgPlan, ids: Mapping[str, int]) -> dict[str, Any]:
    values = plan.values()
    values["parent_id"] = ids[plan.parent_code] if plan.parent_code else None
    del values["parent_code"]
    return values


async def apply_orgs(
    session: AsyncSession, plans: Sequence[OrgPlan], ids: Mapping[str, int], now: datetime
) -> dict[str, int]:
    """Write the plans parents first, one level at a time (its creates, then its updates by id);
    `ids` must hold every existing org a plan names. Returns `ids` with the created orgs'."""
    ids = dict(ids)
    for depth in sorted({p.depth for p in plans}):
        level = [p for p in plans if p.depth == depth]
        creates = [
            {"code": p.code, **_row_values(p, ids), "created_at": now, "updated_at": now}
            for p in level
            if p.action == "create"
        ]
        updates = [{"id": ids[p.code], **_row_values(p, ids), "updated_at": now} for p in level if p.action == "update"]
        if creates:
            created = await session.execute(insert(Org).returning(col(Org.code), col(Org.id)), creates)
            ids.update({code: row_id(org_id) for code, org_id in created})
        if updates:
            await session.execute(update(Org), updates)
    return ids


async def import_orgs(engine: AsyncEngine, path: Path, *, dry_run: bool = False, actor: str = "cli") -> ImportReport:
    """Validate an org file and, when every row is valid and not `dry_run`, upsert it by code.

    Raises `imports.reader.ImportFileError` when the file cannot be read at all.
    """

    async def apply(session: AsyncSession, planning: OrgPlanning, now: datetime) -> dict[str, object]:
        await apply_orgs(session, planning.plans, planning.ids, now)
        return {}

    return await import_file(
        engine,
        path,
        entity="orgs",
        columns=ORG_COLUMNS,
        required=ORG_REQUIRED,
        parse=_parse,
        plan=plan_orgs,
        apply=apply,
        dry_run=dry_run,
        actor=actor,
    )
