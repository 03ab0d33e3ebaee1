"""The Chinese web UI (Jinja2 pages under /ui): login, 操作中心, 审批, 办理转出/转入, 个人中心, 名册.

One module per page area; `context` holds what they share (the session and viewer dependencies,
the error pages, the cookie and security headers). The routers are included in the order the
paths must be tried, and a GET of any other /ui path is a Chinese 404 page.
"""

from fastapi import APIRouter
from fastapi.responses import HTMLResponse, Response

from web.ui import auth, lookups, me, ops, registers, start, transfers
from web.ui.context import UIError, ui_router

_fallback = ui_router()


@_fallback.get("/{rest:path}", response_class=HTMLResponse)
async def not_found(rest: str) -> Response:
    raise UIError(404, "页面不存在")


router = APIRouter()
for _area in (auth, ops, transfers, start, lookups, me, registers):
    router.include_router(_area.router)
router.include_router(_fallback)

__all__ = ["router"]
