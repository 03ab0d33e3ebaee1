"""Logins and bearer tokens: who is calling, and slowing down those who guess passwords."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, TypeAlias

import jwt
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from core.passwords import hash_password, verify_password
from models import User
from models.db import session_factory
from service.errors import refuse
from service.permissions import directory_for, may_act_for

ALGORITHM = "HS256"

#: Who a request acts as: the login `authenticate` and `load_user` return and every service takes
#: as `user`. The web layer holds it and reads its fields; the services query.
Caller: TypeAlias = User
_DUMMY_HASH = hash_password("not-a-real-password")  # equal work for unknown usernames


async def authenticate(engine: AsyncEngine, username: str, password: str) -> User | None:
    async with session_factory(engine)() as session:
        user = (await session.execute(select(User).where(col(User.username) == username))).scalar_one_or_none()
    if user is None:
        verify_password(_DUMMY_HASH, password)
        return None
    if not user.active or not verify_password(user.password_hash, password):
        return None
    return user


def issue_token(user: User, key: str, ttl: timedelta) -> str:
    now = datetime.now(UTC)
    claims = {"sub": str(user.id), "usr": user.username, "role": user.role, "iat": now, "exp": now + ttl}
    return jwt.encode(claims, key, algorithm=ALGORITHM)


def token_user_id(token: str, key: str) -> int | None:
    try:
        claims = jwt.decode(token, key, algorithms=[ALGORITHM], options={"require": ["sub", "exp"]})
        return int(claims["sub"])
    except (jwt.PyJWTError, ValueError, KeyError):
        return None


async def load_user(engine: AsyncEngine, user_id: int) -> User | None:
    async with session_factory(engine)() as session:
        user = await session.get(User, user_id)
    return user if user is not None and user.active else None


async def whoami(engine: AsyncEngine, user: User, org_code: str | None = None) -> dict[str, Any]:
    """The login, its org, and with `org_code` whether it may act for that org (404 when there
    is no such org)."""
    directory = await directory_for(engine, user, [org_code])
    own = directory.by_id(user.org_id) if user.org_id else None
    may = None
    if org_code is not None:
        if org_code not in directory:
            raise refuse(404, "org", f"组织 {org_code} 不存在")
        may = may_act_for(directory, user, org_code)
    return {
        "username": user.username,
        "role": user.role,
        "display_name": user.display_name,
        "org_code": own.code if own else None,
        "org_name": own.name if own else None,
        "member_id": user.member_id,
        "may_act_for": may,
    }


@dataclass
class LoginThrottle:
    """Failed logins per client: after `free` failures in `window`, each answer waits longer
    (1 s, 2 s, 4 s … up to `max_delay`); past `lockout` failures the client is refused (429)."""

    free: int = 3
    window: float = 900.0
    max_delay: float = 8.0
    lockout: int = 20
    _failures: dict[str, deque] = field(default_factory=dict)

    def _recent(self, client: str) -> deque:
        q = self._failures.setdefault(client, deque())
        cutoff = time.monotonic() - self.window
        while q and q[0] < cutoff:
            q.popleft()
        return q

    def locked(self, client: str) -> bool:
        return len(self._recent(client)) >= self.lockout

    async def delay(self, client: str) -> None:
        n = len(self._recent(client)) - self.free
        if n >= 0:
            await asyncio.sleep(min(self.max_delay, 2.0**n))

    def failed(self, client: str) -> None:
        self._recent(client).append(time.monotonic())

    def succeeded(self, client: str) -> None:
        self._failures.pop(client, None)
