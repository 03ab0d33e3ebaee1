"""Loading the part of the org directory a rule needs, as the pure `domain.directory` snapshot."""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from domain.directory import Directory, OrgInfo
from models import Org

_FIELDS = (
    "code",
    "name",
    "kind",
    "partition",
    "province",
    "city",
    "county",
    "township",
    "address",
    "branch_level",
    "approval_authority",
    "can_receive",
    "new_student",
)


def org_info(org: Org, parent_code: str | None) -> OrgInfo:
    return OrgInfo(parent_code=parent_code, id=org.id, **{f: getattr(org, f) for f in _FIELDS})


async def load_with_ancestors(session: AsyncSession, codes: Iterable[str]) -> Directory:
    """The orgs with these codes and all their ancestors (one query per tree level)."""
    by_id: dict[int, Org] = {}
    rows = (await session.execute(select(Org).where(Org.code.in_(set(codes))))).scalars().all()
    frontier = list(rows)
    while frontier:
        for org in frontier:
            by_id[org.id] = org
        parent_ids = {o.parent_id for o in frontier if o.parent_id and o.parent_id not in by_id}
        frontier = (
            list((await session.execute(select(Org).where(Org.id.in_(parent_ids)))).scalars().all())
            if parent_ids
            else []
        )
    code_of = {i: o.code for i, o in by_id.items()}
    return Directory(org_info(o, code_of.get(o.parent_id)) for o in by_id.values())
