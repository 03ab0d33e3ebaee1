"""`zhtj orgs import`: the org directory from CSV/XLSX (DOMAIN.md §2 "Org kinds and the import template").

Two pure steps, then one transaction:
1. `parse_org_row` checks each row's cells on their own;
2. `resolve_orgs` checks rows against each other and the database (duplicates, parents, parent
   kinds, cycles, partition), fills inherited values in parent-first order and decides for each
   row whether it creates, updates or leaves an org unchanged;
3. `import_orgs` loads what the rules need in a few batched queries and, when the whole file is
   valid and this is not a dry run, writes it parents-first in one transaction.

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

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.glossary import ORG_COLUMN_LABELS, ORG_KIND_LABELS, PARTITION_LABELS
from domain.orgs import ALLOWED_PARENTS, KIND_RULES, OrgKind, Partition, parent_allowed
from imports.fields import BOOL_HINT, clip, parse_bool
from imports.reader import Row, read_table
from imports.report import ImportReport, RowError
from models.db import session_scope
from models.directory import chunked, load_orgs_with_ancestors
from models.tables import AuditLog, Member, Org, utcnow

ORG_COLUMNS: tuple[str, ...] = (
    "code",
    "name",
    "kind",
    "parent_code",
    "partition",
    "province",
    "city",
    "county",
    "township",
    "address",
    "can_receive",
    "new_student",
)
ORG_REQUIRED: tuple[str, ...] = ("code", "name", "kind")
REGION_COLUMNS: tuple[str, ...] = ("province", "city", "county", "township")

CODE_PATTERN = re.compile(r"^[A-Za-z0-9_-]+$")
CODE_MAX = 64
NAME_MAX = 200
REGION_MAX = 64
ADDRESS_MAX = 300

_KIND_BY_TEXT: dict[str, OrgKind] = {k.value: k for k in OrgKind} | {v: k for k, v in ORG_KIND_LABELS.items()}
_PARTITION_BY_TEXT: dict[str, Partition] = (
    {p.value: p for p in Partition} | {v: p for p, v in PARTITION_LABELS.items()} | {"全国": Partition.NATIONAL}
)


def kind_name(kind: OrgKind | str) -> str:
    k = OrgKind(kind)
    return f"{ORG_KIND_LABELS[k]}({k.value})"


def _label(col: str) -> str:
    return ORG_COLUMN_LABELS[col]


# ---------------------------------------------------------------------------------------------
# values


@dataclass
class OrgInput:
    """One file row after the cell checks. None means "empty cell" (or unusable value)."""

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


@dataclass(frozen=True)
class OrgSnapshot:
    """An org already in the database, as the resolver sees it."""

    id: int
    code: str
    name: str
    kind: str
    parent_code: str | None
    partition: str
    province: str | None = None
    city: str | None = None
    county: str | None = None
    township: str | None = None
    address: str | None = None
    can_receive: bool = True
    new_student: bool = False
    branch_level: bool = False
    approval_authority: bool = False

    def region(self, col: str) -> str | None:
        return getattr(self, col)


#: Fields compared to decide update vs unchanged, in the order they are reported.
PLAN_FIELDS: tuple[str, ...] = (
    "name",
    "kind",
    "parent_code",
    "partition",
    "province",
    "city",
    "county",
    "township",
    "address",
    "can_receive",
    "new_student",
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
    can_receive: bool
    new_student: bool
    branch_level: bool
    approval_authority: bool
    depth: int = 0  # 0 when the parent is not in the file; parents are written first
    action: str = "create"  # create | update | unchanged
    changed: tuple[str, ...] = ()

    def region(self, col: str) -> str | None:
        return getattr(self, col)

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
        can_receive=flags["can_receive"],
        new_student=flags["new_student"],
        present=present,
        cells_ok=not errs,
        bad_columns=frozenset(e.column for e in errs),
    )
    return inp, errs


# ---------------------------------------------------------------------------------------------
# step 2: rows against each other and the database


def _allowed_parents_text(kind: OrgKind) -> str:
    allowed = ALLOWED_PARENTS[kind]
    if allowed is None:
        return "无（只能是顶级组织）"
    return "、".join(kind_name(k) for k in OrgKind if k in allowed)


def resolve_orgs(
    inputs: Sequence[OrgInput],
    db: Mapping[str, OrgSnapshot],
    *,
    orgs_with_members: Iterable[str] = (),
    db_children: Mapping[str, Sequence[tuple[str, str]]] | None = None,
) -> tuple[list[OrgPlan], list[RowError]]:
    """Cross-row rules, inheritance and the create/update/unchanged decision (pure).

    `db` holds the database orgs the file touches: every org whose code is in the file, every
    referenced parent and all their ancestors (for the cycle check). `orgs_with_members` and
    `db_children` (code → [(child code, child kind)]) are needed only for orgs whose kind changes.
    """
    errors: list[RowError] = []
    with_members = set(orgs_with_members)
    db_children = db_children or {}

    # duplicates: the first row with a code wins, later ones are errors
    first: dict[str, OrgInput] = {}
    rows: list[OrgInput] = []
    for inp in inputs:
        if inp.code and inp.code in first:
            errors.append(
                RowError(
                    inp.line,
                    "code",
                    "duplicate",
                    f'组织编码 "{inp.code}" 在文件中重复（第{first[inp.code].line}行已出现）',
                )
            )
            continue
        if inp.code:
            first[inp.code] = inp
        rows.append(inp)

    blocked: set[str] = set()  # codes whose row cannot be resolved (errors here or above)

    def parent_of(code: str) -> str | None:
        if code in first:
            return first[code].parent_code
        snap = db.get(code)
        return snap.parent_code if snap else None

    def kind_of(code: str) -> str | None:
        if code in first:
            k = first[code].kind
            return k.value if k else None
        snap = db.get(code)
        return snap.kind if snap else None

    # parents: present, of an allowed kind
    for inp in rows:
        if not inp.code:
            continue
        if inp.kind is None or "parent_code" in inp.bad_columns:
            blocked.add(inp.code)
            continue
        pc = inp.parent_code
        if pc is None:
            if not parent_allowed(inp.kind, None):
                errors.append(
                    RowError(
                        inp.line,
                        "parent_code",
                        "parent_required",
                        f"{kind_name(inp.kind)} 必须填写上级组织编码；允许的上级类型：{_allowed_parents_text(inp.kind)}",
                    )
                )
                blocked.add(inp.code)
            continue
        if pc == inp.code:
            continue  # reported by the cycle check
        if pc not in first and pc not in db:
            errors.append(
                RowError(inp.line, "parent_code", "parent_missing", f'上级组织编码 "{pc}" 在文件和数据库中都不存在')
            )
            blocked.add(inp.code)
            continue
        pk = kind_of(pc)
        if pk is None:
            blocked.add(inp.code)  # the parent row has its own error
            continue
        if not parent_allowed(inp.kind, pk):
            if ALLOWED_PARENTS[inp.kind] is None:
                msg = (
                    f'{kind_name(inp.kind)} 只能是顶级组织，上级组织编码应留空（填写的上级 "{pc}" 是 {kind_name(pk)}）'
                )
            else:
                msg = (
                    f'{kind_name(inp.kind)} 不能挂在 {kind_name(pk)} 下（上级组织编码 "{pc}"）；'
                    f"允许的上级类型：{_allowed_parents_text(inp.kind)}"
                )
            errors.append(RowError(inp.line, "parent_code", "parent_kind", msg))
            blocked.add(inp.code)

    # cycles, following file parents first and database parents otherwise
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    for inp in rows:
        if not inp.code or inp.code in state:
            continue
        path: list[str] = []
        node: str | None = inp.code
        while node is not None and node not in state and (node in first or node in db):
            state[node] = 1
            path.append(node)
            node = parent_of(node)
        if node is not None and state.get(node) == 1:
            cycle = path[path.index(node) :]
            chain = " → ".join(cycle + [node])
            for code in cycle:
                if code in first:
                    errors.append(
                        RowError(first[code].line, "parent_code", "cycle", f"上级组织编码形成循环：{clip(chain, 200)}")
                    )
                    blocked.add(code)
        for code in path:
            state[code] = 2

    # kind changes of existing orgs
    for inp in rows:
        snap = db.get(inp.code) if inp.code else None
        if snap is None or inp.kind is None or snap.kind == inp.kind.value:
            continue
        if inp.code in with_members and not KIND_RULES[inp.kind].branch_level:
            errors.append(
                RowError(
                    inp.line,
                    "kind",
                    "kind_has_members",
                    f'组织 "{inp.code}" 现有团员，不能改为不可容纳团员的类型 {kind_name(inp.kind)}',
                )
            )
        bad = [c for c, k in db_children.get(inp.code, ()) if c not in first and not parent_allowed(k, inp.kind)]
        if bad:
            errors.append(
                RowError(
                    inp.line,
                    "kind",
                    "kind_children",
                    f'组织 "{inp.code}" 的下级组织 {", ".join(bad[:5])}{" 等" if len(bad) > 5 else ""} '
                    f"不能挂在 {kind_name(inp.kind)} 下",
                )
            )

    # inheritance, parents first; rows below a blocked row stay unresolved
    plans: dict[str, OrgPlan] = {}

    def resolve_one(inp: OrgInput) -> None:
        assert inp.kind is not None
        snap = db.get(inp.code)
        pc = inp.parent_code
        parent: OrgPlan | OrgSnapshot | None = None
        depth = 0
        if pc is not None:
            if pc in first:
                parent = plans.get(pc)
                if parent is None:
                    blocked.add(inp.code)
                    return
                depth = parent.depth + 1
            else:
                parent = db[pc]

        def kept(col: str, inherited, default):
            """Empty cell: inherit/default; column absent from the header: keep the existing value."""
            if col not in inp.present and snap is not None:
                return getattr(snap, col)
            return inherited if parent is not None else default

        partition: str
        if inp.partition is not None:
            partition = inp.partition.value
        else:
            partition = kept("partition", parent.partition if parent else None, Partition.NATIONAL.value)
        if parent is not None and partition != parent.partition:
            errors.append(
                RowError(
                    inp.line,
                    "partition",
                    "partition_mismatch",
                    f'系统分区 "{partition}" 与上级组织 "{pc}" 的分区 "{parent.partition}" 不一致；'
                    "同一省级团委下的组织属于同一分区（留空则与上级相同）",
                )
            )
            blocked.add(inp.code)
            return
        regions = {
            col: inp.regions[col]
            if inp.regions[col] is not None
            else kept(col, parent.region(col) if parent else None, None)
            for col in REGION_COLUMNS
        }
        address = inp.address if "address" in inp.present or snap is None else snap.address
        can_receive = (
            inp.can_receive
            if inp.can_receive is not None
            else (snap.can_receive if snap is not None and "can_receive" not in inp.present else True)
        )
        new_student = (
            inp.new_student
            if inp.new_student is not None
            else (snap.new_student if snap is not None and "new_student" not in inp.present else False)
        )
        if new_student and inp.kind != OrgKind.BRANCH:
            if inp.new_student is None:  # a given value was already reported by parse_org_row
                errors.append(
                    RowError(
                        inp.line,
                        "new_student",
                        "new_student_kind",
                        f"该组织已标记为新生团组织，只有团支部(branch)可以标记；本行组织类型为 {kind_name(inp.kind)}",
                    )
                )
            blocked.add(inp.code)
            return
        rule = KIND_RULES[inp.kind]
        plan = OrgPlan(
            line=inp.line,
            code=inp.code,
            name=inp.name,
            kind=inp.kind.value,
            parent_code=pc,
            partition=partition,
            address=address,
            can_receive=can_receive,
            new_student=new_student,
            branch_level=rule.branch_level,
            approval_authority=rule.approves,
            depth=depth,
            **regions,
        )
        if snap is not None:
            plan.changed = tuple(f for f in PLAN_FIELDS if getattr(snap, f) != getattr(plan, f))
            plan.action = "update" if plan.changed else "unchanged"
        plans[inp.code] = plan

    for inp in rows:
        if not inp.code or inp.code in plans or inp.code in blocked:
            continue
        # climb to the highest unresolved file ancestor, then resolve downwards
        chain: list[OrgInput] = []
        node: OrgInput | None = inp
        while node is not None and node.code not in plans and node.code not in blocked:
            chain.append(node)
            pc = node.parent_code
            node = first.get(pc) if pc is not None else None
        if node is not None and node.code in blocked:
            blocked.update(n.code for n in chain)
            continue
        for n in reversed(chain):
            if n.code in blocked or n.code in plans:
                continue
            resolve_one(n)

    ordered = [plans[inp.code] for inp in rows if inp.code in plans]
    return ordered, errors


# ---------------------------------------------------------------------------------------------
# step 3: the database


def snapshot(org: Org, by_id: Mapping[int, Org]) -> OrgSnapshot:
    parent = by_id.get(org.parent_id) if org.parent_id is not None else None
    return OrgSnapshot(
        id=org.id,
        code=org.code,
        name=org.name,
        kind=org.kind,
        parent_code=parent.code if parent is not None else None,
        partition=org.partition,
        province=org.province,
        city=org.city,
        county=org.county,
        township=org.township,
        address=org.address,
        can_receive=org.can_receive,
        new_student=org.new_student,
        branch_level=org.branch_level,
        approval_authority=org.approval_authority,
    )


def org_inputs(path: Path) -> tuple[list[OrgInput], list[RowError], int, bool]:
    """Read and cell-check a file: (inputs, errors, data rows, header ok)."""
    table = read_table(path, columns=ORG_COLUMNS, required=ORG_REQUIRED, labels=ORG_COLUMN_LABELS)
    errors = list(table.errors)
    header_ok = not any(e.line == 1 for e in table.errors)
    inputs: list[OrgInput] = []
    for row in table.rows:
        inp, errs = parse_org_row(row, table.columns)
        if row.damaged:
            inp.cells_ok = False
        inputs.append(inp)
        errors.extend(errs)
    return inputs, errors, len(table.rows), header_ok


async def import_orgs(engine: AsyncEngine, path: Path, *, dry_run: bool = False, actor: str = "cli") -> ImportReport:
    """Validate an org file and, when every row is valid and not `dry_run`, upsert it by code.

    Raises `imports.reader.ImportFileError` when the file cannot be read at all.
    """
    path = Path(path)
    report = ImportReport(entity="orgs", file=path.name, dry_run=dry_run)
    inputs, errors, report.rows, header_ok = org_inputs(path)
    report.errors.extend(errors)
    if not header_ok:
        return report

    async with session_scope(engine) as session:
        codes = {i.code for i in inputs if i.code} | {i.parent_code for i in inputs if i.parent_code}
        by_id = await load_orgs_with_ancestors(session, codes=codes)
        by_code = {o.code: o for o in by_id.values()}
        db = {o.code: snapshot(o, by_id) for o in by_id.values()}

        changed_kind = [
            db[i.code].id for i in inputs if i.code in db and i.kind is not None and db[i.code].kind != i.kind.value
        ]
        with_members: set[str] = set()
        children: dict[str, list[tuple[str, str]]] = {}
        code_of = {o.id: o.code for o in by_id.values()}
        for chunk in chunked(changed_kind):
            rows = await session.execute(select(Member.branch_id).where(Member.branch_id.in_(chunk)).distinct())
            with_members |= {code_of[r[0]] for r in rows}
            rows = await session.execute(select(Org.parent_id, Org.code, Org.kind).where(Org.parent_id.in_(chunk)))
            for parent_id, code, kind in rows:
                children.setdefault(code_of[parent_id], []).append((code, kind))

        plans, errors = resolve_orgs(inputs, db, orgs_with_members=with_members, db_children=children)
        report.errors.extend(errors)
        report.tally(p.action for p in plans)
        if not report.ok:
            return report
        if dry_run or not (report.created or report.updated):
            return report

        now = utcnow()
        ids = {code: o.id for code, o in by_code.items()}
        for depth in sorted({p.depth for p in plans}):
            created: list[tuple[str, Org]] = []
            for p in plans:
                if p.depth != depth or p.action == "unchanged":
                    continue
                values = p.values()
                values["parent_id"] = ids[p.parent_code] if p.parent_code else None
                del values["parent_code"]
                if p.action == "create":
                    org = Org(code=p.code, created_at=now, updated_at=now, **values)
                    session.add(org)
                    created.append((p.code, org))
                else:
                    org = by_code[p.code]
                    for k, v in values.items():
                        setattr(org, k, v)
                    org.updated_at = now
            await session.flush()
            ids.update({code: org.id for code, org in created})

        session.add(
            AuditLog(
                at=now,
                actor=actor,
                action="orgs.import",
                entity="import",
                entity_id=None,
                detail={
                    "file": path.name,
                    "rows": report.rows,
                    "created": report.created,
                    "updated": report.updated,
                    "unchanged": report.unchanged,
                },
            )
        )
    report.written = True
    return report
