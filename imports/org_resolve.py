"""Step 2 of `zhtj orgs import` (pure): the rows against each other and the database.

In this order, each check adding its errors: repeated codes (the first row wins), parents (present,
of an allowed kind), cycles, kind changes of existing orgs; then, parents first, each row's
inherited values (partition, regions) and its create/update/unchanged decision. A row with an
error, or below one, is left unresolved ("blocked").
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from domain.orgs import ALLOWED_PARENTS, KIND_RULES, OrgKind, Partition, parent_allowed
from imports.fields import clip
from imports.org_rows import PLAN_FIELDS, REGION_COLUMNS, OrgInput, OrgPlan, OrgSnapshot, kind_name
from imports.report import RowError


@dataclass
class _Resolution:
    """What the steps share: the file's rows by code, the database orgs, the errors found so far,
    the codes that cannot be resolved, and the plans made."""

    file: dict[str, OrgInput]
    db: Mapping[str, OrgSnapshot]
    errors: list[RowError] = field(default_factory=list)
    blocked: set[str] = field(default_factory=set)
    plans: dict[str, OrgPlan] = field(default_factory=dict)

    def error(self, inp: OrgInput, column: str, rule: str, message: str, *, block: bool = True) -> None:
        self.errors.append(RowError(inp.line, column, rule, message))
        if block:
            self.blocked.add(inp.code)

    def parent_of(self, code: str) -> str | None:
        if code in self.file:
            return self.file[code].parent_code
        snap = self.db.get(code)
        return snap.parent_code if snap else None

    def kind_of(self, code: str) -> str | None:
        if code in self.file:
            k = self.file[code].kind
            return k.value if k else None
        snap = self.db.get(code)
        return snap.kind if snap else None


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
    rows, duplicates = _first_rows(inputs)
    r = _Resolution(file={i.code: i for i in rows if i.code}, db=db, errors=duplicates)
    for inp in rows:
        if inp.code:
            _check_parent(r, inp)
    _check_cycles(r, rows)
    for inp in rows:
        _check_kind_change(r, inp, set(orgs_with_members), db_children or {})
    for inp in rows:
        _plan_with_ancestors(r, inp)
    return [r.plans[i.code] for i in rows if i.code in r.plans], r.errors


# ---- the checks --------------------------------------------------------------------------------
def _first_rows(inputs: Sequence[OrgInput]) -> tuple[list[OrgInput], list[RowError]]:
    """The rows without repeated codes (the first row with a code wins), and the repeats' errors."""
    first: dict[str, OrgInput] = {}
    rows: list[OrgInput] = []
    errors: list[RowError] = []
    for inp in inputs:
        if inp.code and inp.code in first:
            msg = f'组织编码 "{inp.code}" 在文件中重复（第{first[inp.code].line}行已出现）'
            errors.append(RowError(inp.line, "code", "duplicate", msg))
            continue
        if inp.code:
            first[inp.code] = inp
        rows.append(inp)
    return rows, errors


def _allowed_parents_text(kind: OrgKind) -> str:
    allowed = ALLOWED_PARENTS[kind]
    if allowed is None:
        return "无（只能是顶级组织）"
    return "、".join(kind_name(k) for k in OrgKind if k in allowed)


def _check_parent(r: _Resolution, inp: OrgInput) -> None:
    """The parent is given when the kind needs one, exists (in the file or the database) and is
    of a kind this one may hang under."""
    if inp.kind is None or "parent_code" in inp.bad_columns:
        r.blocked.add(inp.code)
        return
    pc = inp.parent_code
    if pc is None:
        if not parent_allowed(inp.kind, None):
            r.error(
                inp,
                "parent_code",
                "parent_required",
                f"{kind_name(inp.kind)} 必须填写上级组织编码；允许的上级类型：{_allowed_parents_text(inp.kind)}",
            )
        return
    if pc == inp.code:
        return  # reported by the cycle check
    if pc not in r.file and pc not in r.db:
        r.error(inp, "parent_code", "parent_missing", f'上级组织编码 "{pc}" 在文件和数据库中都不存在')
        return
    pk = r.kind_of(pc)
    if pk is None:
        r.blocked.add(inp.code)  # the parent row has its own error
        return
    if not parent_allowed(inp.kind, pk):
        r.error(inp, "parent_code", "parent_kind", _parent_kind_message(inp.kind, pk, pc))


def _parent_kind_message(kind: OrgKind, parent_kind: str, parent_code: str) -> str:
    if ALLOWED_PARENTS[kind] is None:
        return (
            f"{kind_name(kind)} 只能是顶级组织，上级组织编码应留空"
            f'（填写的上级 "{parent_code}" 是 {kind_name(parent_kind)}）'
        )
    return (
        f'{kind_name(kind)} 不能挂在 {kind_name(parent_kind)} 下（上级组织编码 "{parent_code}"）；'
        f"允许的上级类型：{_allowed_parents_text(kind)}"
    )


def _check_cycles(r: _Resolution, rows: Sequence[OrgInput]) -> None:
    """Parent chains that come back to themselves, following file parents first and database
    parents otherwise; every file row on a cycle gets the error."""
    state: dict[str, int] = {}  # 1 on the current path, 2 done
    for inp in rows:
        if not inp.code or inp.code in state:
            continue
        path: list[str] = []
        node: str | None = inp.code
        while node is not None and node not in state and (node in r.file or node in r.db):
            state[node] = 1
            path.append(node)
            node = r.parent_of(node)
        if node is not None and state.get(node) == 1:
            cycle = path[path.index(node) :]
            chain = " → ".join([*cycle, node])
            for code in cycle:
                if code in r.file:
                    r.error(r.file[code], "parent_code", "cycle", f"上级组织编码形成循环：{clip(chain, 200)}")
        for code in path:
            state[code] = 2


def _check_kind_change(
    r: _Resolution,
    inp: OrgInput,
    with_members: set[str],
    db_children: Mapping[str, Sequence[tuple[str, str]]],
) -> None:
    """An existing org may change kind only if its members and its children (those the file
    does not move) may stay under the new kind."""
    snap = r.db.get(inp.code) if inp.code else None
    if snap is None or inp.kind is None or snap.kind == inp.kind.value:
        return
    if inp.code in with_members and not KIND_RULES[inp.kind].branch_level:
        r.error(
            inp,
            "kind",
            "kind_has_members",
            f'组织 "{inp.code}" 现有团员，不能改为不可容纳团员的类型 {kind_name(inp.kind)}',
            block=False,
        )
    bad = [c for c, k in db_children.get(inp.code, ()) if c not in r.file and not parent_allowed(k, inp.kind)]
    if bad:
        r.error(
            inp,
            "kind",
            "kind_children",
            f'组织 "{inp.code}" 的下级组织 {", ".join(bad[:5])}{" 等" if len(bad) > 5 else ""} '
            f"不能挂在 {kind_name(inp.kind)} 下",
            block=False,
        )


# ---- inheritance and the decision, parents first -----------------------------------------------
def _plan_with_ancestors(r: _Resolution, inp: OrgInput) -> None:
    """Plan the row after its unplanned file ancestors (highest first); when one of them is
    blocked, the whole chain below it is too."""
    if not inp.code or inp.code in r.plans or inp.code in r.blocked:
        return
    chain: list[OrgInput] = []
    node: OrgInput | None = inp
    while node is not None and node.code not in r.plans and node.code not in r.blocked:
        chain.append(node)
        pc = node.parent_code
        node = r.file.get(pc) if pc is not None else None
    if node is not None and node.code in r.blocked:
        r.blocked.update(n.code for n in chain)
        return
    for n in reversed(chain):
        if n.code not in r.blocked and n.code not in r.plans:
            _plan_one(r, n)


def _plan_one(r: _Resolution, inp: OrgInput) -> None:
    """The row's values (given, inherited or kept), checked against its parent, and its plan."""
    assert inp.kind is not None
    pc = inp.parent_code
    parent: OrgPlan | OrgSnapshot | None = None
    depth = 0
    if pc is not None:
        if pc in r.file:
            parent = r.plans.get(pc)
            if parent is None:
                r.blocked.add(inp.code)
                return
            depth = parent.depth + 1
        else:
            parent = r.db[pc]
    snap = r.db.get(inp.code)
    partition = _partition(inp, snap, parent)
    if parent is not None and partition != parent.partition:
        r.error(
            inp,
            "partition",
            "partition_mismatch",
            f'系统分区 "{partition}" 与上级组织 "{pc}" 的分区 "{parent.partition}" 不一致；'
            "同一省级团委下的组织属于同一分区（留空则与上级相同）",
        )
        return
    new_student = _flag(inp, snap, "new_student", False)
    if new_student and inp.kind != OrgKind.BRANCH:
        if inp.new_student is None:  # a given value was already reported by parse_org_row
            r.error(
                inp,
                "new_student",
                "new_student_kind",
                f"该组织已标记为新生团组织，只有团支部(branch)可以标记；本行组织类型为 {kind_name(inp.kind)}",
            )
        r.blocked.add(inp.code)
        return
    rule = KIND_RULES[inp.kind]
    regions = _regions(inp, snap, parent)
    plan = OrgPlan(
        line=inp.line,
        code=inp.code,
        name=inp.name,
        kind=inp.kind.value,
        parent_code=pc,
        partition=partition,
        address=inp.address if "address" in inp.present or snap is None else snap.address,
        contact_phone=inp.contact_phone if "contact_phone" in inp.present or snap is None else snap.contact_phone,
        contact_address=inp.contact_address
        if "contact_address" in inp.present or snap is None
        else snap.contact_address,
        can_receive=_flag(inp, snap, "can_receive", True),
        new_student=new_student,
        branch_level=rule.branch_level,
        approval_authority=rule.approves,
        depth=depth,
        province=regions["province"],
        city=regions["city"],
        county=regions["county"],
        township=regions["township"],
    )
    _decide(plan, snap)
    r.plans[inp.code] = plan


def _kept(inp: OrgInput, snap: OrgSnapshot | None, col: str, inherited: Any, parent: object, default: Any) -> Any:
    """An empty cell: the parent's value (no parent: the default); a column absent from the
    header: the existing org's value."""
    if col not in inp.present and snap is not None:
        return getattr(snap, col)
    return inherited if parent is not None else default


def _partition(inp: OrgInput, snap: OrgSnapshot | None, parent: OrgPlan | OrgSnapshot | None) -> str:
    if inp.partition is not None:
        return inp.partition.value
    inherited = parent.partition if parent else None
    return str(_kept(inp, snap, "partition", inherited, parent, Partition.NATIONAL.value))


def _regions(inp: OrgInput, snap: OrgSnapshot | None, parent: OrgPlan | OrgSnapshot | None) -> dict[str, str | None]:
    return {
        col: inp.regions[col]
        if inp.regions[col] is not None
        else _kept(inp, snap, col, getattr(parent, col) if parent else None, parent, None)
        for col in REGION_COLUMNS
    }


def _flag(inp: OrgInput, snap: OrgSnapshot | None, col: str, default: bool) -> bool:
    """A flag column: the cell, or the default when it is empty; a column absent from the header
    keeps the existing org's value (a new org takes the row's value or the default)."""
    if snap is not None and col not in inp.present:
        return bool(getattr(snap, col))
    given: bool | None = getattr(inp, col)
    return given if given is not None else default


def _decide(plan: OrgPlan, snap: OrgSnapshot | None) -> None:
    """create for a new org; else update with the fields that change, or unchanged."""
    if snap is not None:
        plan.changed = tuple(f for f in PLAN_FIELDS if getattr(snap, f) != getattr(plan, f))
        plan.action = "update" if plan.changed else "unchanged"
