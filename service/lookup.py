"""The forms' 查询 (A2): name + 身份证号 → who the member is and where they are now.

Any org admin may look a member up by the exact pair (knowing both is the proof; a wrong pair
tells nothing); a member may look up only themself. The answer is minimal: name, masked
身份证号, current branch and school.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from core.clock import calendar
from domain import idcard
from domain.roles import Role
from models import Member, Org, User
from models.db import session_factory
from service.errors import Problem, ServiceError
from service.permissions import is_org_admin

NOT_FOUND = "姓名与身份证号不对应任何团员，请核对后查询"


@dataclass(frozen=True)
class MemberLookup:
    name: str
    id_number_masked: str
    branch_code: str
    branch_name: str
    school_name: str | None
    graduation_year: int | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


async def lookup_member(engine: AsyncEngine, user: User, name: str, id_number: str) -> MemberLookup:
    """The member with exactly this name and 身份证号; ServiceError 422/403/404 otherwise."""
    name = (name or "").strip()
    problems: list[Problem] = []
    if not name:
        problems.append(Problem("name", "请填写姓名"))
    if bad := idcard.problems(id_number or "", today=calendar().today()):
        problems.append(Problem("id_number", bad[0].message))
    if problems:
        raise ServiceError(422, problems)
    if not (is_org_admin(user) or user.role == Role.MEMBER):
        raise ServiceError(403, [Problem("user", "该账号不能查询团员")])
    nid = idcard.normalize(id_number)
    async with session_factory(engine)() as session:
        if user.role == Role.MEMBER:
            own = await session.get(Member, user.member_id) if user.member_id else None
            if own is None or own.id_number != nid or own.name != name:
                raise ServiceError(403, [Problem("id_number", "团员只能查询本人信息")])
            member = own
        else:
            found = (await session.execute(select(Member).where(col(Member.id_number) == nid))).scalar_one_or_none()
            if found is None or found.name != name:
                raise ServiceError(404, [Problem("id_number", NOT_FOUND)])
            member = found
        branch = await session.get_one(Org, member.branch_id)
        school = await session.get(Org, member.school_id) if member.school_id else None
    return MemberLookup(
        name=member.name,
        id_number_masked=idcard.mask(member.id_number),
        branch_code=branch.code,
        branch_name=branch.name,
        school_name=school.name if school is not None else None,
        graduation_year=member.graduation_year,
    )


_REGION_LEVELS = ("province", "city", "county", "township")


async def regions(engine: AsyncEngine, level: str, **within: str | None) -> list[str]:
    """The distinct region names of the directory at one level (省/市州/县区/乡镇街道) inside the
    given higher levels: the choices of a form's 去向所在地 (DOMAIN.md §4 `location`)."""
    if level not in _REGION_LEVELS:
        raise ServiceError(422, [Problem("level", "level 应为 province、city、county 或 township")])
    col = getattr(Org, level)
    stmt = select(col).where(col.is_not(None), col != "").distinct().order_by(col)
    for name in _REGION_LEVELS[: _REGION_LEVELS.index(level)]:
        value = (within.get(name) or "").strip()
        if value:
            stmt = stmt.where(getattr(Org, name) == value)
    async with session_factory(engine)() as session:
        return [r for (r,) in (await session.execute(stmt.limit(500))).all()]
