"""The demo login table (printed by `zhtj seed demo` and `zhtj dev`): the demo accounts as the
database has them now."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine

from core.passwords import verify_password
from domain.glossary import USER_ROLE_LABELS
from domain.roles import Role
from models.tables import Member, Org, User, table_of
from seed.data import DEMO_LOGIN_USERNAMES, DEMO_PASSWORD


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: str  # a `Role` value, as stored
    org_code: str | None
    org_name: str | None
    display_name: str | None = None


async def demo_logins(engine: AsyncEngine) -> list[DemoLogin]:
    """The login-table accounts as the database has them now: only active ones that still use
    DEMO_PASSWORD (an account whose password was changed is left out), in table order."""
    u, o, m = table_of(User), table_of(Org), table_of(Member)
    branch = o.alias("branch")
    stmt = (
        select(
            u.c.username,
            u.c.role,
            u.c.password_hash,
            u.c.display_name,
            u.c.active,
            o.c.code,
            o.c.name,
            branch.c.code.label("b_code"),
            branch.c.name.label("b_name"),
        )
        .select_from(u)
        .outerjoin(o, o.c.id == u.c.org_id)
        .outerjoin(m, m.c.id == u.c.member_id)
        .outerjoin(branch, branch.c.id == m.c.branch_id)
        .where(u.c.username.in_(DEMO_LOGIN_USERNAMES))
    )
    async with engine.connect() as conn:
        rows = {r.username: r for r in (await conn.execute(stmt))}
    verified: dict[str, bool] = {}  # Argon2 is slow: verify each distinct hash once
    out: list[DemoLogin] = []
    for name in DEMO_LOGIN_USERNAMES:
        r = rows.get(name)
        if r is None or not r.active:
            continue
        if r.password_hash not in verified:
            verified[r.password_hash] = verify_password(r.password_hash, DEMO_PASSWORD)
        if not verified[r.password_hash]:
            continue
        code, org_name = (r.code, r.name) if r.code else (r.b_code, r.b_name)
        out.append(DemoLogin(r.username, DEMO_PASSWORD, r.role, code, org_name, r.display_name))
    return out


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def format_login_lines(logins: Sequence[DemoLogin]) -> list[str]:
    """An aligned text table (header, rule, one line per login); empty when there are none."""
    if not logins:
        return []
    header = ["username", "password", "role", "org"]
    rows = [
        [
            lg.username,
            lg.password,
            f"{lg.role} {USER_ROLE_LABELS.get(lg.role, '')}".strip(),
            (f"{lg.org_name} ({lg.org_code})" if lg.org_code else "-")
            + (f" — {lg.display_name}" if lg.role == Role.MEMBER and lg.display_name else ""),
        ]
        for lg in logins
    ]
    widths = [max(_width(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(c + " " * (w - _width(c)) for c, w in zip(cells, widths, strict=True)).rstrip()

    return [line(header), "  ".join("-" * w for w in widths), *(line(r) for r in rows)]
