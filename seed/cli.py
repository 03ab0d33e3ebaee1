"""`zhtj seed …`: fill a migrated database with demo data (cli.py adds `seed_app` as `seed`)."""

from __future__ import annotations

import sys
import time

import typer

from core.logging import configure_from_settings, get_logger
from core.runtime import exit_now, open_engine, run
from domain.glossary import ORG_KIND_LABELS
from domain.orgs import OrgKind
from models.db import DatabaseNotMigrated
from seed.demo import (
    DEFAULT_MEMBERS,
    DEFAULT_SEED,
    DemoSummary,
    format_login_lines,
    orgs_table_empty,
    seed_demo,
)
from seed.write import DemoDataConflict

seed_app = typer.Typer(
    help="演示数据 (demo data): a Hubei org directory, graduating members and demo logins.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,
)


@seed_app.callback()
def _seed() -> None:
    """演示数据 (demo data)."""


def format_summary(summary: DemoSummary, seconds: float) -> str:
    kinds = [
        f"  {ORG_KIND_LABELS[OrgKind(k)]} ({k}): {n}"
        for k, n in sorted(summary.orgs_by_kind.items(), key=lambda kv: list(OrgKind).index(OrgKind(kv[0])))
    ]
    out = [
        f"演示数据已写入 (demo data seeded), seed={summary.seed}, {seconds:.1f}s",
        f"组织 orgs: {summary.orgs} (created {summary.orgs_created}, updated {summary.orgs_updated})",
        *kinds,
        f"团员 members: {summary.members} (created {summary.members_created}, updated {summary.members_updated})",
        f"账号 users: {summary.users} (created {summary.users_created}, updated {summary.users_updated})",
        "",
        "演示账号 (demo logins; every org that approves transfers has an admin named after its "
        "lower-case org code, same password):",
        *format_login_lines(summary.logins),
    ]
    if summary.users_created < summary.users:
        out.append(
            "(已存在的账号不改密码: existing accounts keep their passwords; "
            "those no longer using the demo password are not listed)"
        )
    return "\n".join(out)


async def _demo(seed: int, members: int, if_empty: bool) -> int:
    log = get_logger("seed.demo")
    try:
        async with open_engine() as engine:
            if if_empty and not await orgs_table_empty(engine):
                print("组织目录不为空，未写入演示数据 (the orgs table is not empty; --if-empty: nothing done)")
                log.info("seed_demo_skipped", reason="orgs table not empty")
                return 0
            started = time.monotonic()
            summary = await seed_demo(engine, seed=seed, members=members)
            seconds = time.monotonic() - started
    except (DatabaseNotMigrated, DemoDataConflict) as e:
        print(str(e), file=sys.stderr)
        return 1
    log.info(
        "seed_demo_done",
        seed=seed,
        orgs=summary.orgs,
        members=summary.members,
        users=summary.users,
        orgs_created=summary.orgs_created,
        members_created=summary.members_created,
        users_created=summary.users_created,
        seconds=round(seconds, 2),
    )
    print(format_summary(summary, seconds))
    return 0


@seed_app.command("demo")
def demo(
    seed: int = typer.Option(DEFAULT_SEED, "--seed", help="Random seed: the same seed gives the same data."),
    members: int = typer.Option(DEFAULT_MEMBERS, "--members", min=0, help="How many league members to create."),
    if_empty: bool = typer.Option(
        False, "--if-empty", help="Do nothing (and say so) when the org directory already has orgs."
    ),
) -> None:
    """Seed the demo org directory, members and logins (idempotent: upserts by code, 身份证号, username)."""
    configure_from_settings()
    exit_now(run(_demo(seed, members, if_empty)))
