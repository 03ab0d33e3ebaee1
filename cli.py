"""`zhtj`: the one command line of the system (dev, worker, api, migrate, seed, imports, users)."""

from __future__ import annotations

import os
import signal
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import timedelta
from types import FrameType
from typing import TypeVar, cast

import typer
import uvicorn
from sqlalchemy.ext.asyncio import AsyncEngine

from core.clock import calendar
from core.dev import DevStack, dev_server_command, port_open, wait_for_port
from core.logging import configure_from_settings, get_logger
from core.runtime import exit_now, open_engine, run
from core.settings import get_settings
from core.temporal import connect, ensure_search_attributes
from domain.roles import Role
from imports.cli import members_app, orgs_app, transfers_app
from messages.delivery import WEBHOOK_EVENTS
from messages.system import SystemCheckResult
from models import User
from models.db import DatabaseNotMigrated
from models.migrate import upgrade
from seed.cli import seed_app
from seed.demo import demo_login_lines, seed_demo
from service import webhooks
from service.accounts import AccountError, add_user
from service.errors import ServiceError
from web.app import create_app
from worker import run_worker
from workflows.digest import apply_digest_schedule
from workflows.system_check import SystemCheckWorkflow

app = typer.Typer(
    help="zhtj-transfer: 团组织关系转接（学社衔接）服务",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,  # locals may hold password hashes or 身份证号
)
users_app = typer.Typer(help="登录账号 (logins)", no_args_is_help=True)
schedules_app = typer.Typer(help="Temporal Schedules (the daily digest)", no_args_is_help=True)
app.add_typer(seed_app, name="seed")
app.add_typer(orgs_app, name="orgs")
app.add_typer(members_app, name="members")
app.add_typer(users_app, name="users")
app.add_typer(transfers_app, name="transfers")
webhooks_app = typer.Typer(help="webhooks: backend services told of an org's transfer events", no_args_is_help=True)
app.add_typer(webhooks_app, name="webhooks")
app.add_typer(schedules_app, name="schedules")

log = get_logger("zhtj.cli")
T = TypeVar("T")


def _fail(message: str, code: int = 1) -> None:
    typer.echo(message, err=True)
    exit_now(code)


@app.command()
def migrate(revision: str = typer.Option("head", help="target revision")) -> None:
    """Apply the database migrations (SQLite or PostgreSQL, from DATABASE_URL)."""
    configure_from_settings()
    s = get_settings()
    s.ensure_data_dir()
    upgrade(s.effective_database_url, revision)
    typer.echo(f"database migrated to {revision}")
    exit_now(0)


@app.command()
def worker() -> None:
    """Run the Temporal worker (workflows + activities) until SIGINT/SIGTERM."""
    configure_from_settings()

    async def main() -> None:
        s = get_settings()
        async with open_engine() as engine:
            client = await connect(s)
            await ensure_search_attributes(client)
            await run_worker(client, engine, task_queue=s.task_queue)

    try:
        run(main())
    except DatabaseNotMigrated as e:
        _fail(str(e))
    exit_now(0)


@app.command()
def api() -> None:
    """Serve the REST API and the web UI (ZHTJ_HTTP_HOST:ZHTJ_HTTP_PORT)."""
    configure_from_settings()
    s = get_settings()

    async def check() -> None:
        async with open_engine():
            pass

    try:
        run(check())
    except DatabaseNotMigrated as e:
        _fail(str(e))
    uvicorn.run(create_app(s), host=s.http_host, port=s.http_port, log_config=None, access_log=True)
    exit_now(0)


@app.command()
def check(timeout: float = typer.Option(30.0, help="seconds to wait for the worker")) -> None:
    """Run SystemCheckWorkflow: client → server → worker → activity → database."""
    configure_from_settings()
    try:
        result = run(_system_check(timeout))
    except Exception as e:  # noqa: BLE001
        _fail(f"system check failed: {type(e).__name__}: {e}")
    typer.echo(
        f"ok: schema {result.schema_revision}, {result.orgs} orgs, {result.members} members, "
        f"{result.users} users (task queue {result.worker_identity})"
    )
    exit_now(0)


async def _system_check(seconds: float) -> SystemCheckResult:
    s = get_settings()
    client = await connect(s)
    return await client.execute_workflow(
        SystemCheckWorkflow.run,
        id=f"system-check-{uuid.uuid4().hex[:12]}",
        task_queue=s.task_queue,
        execution_timeout=timedelta(seconds=seconds),
    )


@users_app.command("add")
def users_add(
    username: str = typer.Argument(..., help="login name"),
    password: str = typer.Option(..., "--password", help="at least 8 characters"),
    role: str = typer.Option(..., "--role", help=" | ".join(Role)),
    org: str | None = typer.Option(None, "--org", help="org code (admin; a service account acting for an org)"),
    id_number: str | None = typer.Option(None, "--id-number", help="身份证号 of the member (member)"),
    display_name: str | None = typer.Option(None, "--name", help="display name"),
) -> None:
    """Create a login: admin of an org, a member, or a service account."""
    configure_from_settings()

    async def main() -> User:
        async with open_engine() as engine:
            return await add_user(
                engine, username, password, role, org_code=org, id_number=id_number, display_name=display_name
            )

    try:
        user = run(main())
    except DatabaseNotMigrated as e:
        _fail(str(e))
    except AccountError as e:
        for err in e.errors:
            typer.echo(f"错误 {err.field}: {err.message}", err=True)
        exit_now(1)
    typer.echo(f"created {user.role} login {user.username!r} (id {user.id})")
    exit_now(0)


@schedules_app.command("apply")
def schedules_apply() -> None:
    """Create the daily digest schedule on the Temporal server, or bring it up to date (the worker
    does the same at start)."""
    configure_from_settings()
    s = get_settings()

    async def main() -> str:
        return await apply_digest_schedule(await connect(s), s)

    try:
        outcome = run(main())
    except Exception as e:  # noqa: BLE001
        _fail(f"schedule not applied: {type(e).__name__}: {e}")
    typer.echo(f"schedule {s.digest_schedule_id} {outcome} (DigestWorkflow on task queue {s.task_queue})")
    exit_now(0)


WEBHOOK_EVENTS_HELP = "comma-separated events, or all: " + ", ".join(WEBHOOK_EVENTS)


def _webhook_call(coro_fn: Callable[[AsyncEngine], Awaitable[T]]) -> T:
    """Run a webhooks service call on the configured database; its refusal is printed (exit 1)."""
    configure_from_settings()

    async def main() -> T:
        async with open_engine() as engine:
            return await coro_fn(engine)

    try:
        result = run(main())
    except DatabaseNotMigrated as e:
        _fail(str(e))
    except ServiceError as e:
        for err in e.problems:
            typer.echo(f"错误 {err.field}: {err.message}", err=True)
        exit_now(1)
    return cast(T, result)


@webhooks_app.command("add")
def webhooks_add(
    url: str = typer.Argument(..., help="the receiver's http(s) URL"),
    org: str = typer.Option(..., "--org", help="org code: transfers from or to it or any org below it"),
    events: str = typer.Option("all", "--events", help=WEBHOOK_EVENTS_HELP),
) -> None:
    """Register a receiver and print its secret (shown this once)."""
    new = _webhook_call(lambda engine: webhooks.add_webhook(engine, url, org, [events]))
    typer.echo(f"webhook {new.webhook.id} for {new.org_code}: {new.webhook.url}")
    typer.echo(f"events: {', '.join(new.webhook.events)}")
    typer.echo(f"secret: {new.secret}")
    typer.echo("(the secret is shown only now: verify X-Zhtj-Signature = sha256=HMAC-SHA256(secret, raw body))")
    exit_now(0)


@webhooks_app.command("list")
def webhooks_list(org: str = typer.Option(..., "--org", help="org code")) -> None:
    """The org's receivers and their deliveries (delivered / pending / failed)."""
    rows = _webhook_call(lambda engine: webhooks.list_webhooks(engine, org))
    for w in rows:
        state = "active" if w.active else "removed"
        typer.echo(
            f"{w.id}\t{state}\t{w.url}\tdelivered {w.delivered}, pending {w.pending}, failed {w.failed}"
            f"\t{','.join(w.events)}"
        )
    if not rows:
        typer.echo(f"no webhooks for {org}")
    exit_now(0)


@webhooks_app.command("remove")
def webhooks_remove(webhook_id: int = typer.Argument(..., help="the webhook's id")) -> None:
    """Stop a receiver: nothing more is sent to it (its log stays)."""
    hook = _webhook_call(lambda engine: webhooks.remove_webhook(engine, webhook_id))
    typer.echo(f"webhook {hook.id} removed ({hook.url})")
    exit_now(0)


@webhooks_app.command("retry")
def webhooks_retry(org: str = typer.Option(..., "--org", help="org code")) -> None:
    """Try the org's pending deliveries now instead of after their backoff (a receiver is back)."""
    n = _webhook_call(lambda engine: webhooks.retry_now(engine, org))
    typer.echo(f"{n} pending deliveries of {org} will be tried now")
    exit_now(0)


@webhooks_app.command("log")
def webhooks_log(
    org: str = typer.Option(..., "--org", help="org code"),
    limit: int = typer.Option(50, "--limit", help="rows, newest first (at most 500)"),
    status: str | None = typer.Option(None, "--status", help="pending | delivered | failed"),
) -> None:
    """The delivery log of the org's receivers, newest first."""
    rows = _webhook_call(lambda engine: webhooks.delivery_log(engine, org, limit=limit, status=status))
    typer.echo("queued\tevent\ttransfer\tstatus\tattempts\tlast\tdelivery id\turl")
    for r in rows:
        last = str(r.last_status_code) if r.last_status_code else (r.last_error or "")
        typer.echo(
            f"{r.created_at.isoformat(timespec='seconds')}\t{r.event}\t{r.transfer_id}\t{r.status}\t"
            f"{r.attempts}\t{last}\t{r.delivery_id}\t{r.url}"
        )
    exit_now(0)


@app.command()
def dev(
    demo: bool = typer.Option(True, help="seed the demo data when the database is empty"),
) -> None:
    """Start everything on this machine: Temporal dev server + UI, worker, API+UI. Ctrl-C stops all."""
    configure_from_settings()
    s = get_settings()
    data_dir = s.ensure_data_dir().resolve()
    upgrade(s.effective_database_url)
    logins = run(_seed_if_empty()) if demo else []

    stopping = {"flag": False}

    def _on_signal(signum: int, _frame: FrameType | None) -> None:
        stopping["flag"] = True

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)

    env = dict(os.environ)
    if s.rehearsal_start is not None and s.rehearsal_epoch is None:
        # one rehearsal calendar for the worker and the API: it began when `zhtj dev` started
        env["ZHTJ_REHEARSAL_EPOCH"] = str(calendar(s).epoch)
    env.update(
        ZHTJ_DATA_DIR=str(data_dir),
        DATABASE_URL=s.effective_database_url,
        TEMPORAL_ADDRESS=s.effective_temporal_address,
        PYTHONUNBUFFERED="1",
    )
    stack = DevStack(s)
    status = 0
    try:
        if s.temporal_address:
            typer.echo(f"using the Temporal server at {s.temporal_address}")
        else:
            for port in (s.temporal_port, s.temporal_ui_port):
                if port_open(port):
                    raise RuntimeError(f"127.0.0.1:{port} is already in use (another `zhtj dev`?)")
            server = stack.spawn("temporal", dev_server_command(s), env, data_dir / "temporal-server.log")
            wait_for_port(s.temporal_port, server.proc, 60, "temporal dev server")
            wait_for_port(s.temporal_ui_port, server.proc, 60, "Temporal UI")
        if port_open(s.http_port):
            raise RuntimeError(f"127.0.0.1:{s.http_port} is already in use")
        stack.spawn("worker", [sys.executable, "-m", "cli", "worker"], env)
        api_child = stack.spawn("api", [sys.executable, "-m", "cli", "api"], env)
        wait_for_port(s.http_port, api_child.proc, 60, "API")
        os.environ["TEMPORAL_ADDRESS"] = s.effective_temporal_address
        result = run(_system_check(60))
        typer.echo("")
        typer.echo("zhtj-transfer is running:")
        typer.echo(f"  API + UI      http://{s.http_host}:{s.http_port}/   (OpenAPI: /docs)")
        if not s.temporal_address:
            typer.echo(f"  Temporal UI   http://127.0.0.1:{s.temporal_ui_port}/")
            typer.echo(f"  Temporal      127.0.0.1:{s.temporal_port} (namespace {s.temporal_namespace})")
        typer.echo(f"  database      {_redact(s.effective_database_url)}")
        typer.echo(f"  data          {result.orgs} orgs, {result.members} members, {result.users} logins")
        if s.rehearsal_start is not None:
            typer.echo(
                f"  calendar      rehearsal from {s.rehearsal_start}, {s.time_scale:g}× real time "
                f"(today {calendar(s).today()}; ZHTJ_REHEARSAL_EPOCH={calendar(s).epoch} continues it after a restart)"
            )
        if logins:
            typer.echo("  demo logins:")
            for line in logins:
                typer.echo(f"    {line}")
        typer.echo("Press Ctrl-C to stop.")
        while not stopping["flag"]:
            dead = stack.dead_child()
            if dead is not None:
                typer.echo(f"{dead.name} exited unexpectedly (code {dead.proc.returncode}); stopping", err=True)
                status = 1
                break
            time.sleep(0.5)
    except Exception as e:  # noqa: BLE001
        typer.echo(f"zhtj dev failed: {e}", err=True)
        status = 1
    finally:
        typer.echo("stopping...")
        stack.stop()
        typer.echo("stopped.")
    exit_now(status)


def _redact(url: str) -> str:
    """Hide a password in a database URL."""
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        creds, host = rest.rsplit("@", 1)
        user = creds.split(":", 1)[0]
        return f"{scheme}://{user}:***@{host}" if ":" in creds else url
    return url


async def _seed_if_empty() -> list[str]:
    """Seed the demo data into an empty database; the demo logins to print either way."""
    async with open_engine() as engine:
        return await demo_login_lines(engine, seed_when_empty=seed_demo)


def main() -> None:
    app()


if __name__ == "__main__":
    main()
