"""A read-only snapshot of the org directory for the pure rules (routing, approval chains).

`models.directory` builds it from the database; tests build it from literals. No I/O here.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from domain.orgs import OrgKind


@dataclass(frozen=True)
class OrgInfo:
    code: str
    name: str
    kind: str
    parent_code: str | None = None
    partition: str = "national"
    province: str | None = None
    city: str | None = None
    county: str | None = None
    township: str | None = None
    address: str | None = None
    contact_phone: str | None = None
    contact_address: str | None = None
    branch_level: bool = False
    approval_authority: bool = False
    can_receive: bool = True
    new_student: bool = False
    id: int | None = None  # the database row's id, when loaded from the database

    @property
    def kind_enum(self) -> OrgKind:
        return OrgKind(self.kind)


class Directory:
    """Orgs by code, with tree navigation."""

    def __init__(self, orgs: Iterable[OrgInfo]) -> None:
        self._by_code: dict[str, OrgInfo] = {}
        self._by_id: dict[int, OrgInfo] = {}
        self._children: dict[str, list[OrgInfo]] = {}
        for org in orgs:
            self._by_code[org.code] = org
            if org.id is not None:
                self._by_id[org.id] = org
        for org in self._by_code.values():
            if org.parent_code:
                self._children.setdefault(org.parent_code, []).append(org)

    def __contains__(self, code: object) -> bool:
        return code in self._by_code

    def __iter__(self) -> Iterator[OrgInfo]:
        return iter(self._by_code.values())

    def __len__(self) -> int:
        return len(self._by_code)

    def get(self, code: str | None) -> OrgInfo | None:
        return self._by_code.get(code) if code else None

    def by_id(self, org_id: int | None) -> OrgInfo | None:
        return self._by_id.get(org_id) if org_id is not None else None

    def __getitem__(self, code: str) -> OrgInfo:
        return self._by_code[code]

    def parent(self, org: OrgInfo) -> OrgInfo | None:
        return self.get(org.parent_code)

    def children(self, org: OrgInfo) -> list[OrgInfo]:
        return list(self._children.get(org.code, ()))

    def ancestors(self, org: OrgInfo) -> list[OrgInfo]:
        """Parent first, root last."""
        out: list[OrgInfo] = []
        seen = {org.code}
        cur = self.parent(org)
        while cur is not None and cur.code not in seen:
            out.append(cur)
            seen.add(cur.code)
            cur = self.parent(cur)
        return out

    def descendants(self, org: OrgInfo) -> list[OrgInfo]:
        out: list[OrgInfo] = []
        stack = list(self._children.get(org.code, ()))
        while stack:
            cur = stack.pop()
            out.append(cur)
            stack.extend(self._children.get(cur.code, ()))
        return out

    def is_ancestor(self, ancestor_code: str, org: OrgInfo) -> bool:
        return any(a.code == ancestor_code for a in self.ancestors(org))

    def nearest(self, org: OrgInfo, kind: OrgKind | str) -> OrgInfo | None:
        """The org itself or its nearest ancestor of a kind."""
        for cur in [org, *self.ancestors(org)]:
            if cur.kind == kind:
                return cur
        return None

    def approver(self, org: OrgInfo) -> OrgInfo:
        """The org whose admins decide for `org`: itself when it has approval authority, else its
        nearest ancestor that has it ([decision] DOMAIN.md §2)."""
        for cur in [org, *self.ancestors(org)]:
            if cur.approval_authority:
                return cur
        return org

    def find(self, *, kind: OrgKind | str | None = None, **region: str | None) -> list[OrgInfo]:
        """Orgs of a kind whose region columns equal the given ones (None values are ignored)."""
        want = {k: v for k, v in region.items() if v is not None}
        return [
            o
            for o in self._by_code.values()
            if (kind is None or o.kind == kind) and all(getattr(o, k) == v for k, v in want.items())
        ]
