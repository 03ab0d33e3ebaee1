"""FastAPI application: the JSON API under /api, the Chinese UI under /ui, the home page and the
health check."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from fastapi.staticfiles import StaticFiles
from temporalio.client import Client

from core.logging import configure_from_settings, get_logger
from core.settings import Settings, get_settings
from models.db import assert_migrated, current_revision, make_engine
from models.directory import DIRECTORIES
from service.auth import LoginThrottle
from service.pages import home_counts
from web.api import errors
from web.api import members as members_api
from web.api import notifications as notifications_api
from web.api import registers as registers_api
from web.api import retentions as retentions_api
from web.api import routes as api_routes
from web.api import uploads as uploads_api
from web.nul_guard import NulGuard
from web.ui import messages as messages_ui
from web.ui import retentions as retentions_ui
from web.ui import roster as roster_ui
from web.ui import router as ui_router
from web.ui import uploads as uploads_ui
from web.ui import webhooks as webhooks_ui
from web.ui.views import templates

HERE = Path(__file__).resolve().parent
log = get_logger(__name__)


def create_app(settings: Settings | None = None) -> FastAPI:
    s = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        configure_from_settings()
        engine = make_engine(s.effective_database_url)
        await assert_migrated(engine)  # refuses to serve an unmigrated database
        app.state.engine = engine
        app.state.temporal = None
        app.state.signing_key = s.signing_key()
        app.state.directories = DIRECTORIES
        app.state.throttle = LoginThrottle()
        log.info("api started", host=s.http_host, port=s.http_port)
        try:
            yield
        finally:
            await engine.dispose()

    app = FastAPI(
        title="zhtj-transfer",
        description="团组织关系转接（学社衔接）服务 API",
        version="0.1.0",
        lifespan=lifespan,
    )
    app.state.settings = s
    app.mount("/static", StaticFiles(directory=str(HERE / "static")), name="static")
    errors.install(app)
    app.add_middleware(NulGuard)
    app.include_router(api_routes.router)
    app.include_router(uploads_api.router)
    app.include_router(uploads_ui.router)  # before ui_router: its last route answers any other /ui path
    for stay_router in (retentions_api.router, members_api.router, registers_api.router):
        app.include_router(stay_router)
    app.include_router(retentions_ui.router)  # before ui_router, as above
    app.include_router(roster_ui.router)
    app.include_router(notifications_api.router)
    app.include_router(messages_ui.router)  # before ui_router, as above
    app.include_router(webhooks_ui.router)  # before ui_router, as above
    app.include_router(ui_router)

    async def temporal_client() -> Client:
        """One Temporal client per app, connected on first use (the API starts without Temporal)."""
        from core.temporal import connect

        if app.state.temporal is None:
            app.state.temporal = await connect(s)
        client: Client = app.state.temporal
        return client

    app.state.temporal_client = temporal_client

    @app.get("/healthz", tags=["ops"])
    async def healthz(request: Request) -> JSONResponse:
        """200 when the database is migrated and Temporal answers; 503 otherwise, saying which."""
        checks: dict[str, str] = {}
        ok = True
        try:
            checks["database_revision"] = await current_revision(request.app.state.engine) or ""
            checks["database"] = "ok"
        except Exception as e:  # noqa: BLE001
            ok, checks["database"] = False, f"error: {type(e).__name__}"
        try:
            client = await temporal_client()
            await client.service_client.check_health()
            checks["temporal"] = "ok"
        except Exception as e:  # noqa: BLE001
            request.app.state.temporal = None
            ok, checks["temporal"] = False, f"error: {type(e).__name__}"
        return JSONResponse({"status": "ok" if ok else "degraded", **checks}, status_code=200 if ok else 503)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def home(request: Request) -> HTMLResponse:
        counts = await home_counts(request.app.state.engine)
        temporal_ui = None if s.temporal_address else f"http://127.0.0.1:{s.temporal_ui_port}"
        return templates.TemplateResponse(request, "home.html", {"counts": counts, "temporal_ui": temporal_ui})

    return app
