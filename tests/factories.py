"""Factories for the rows tests build by hand: orgs, members and logins with valid defaults.

Each takes an open session and flushes, so the row has its id when it returns; every field the
table has can be overridden. Members get a valid, unique 身份证号 unless one is given.
"""

from __future__ import annotations

import itertools
from datetime import date
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from core.passwords import hash_password
from domain import idcard
from domain.orgs import KIND_RULES, OrgKind
from domain.roles import Role
from models import Member, Org, User

_sequence = itertools.count(1)


async def add_org(
    session: AsyncSession,
    code: str,
    kind: OrgKind | str,
    *,
    parent: Org | None = None,
    name: str | None = None,
    **fields: Any,
) -> Org:
    """An org under `parent`, branch-level and approving as its kind's rule says."""
    kind = OrgKind(kind)
    rule = KIND_RULES[kind]
    org = Org(
        code=code,
        name=name or f"{code}团组织",
        kind=kind.value,
        parent_id=parent.id if parent is not None else None,
        **{"branch_level": rule.branch_level, "approval_authority": rule.approves, **fields},
    )
    session.add(org)
    await session.flush()
    return org


async def org_by_code(session: AsyncSession, code: str) -> Org:
    """The org with this code (it must exist: the demo directory's, or one a test added)."""
    return (await session.execute(select(Org).where(Org.code == code))).scalar_one()


def new_id_number(born: date = date(2003, 5, 1), area: str = "420106") -> str:
    """A valid 身份证号 no other call of this process has returned."""
    n = next(_sequence)
    return idcard.make_id(area, born.replace(day=1 + n // 1000 % 28), n % 1000)


async def add_member(
    session: AsyncSession, branch: Org, *, name: str = "张三", id_number: str | None = None, **fields: Any
) -> Member:
    """A member of `branch` (graduating in 2026 unless told otherwise)."""
    member = Member(
        id_number=id_number or new_id_number(),
        name=name,
        branch_id=branch.id,
        **{"graduation_year": 2026, "graduating": True, **fields},
    )
    session.add(member)
    await session.flush()
    return member


async def add_user(
    session: AsyncSession,
    username: str,
    role: Role,
    *,
    org: Org | None = None,
    member: Member | None = None,
    password: str = "correct-horse-2026",
) -> User:
    """A login: an admin of `org`, a member login for `member`, or a service account of `org`."""
    user = User(
        username=username,
        password_hash=hash_password(password),
        role=role.value,
        org_id=org.id if org is not None else None,
        member_id=member.id if member is not None else None,
        display_name=member.name if member is not None else username,
    )
    session.add(user)
    await session.flush()
    return user
