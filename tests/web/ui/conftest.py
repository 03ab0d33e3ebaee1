"""The app served for real on loopback (uvicorn in the test's event loop) on a seeded database,
with a worker on the dev server, and Debian's chromium driven by Playwright.

Screenshots of each page go to tests/artifacts/<name>.png when UI_SCREENSHOTS=1.
"""

from __future__ import annotations

import asyncio
import os
import socket
from dataclasses import dataclass
from pathlib import Path

import playwright.async_api as playwright_api
import pytest
import pytest_asyncio
from sqlalchemy import select

from models import Member, User
from models.db import session_factory
from seed.demo import DEMO_PASSWORD
from web.app import create_app
from worker import build_worker

CHROMIUM = os.environ.get("ZHTJ_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-background-networking", "--disable-component-update", "--disable-sync"]
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"
SCREENSHOTS = os.environ.get("UI_SCREENSHOTS") == "1"


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Served:
    base_url: str
    engine: object
    app: object

    async def member_of(self, username: str) -> Member:
        async with session_factory(self.engine)() as s:
            user = (await s.execute(select(User).where(User.username == username))).scalar_one()
            return await s.get(Member, user.member_id)

    async def user(self, username: str) -> User:
        async with session_factory(self.engine)() as s:
            return (await s.execute(select(User).where(User.username == username))).scalar_one()


@pytest_asyncio.fixture
async def served(engine, app_settings, dev_env, task_queue):
    import uvicorn

    settings = app_settings
    app = create_app(settings)
    port = _free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on", access_log=False)
    )
    async with build_worker(dev_env.client, engine, task_queue=task_queue):
        task = asyncio.create_task(server.serve())
        for _ in range(200):
            if server.started or task.done():
                break
            await asyncio.sleep(0.05)
        assert server.started, "uvicorn did not start"
        try:
            yield Served(base_url=f"http://127.0.0.1:{port}", engine=engine, app=app)
        finally:
            server.should_exit = True
            await task


@pytest_asyncio.fixture(scope="session")
async def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"{CHROMIUM} is missing: apt-get install chromium (scripts/test.sh installs it)")
    async with playwright_api.async_playwright() as p:
        b = await p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        try:
            yield b
        finally:
            await b.close()


class UI:
    """One browser context (its own cookies) on the served app."""

    def __init__(self, context, page, base_url: str) -> None:
        self.context, self.page, self.base_url = context, page, base_url
        self.js_errors: list[str] = []  # uncaught exceptions and CSP violations: the page's JS is broken
        page.on("pageerror", lambda exc: self.js_errors.append(str(exc)))
        page.on(
            "console",
            lambda msg: (
                self.js_errors.append(msg.text)
                if msg.type == "error" and "Content Security Policy" in msg.text
                else None
            ),
        )

    async def goto(self, path: str):
        return await self.page.goto(self.base_url + path)

    async def login(self, username: str, password: str = DEMO_PASSWORD) -> None:
        await self.goto("/ui/login")
        await self.page.fill('input[name="username"]', username)
        await self.page.fill('input[name="password"]', password)
        await self.page.click('button[type="submit"]:has-text("登录")')
        await self.page.wait_for_load_state()

    async def logout(self) -> None:
        await self.page.click('form[action="/ui/logout"] button')
        await self.page.wait_for_url("**/ui/login?bye=1")

    async def shot(self, name: str) -> None:
        if SCREENSHOTS:
            ARTIFACTS.mkdir(parents=True, exist_ok=True)
            await self.page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)


@pytest_asyncio.fixture
async def ui_factory(browser, served):
    made: list[UI] = []

    async def make(**kw) -> UI:
        ctx = await browser.new_context(locale="zh-CN", **kw)
        ctx.set_default_timeout(15_000)
        made.append(UI(ctx, await ctx.new_page(), served.base_url))
        return made[-1]

    try:
        yield make
    finally:
        for u in made:
            await u.context.close()
    errors = [e for u in made for e in u.js_errors]
    assert not errors, f"JavaScript errors in the pages: {errors}"


@pytest_asyncio.fixture
async def ui(ui_factory) -> UI:
    return await ui_factory()
