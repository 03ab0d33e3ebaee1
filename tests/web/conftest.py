"""An API on a seeded database, served in-process with its lifespan, a real worker on the dev
server, and a client that logs in as the demo users."""

from __future__ import annotations

from dataclasses import dataclass, field

import httpx
import pytest
from sqlalchemy import func, select

from models import Member, Org
from models.db import session_factory
from seed.demo import DEMO_PASSWORD
from web.app import create_app
from worker import build_worker


@dataclass
class Api:
    http: httpx.AsyncClient
    engine: object
    app: object = None
    tokens: dict[str, str] = field(default_factory=dict)

    async def login(self, username: str, password: str = DEMO_PASSWORD) -> dict[str, str]:
        if username not in self.tokens:
            r = await self.http.post("/api/auth/token", json={"username": username, "password": password})
            assert r.status_code == 200, r.text
            self.tokens[username] = r.json()["access_token"]
        return {"Authorization": f"Bearer {self.tokens[username]}"}

    async def as_(self, username: str, method: str, url: str, **kw) -> httpx.Response:
        return await self.http.request(
            method, url, headers={**kw.pop("headers", {}), **await self.login(username)}, **kw
        )

    async def member_in(self, branch_prefix: str, index: int = 0) -> Member:
        async with session_factory(self.engine)() as s:
            return (
                (
                    await s.execute(
                        select(Member)
                        .join(Org, Org.id == Member.branch_id)
                        .where(Org.code.like(f"{branch_prefix}%"))
                        .order_by(Member.id)
                    )
                )
                .scalars()
                .all()[index]
            )

    async def count(self, model) -> int:
        async with session_factory(self.engine)() as s:
            return (await s.execute(select(func.count()).select_from(model))).scalar_one()


@pytest.fixture
async def api(engine, app_settings, dev_env, task_queue):
    settings = app_settings
    app = create_app(settings)
    async with build_worker(dev_env.client, engine, task_queue=task_queue), app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
            yield Api(http=http, engine=engine, app=app)
