"""Activities of the system check: read-only look at the database the worker serves."""

from __future__ import annotations

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio import activity

from messages.system import SystemCheckResult
from models.db import current_revision, session_factory
from models.tables import Member, Org, User


class SystemActivities:
    def __init__(self, engine: AsyncEngine) -> None:
        self.engine = engine

    @activity.defn
    async def check_database(self) -> SystemCheckResult:
        revision = await current_revision(self.engine)
        async with session_factory(self.engine)() as session:
            orgs = (await session.execute(select(func.count()).select_from(Org))).scalar_one()
            members = (await session.execute(select(func.count()).select_from(Member))).scalar_one()
            users = (await session.execute(select(func.count()).select_from(User))).scalar_one()
        return SystemCheckResult(
            schema_revision=revision or "",
            orgs=orgs,
            members=members,
            users=users,
            worker_identity=activity.info().task_queue,
        )
