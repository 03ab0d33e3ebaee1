"""Demo dataset (`zhtj seed demo`): a Hubei-flavoured org directory, graduating members, logins.

Two steps, so tests and other demos can use the data without a database:

- `build_demo_dataset(seed, members)` (seed.dataset) is pure: the same seed gives the same orgs,
  members and users, byte for byte;
- `write_demo_dataset(engine, dataset)` (seed.write) writes it in one transaction through the
  importers' planning and writing, upserting by org code, 身份证号 and username, so running it
  again changes nothing and live state (a member a transfer moved, a township closed by its
  admin, a changed password) is kept.

Members (`members`, default 3000): about 97.5% graduating in 2026 in the 2022级 class branches
of 武汉大学 and 华中科技大学; about 1% delayed graduates in 武汉大学延迟毕业团支部
(delayed_graduation, graduating false, graduation year 2027); about 1.5% young employees or
members already back home (enterprise branches, villages, township temporary branches, no school).
All have Hubei 身份证号 and addresses (half in counties of the directory) and are 21–24 in 2026.

The fixed data is in seed.data and seed.names, the org tree in seed.tree, the members in
seed.people, the login table in seed.logins; this module is what the CLI, `zhtj dev` and the
tests call.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine

from models.tables import Org, table_of
from seed.data import (
    DEFAULT_MEMBERS,
    DEFAULT_SEED,
    DEMO_LOGIN_USERNAMES,
    DEMO_PASSWORD,
    EMPLOYER_WITHOUT_ORG,
    EMPLOYER_WITHOUT_ORG_CLOSED_TOWNSHIP,
    GRADUATION_YEAR,
    SERVICE_USERNAME,
)
from seed.dataset import DemoDataset, build_demo_dataset
from seed.logins import DemoLogin, demo_logins, format_login_lines
from seed.tree import build_org_tree
from seed.write import DemoSummary, write_demo_dataset


async def seed_demo(engine: AsyncEngine, *, seed: int = DEFAULT_SEED, members: int = DEFAULT_MEMBERS) -> DemoSummary:
    """Build the demo dataset for `seed` and upsert it (idempotent)."""
    return await write_demo_dataset(engine, build_demo_dataset(seed, members))


async def orgs_table_empty(engine: AsyncEngine) -> bool:
    async with engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(table_of(Org)))).scalar_one() == 0


async def demo_login_lines(
    engine: AsyncEngine,
    *,
    seed_when_empty: Callable[[AsyncEngine], Awaitable[Any]] | None = None,
) -> list[str]:
    """For `zhtj dev`: seed with `seed_when_empty(engine)` when the org directory is empty, then
    the login table of the demo accounts found in the database (empty when there are none)."""
    if seed_when_empty is not None and await orgs_table_empty(engine):
        await seed_when_empty(engine)
    return format_login_lines(await demo_logins(engine))


__all__ = [
    "DEFAULT_MEMBERS",
    "DEFAULT_SEED",
    "DEMO_LOGIN_USERNAMES",
    "DEMO_PASSWORD",
    "EMPLOYER_WITHOUT_ORG",
    "EMPLOYER_WITHOUT_ORG_CLOSED_TOWNSHIP",
    "GRADUATION_YEAR",
    "SERVICE_USERNAME",
    "DemoDataset",
    "DemoLogin",
    "DemoSummary",
    "build_demo_dataset",
    "build_org_tree",
    "demo_login_lines",
    "demo_logins",
    "format_login_lines",
    "orgs_table_empty",
    "seed_demo",
    "write_demo_dataset",
]
