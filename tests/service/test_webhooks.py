"""Registering webhooks and reading their delivery log: the service, `zhtj webhooks`, and the page
/ui/webhooks (the org's own admins only)."""

from __future__ import annotations

import re
import subprocess
import sys
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from sqlalchemy import select

from core.settings import Settings
from messages.delivery import WEBHOOK_EVENTS, sign, signature_valid
from models import Delivery, Webhook
from models.db import session_factory, session_scope
from seed.demo import DEMO_PASSWORD, seed_demo
from service import webhooks
from service.errors import ServiceError
from web.app import create_app

ZHTJ = str(Path(sys.executable).parent / "zhtj")
AT = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')


@pytest.fixture
async def seeded(engine):
    await seed_demo(engine, members=20)
    return engine


async def log_rows(engine, hook_id: int, statuses: list[str]) -> None:
    """Deliveries as the dispatcher records them (one per status)."""
    async with session_scope(engine) as s:
        for i, status in enumerate(statuses):
            s.add(
                Delivery(
                    key=uuid.uuid4().hex,
                    channel="webhook",
                    delivery_id=f"d-{hook_id}-{i}",
                    event="node.pending",
                    webhook_id=hook_id,
                    transfer_id=None,
                    recipient="http://x",
                    payload="{}",
                    status=status,
                    attempts=i + 1,
                    last_status_code=200 if status == "delivered" else 502,
                    occurred_at=AT + timedelta(minutes=i),
                    created_at=AT + timedelta(minutes=i),
                )
            )


def test_events_and_urls_are_checked():
    assert webhooks.parse_events(None) == list(WEBHOOK_EVENTS) == webhooks.parse_events(["all"])
    assert webhooks.parse_events(["transfer.completed, transfer.started", "node.pending"]) == [
        "transfer.started",
        "node.pending",
        "transfer.completed",
    ]
    with pytest.raises(ServiceError) as e:
        webhooks.parse_events(["transfer.started,transfer.deleted"])
    assert e.value.status == 422 and "transfer.deleted" in str(e.value)
    for bad in ("ftp://x/y", "not a url", "http://"):
        with pytest.raises(ServiceError):
            webhooks.check_url(bad)
    assert webhooks.check_url(" https://sis.example.edu.cn/zhtj ") == "https://sis.example.edu.cn/zhtj"


def test_the_signature_a_receiver_checks():
    body = b'{"event":"transfer.started"}'
    header = sign("whsec_x", body)
    assert header.startswith("sha256=") and len(header) == 7 + 64
    assert signature_valid("whsec_x", body, header)
    assert not signature_valid("whsec_y", body, header) and not signature_valid("whsec_x", body + b" ", header)
    assert not signature_valid("whsec_x", body, None)


async def test_add_list_log_remove(seeded):
    engine = seeded
    new = await webhooks.add_webhook(engine, "https://sis.example.cn/hook", "DFM", ["transfer.started"])
    assert new.secret.startswith("whsec_") and len(new.secret) > 40 and new.org_code == "DFM"
    other = await webhooks.add_webhook(engine, "https://other.example.cn/hook", "WHU")
    await log_rows(engine, new.webhook.id, ["delivered", "pending", "failed"])
    await log_rows(engine, other.webhook.id, ["delivered"])

    (row,) = await webhooks.list_webhooks(engine, "DFM")
    assert (row.url, row.events, row.active, row.delivered, row.pending, row.failed) == (
        "https://sis.example.cn/hook",
        ["transfer.started"],
        True,
        1,
        1,
        1,
    )
    log = await webhooks.delivery_log(engine, "DFM")
    assert [r.status for r in log] == ["failed", "pending", "delivered"]  # newest first, this org's only
    assert [r.status for r in await webhooks.delivery_log(engine, "DFM", status="pending")] == ["pending"]
    assert len(await webhooks.delivery_log(engine, "WHU")) == 1
    assert await webhooks.retry_now(engine, "DFM") == 1

    with pytest.raises(ServiceError) as e:
        await webhooks.add_webhook(engine, "https://x.cn", "NOPE")
    assert e.value.status == 404
    with pytest.raises(ServiceError):
        await webhooks.remove_webhook(engine, new.webhook.id, "WHU")  # not WHU's
    await webhooks.remove_webhook(engine, new.webhook.id)
    assert not (await webhooks.list_webhooks(engine, "DFM"))[0].active


def _zhtj(env, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run([ZHTJ, "webhooks", *args], env=env, capture_output=True, text=True, timeout=120)


async def test_cli_prints_the_secret_once(seeded, cli_env):
    r = _zhtj(
        cli_env, "add", "https://sis.example.cn/hook", "--org", "DFM", "--events", "transfer.started,node.pending"
    )
    assert r.returncode == 0, r.stderr
    secret = re.search(r"secret: (\S+)", r.stdout).group(1)
    async with session_factory(seeded)() as s:
        hook = (await s.execute(select(Webhook))).scalar_one()
    assert hook.secret == secret and hook.events == ["transfer.started", "node.pending"]

    listed = _zhtj(cli_env, "list", "--org", "DFM")
    assert listed.returncode == 0 and "https://sis.example.cn/hook" in listed.stdout and secret not in listed.stdout
    await log_rows(seeded, hook.id, ["pending"])
    log = _zhtj(cli_env, "log", "--org", "DFM")
    assert (
        log.returncode == 0 and f"d-{hook.id}-0" in log.stdout and "pending" in log.stdout and secret not in log.stdout
    )

    retried = _zhtj(cli_env, "retry", "--org", "DFM")
    assert retried.returncode == 0 and "1 pending" in retried.stdout
    bad = _zhtj(cli_env, "add", "https://x.cn", "--org", "DFM", "--events", "transfer.deleted")
    assert bad.returncode == 1 and "transfer.deleted" in bad.stderr
    assert _zhtj(cli_env, "add", "https://x.cn", "--org", "NOPE").returncode == 1
    removed = _zhtj(cli_env, "remove", str(hook.id))
    assert removed.returncode == 0 and "removed" in removed.stdout


class Browser:
    def __init__(self, app) -> None:
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")

    async def login(self, username: str) -> None:
        page = await self.http.get("/ui/login")
        token = _CSRF.search(page.text).group(1)
        r = await self.http.post(
            "/ui/login", data={"username": username, "password": DEMO_PASSWORD, "csrf_token": token}
        )
        assert r.status_code == 303, r.text


async def test_the_page_shows_the_orgs_own_webhooks_to_its_admins_only(seeded, database_url, tmp_path):
    engine = seeded
    hook = await webhooks.add_webhook(engine, "https://sis.dfmc.example/hook", "DFM")
    await log_rows(engine, hook.webhook.id, ["delivered", "pending"])
    app = create_app(Settings(database_url=database_url, data_dir=tmp_path, secret_key="test-" + uuid.uuid4().hex))
    async with app.router.lifespan_context(app):
        dfm = Browser(app)
        await dfm.login("dfm")
        page = await dfm.http.get("/ui/webhooks")
        assert page.status_code == 200
        assert "https://sis.dfmc.example/hook" in page.text and f"d-{hook.webhook.id}-1" in page.text
        assert hook.secret not in page.text and "已送达" in page.text and "待重试" in page.text
        pending = await dfm.http.get("/ui/webhooks?status=pending")
        assert f"d-{hook.webhook.id}-1" in pending.text and f"d-{hook.webhook.id}-0" not in pending.text

        for other in ("whu", "hb"):  # another org's admin, and an admin above DFM
            b = Browser(app)
            await b.login(other)
            page = await b.http.get("/ui/webhooks")
            assert page.status_code == 200 and "sis.dfmc.example" not in page.text and "尚未登记" in page.text

        member = Browser(app)
        await member.login("member1")
        assert (await member.http.get("/ui/webhooks")).status_code == 403
        anonymous = await Browser(app).http.get("/ui/webhooks")
        assert anonymous.status_code in (302, 303, 307)
