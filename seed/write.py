"""Writing the demo dataset: its orgs and members through the importers' own planning and writing
(`imports.orgs.plan_orgs`/`apply_orgs`, `imports.members.plan_members`/`apply_members`), then
the demo logins, all in one transaction. Running it again changes nothing.

What a re-run on a database in use may change (the rest is live state, left alone):
- orgs: directory fields (name, kind, parent, partition, region, address, branch_level,
  approval_authority, new_student) are set from the dataset; `can_receive` only when the org is
  created (an admin may have changed it since): its column is "absent" from the seed's rows.
- members: descriptive fields (name, joined_on, addresses, phone) are set; where a member *is*
  (branch, school, graduation year, flags) only when the member is created, because transfers own
  that state afterwards.
- users: role, org, member and display name are set; the password hash and `active` only when the
  account is created (an existing account keeps its password).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import col

from core.passwords import hash_password
from domain.orgs import OrgKind, Partition
from imports.member_rows import MEMBER_COLUMNS, MemberInput
from imports.members import apply_members, plan_members
from imports.org_rows import ORG_COLUMNS, REGION_COLUMNS, OrgInput
from imports.orgs import apply_orgs, plan_orgs
from imports.report import RowError
from models.db import session_scope
from models.directory import chunked
from models.tables import Member, User, utcnow
from seed.data import DEMO_PASSWORD
from seed.dataset import DemoDataset, UserSeed
from seed.logins import DemoLogin, demo_logins
from seed.people import MemberSeed
from seed.tree import OrgSeed

#: The columns a seeded org or member "has": the others are set only when it is created.
SEED_ORG_COLUMNS = frozenset(ORG_COLUMNS) - {"can_receive"}
SEED_MEMBER_COLUMNS = frozenset(MEMBER_COLUMNS) - {"branch_code", "graduation_year"}
_USER_FIELDS = ("role", "org_id", "member_id", "display_name")


@dataclass
class DemoSummary:
    seed: int
    orgs: int
    members: int
    users: int
    orgs_created: int = 0
    orgs_updated: int = 0
    members_created: int = 0
    members_updated: int = 0
    users_created: int = 0
    users_updated: int = 0
    orgs_by_kind: dict[str, int] = field(default_factory=dict)
    logins: list[DemoLogin] = field(default_factory=list)


class DemoDataConflict(RuntimeError):
    """The database holds something the demo dataset cannot be written over (an org code of
    another kind, say): the importers' errors, and nothing written."""

    def __init__(self, errors: Sequence[RowError]) -> None:
        self.errors = list(errors)
        shown = "; ".join(e.render() for e in self.errors[:5])
        super().__init__(f"demo data conflicts with the database ({len(self.errors)} problems): {shown}")


def org_input(line: int, o: OrgSeed) -> OrgInput:
    return OrgInput(
        line=line,
        code=o.code,
        name=o.name,
        kind=OrgKind(o.kind),
        parent_code=o.parent_code,
        partition=Partition(o.partition),
        regions={c: getattr(o, c) for c in REGION_COLUMNS},
        address=o.address,
        can_receive=o.can_receive,
        new_student=o.new_student,
        present=SEED_ORG_COLUMNS,
    )


def member_input(line: int, m: MemberSeed) -> MemberInput:
    return MemberInput(
        line=line,
        id_number=m.id_number,
        name=m.name,
        branch_code=m.branch_code,
        joined_on=m.joined_on,
        graduation_year=m.graduation_year,
        hukou_address=m.hukou_address,
        residence_address=m.residence_address,
        phone=m.phone,
        present=SEED_MEMBER_COLUMNS,
        graduating=m.graduating,
        delayed_graduation=m.delayed_graduation,
    )


def _tally(actions: Iterable[str]) -> tuple[int, int]:
    actions = list(actions)
    return actions.count("create"), actions.count("update")


async def write_demo_dataset(engine: AsyncEngine, dataset: DemoDataset) -> DemoSummary:
    """Upsert the dataset in one transaction (see the module docstring for what is updated).
    DemoDataConflict, writing nothing, when the importers refuse a row."""
    by_kind: dict[str, int] = {}
    for o in dataset.orgs:
        by_kind[o.kind] = by_kind.get(o.kind, 0) + 1
    summary = DemoSummary(
        seed=dataset.seed,
        orgs=len(dataset.orgs),
        members=len(dataset.members),
        users=len(dataset.users),
        orgs_by_kind=by_kind,
    )
    async with session_scope(engine) as session:
        now = utcnow()
        orgs = await plan_orgs(session, [org_input(i, o) for i, o in enumerate(dataset.orgs, start=1)])
        if orgs.errors:
            raise DemoDataConflict(orgs.errors)
        org_ids = await apply_orgs(session, orgs.plans, orgs.ids, now)
        summary.orgs_created, summary.orgs_updated = _tally(p.action for p in orgs.plans)

        members = await plan_members(session, [member_input(i, m) for i, m in enumerate(dataset.members, start=1)])
        if members.errors:
            raise DemoDataConflict(members.errors)
        await apply_members(session, members.plans, now)
        summary.members_created, summary.members_updated = _tally(p.action for p in members.plans)

        summary.users_created, summary.users_updated = await _write_users(session, dataset.users, org_ids)
    summary.logins = await demo_logins(engine)
    return summary


async def _member_ids(session: AsyncSession, id_numbers: Iterable[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for chunk in chunked(sorted(set(id_numbers))):
        rows = await session.execute(
            select(col(Member.id_number), col(Member.id)).where(col(Member.id_number).in_(chunk))
        )
        out.update({idn: mid for idn, mid in rows if mid is not None})
    return out


async def _users(session: AsyncSession, usernames: Iterable[str]) -> dict[str, dict[str, Any]]:
    """The existing accounts with these usernames: id and the fields the seed sets."""
    columns = [col(User.username), col(User.id), *(col(getattr(User, f)) for f in _USER_FIELDS)]
    out: dict[str, dict[str, Any]] = {}
    for chunk in chunked(sorted(set(usernames))):
        for row in (await session.execute(select(*columns).where(col(User.username).in_(chunk)))).mappings():
            out[row["username"]] = dict(row)
    return out


async def _write_users(session: AsyncSession, users: Sequence[UserSeed], org_ids: Mapping[str, int]) -> tuple[int, int]:
    """Create the missing accounts (with the demo password, hashed once) and set the seed's fields
    of the others; (created, updated)."""
    member_ids = await _member_ids(session, [u.member_id_number for u in users if u.member_id_number])
    existing = await _users(session, [u.username for u in users])
    now = utcnow()
    creates: list[dict[str, Any]] = []
    updates: list[dict[str, Any]] = []
    for u in users:
        want = {
            "role": u.role.value,
            "org_id": org_ids[u.org_code] if u.org_code else None,
            "member_id": member_ids[u.member_id_number] if u.member_id_number else None,
            "display_name": u.display_name,
        }
        have = existing.get(u.username)
        if have is None:
            creates.append({"username": u.username, **want, "active": True, "created_at": now})
        elif any(have[k] != v for k, v in want.items()):
            updates.append({"id": have["id"], **want})
    if creates:
        password_hash = hash_password(DEMO_PASSWORD)  # Argon2 is slow on purpose: hash once, share it
        await session.execute(insert(User), [{**c, "password_hash": password_hash} for c in creates])
    if updates:
        await session.execute(update(User), updates)
    return len(creates), len(updates)


__all__ = ["DemoDataConflict", "DemoSummary", "member_input", "org_input", "write_demo_dataset"]
