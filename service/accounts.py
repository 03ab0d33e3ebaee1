"""Creating logins: admins of an org, members, service accounts."""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from core.passwords import hash_password, password_problem
from domain import idcard
from domain.roles import Role
from models import AuditLog, Member, Org, User
from models.db import session_factory, session_scope

ROLES = tuple(Role)
USERNAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{2,63}$")


@dataclass(frozen=True)
class FieldError:
    field: str
    message: str


class AccountError(ValueError):
    def __init__(self, errors: list[FieldError]) -> None:
        self.errors = errors
        super().__init__("; ".join(f"{e.field}: {e.message}" for e in errors))


async def add_user(
    engine: AsyncEngine,
    username: str,
    password: str,
    role: str,
    *,
    org_code: str | None = None,
    id_number: str | None = None,
    display_name: str | None = None,
    actor: str = "cli",
) -> User:
    """Create a login; refuses (writing nothing) with every field problem at once."""
    errors: list[FieldError] = []
    if not USERNAME_RE.match(username or ""):
        errors.append(FieldError("username", "用户名须为3-64位字母、数字、点、下划线或连字符，以字母或数字开头"))
    if (p := password_problem(password or "")) is not None:
        errors.append(FieldError("password", p))
    if role not in ROLES:
        errors.append(FieldError("role", f"角色须为 {', '.join(ROLES)} 之一"))
    if role == Role.ADMIN and not org_code:
        errors.append(FieldError("org", "组织管理员须指定 --org 组织编码"))
    if role == Role.MEMBER and org_code:
        errors.append(FieldError("org", "团员账号不能指定 --org（团员属于其所在团支部）"))
    if role == Role.MEMBER and not id_number:
        errors.append(FieldError("id_number", "团员账号须指定 --id-number 身份证号"))
    if role != Role.MEMBER and id_number:
        errors.append(FieldError("id_number", "只有团员账号(member)可指定 --id-number"))
    if id_number and (problems := idcard.problems(id_number)):
        errors.append(FieldError("id_number", problems[0].message))

    async with session_scope(engine) as session:
        org = member = None
        if username and (await session.execute(select(col(User.id)).where(col(User.username) == username))).first():
            errors.append(FieldError("username", f"用户名 {username} 已存在"))
        if role in (Role.ADMIN, Role.SERVICE) and org_code:
            org = (await session.execute(select(Org).where(col(Org.code) == org_code))).scalar_one_or_none()
            if org is None:
                errors.append(FieldError("org", f"组织编码 {org_code} 不存在"))
        if role == Role.MEMBER and id_number and not any(e.field == "id_number" for e in errors):
            nid = idcard.normalize(id_number)
            member = (await session.execute(select(Member).where(col(Member.id_number) == nid))).scalar_one_or_none()
            if member is None:
                errors.append(FieldError("id_number", f"身份证号 {idcard.mask(nid)} 不属于任何团员"))
        if errors:
            raise AccountError(errors)
        user = User(
            username=username,
            password_hash=hash_password(password),
            role=role,
            org_id=org.id if org else None,
            member_id=member.id if member else None,
            display_name=display_name or (org.name if org else member.name if member else username),
        )
        session.add(user)
        await session.flush()
        session.add(
            AuditLog(
                actor=actor,
                action="user.add",
                entity="user",
                entity_id=str(user.id),
                detail={"username": username, "role": role, "org": org_code},
            )
        )
    return user


async def user_by_username(engine: AsyncEngine, username: str) -> User:
    """The login with this username (LookupError when there is none)."""
    async with session_factory(engine)() as session:
        user = (await session.execute(select(User).where(col(User.username) == username))).scalar_one_or_none()
    if user is None:
        raise LookupError(f"no login named {username!r}")
    return user
