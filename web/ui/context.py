"""What every UI route shares: who is asking, and how an answer is finished.

- `ui_context`, a dependency of every UI router: the session cookie → `UIContext` (the viewer,
  from `service.pages.viewer`), kept on `request.state.ui` for the templates; a POST whose CSRF
  token does not match the session is refused with a 403 page.
- `SignedIn`, `OrgAdminOnly` and `member_self`: the viewer a handler needs, else the login page or
  a 403.
- `UIRoute`, the route class of the UI routers, does what a dependency cannot: it turns
  `LoginRequired` into a redirect to the login page and `UIError`, `ServiceError` or an unexpected
  error into a Chinese error page (JSON under `UIJsonRoute`), and sets the session cookie (when it
  changed) and the security headers on every answer, the error pages included. It is a route class
  rather than app-wide exception handlers and a middleware because those would also catch the
  API's errors (which answer problem+json), and an app-wide handler of `Exception` runs outside
  every middleware, so the 503 page would have neither the cookie nor the headers.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.logging import get_logger
from domain.glossary import USER_ROLE_LABELS
from domain.roles import Role
from models.tables import MAX_ROW_ID
from service import notifications, pages
from service.auth import Caller
from service.errors import ServiceError
from web.ui import session as sess
from web.ui.views import templates

log = get_logger(__name__)

TITLES = {
    400: "请求无效",
    403: "无权访问",
    404: "未找到",
    409: "与当前状态冲突",
    422: "输入不符合要求",
    429: "尝试次数过多",
    500: "服务器错误",
    503: "服务暂不可用",
}
CSRF_MESSAGE = "表单缺少有效的安全令牌（CSRF），请求已被拒绝。请返回并刷新页面后重试。"


class LoginRequired(Exception):
    pass


class UIError(Exception):
    def __init__(self, status: int, *messages: str) -> None:
        self.status = status
        self.messages = list(messages)
        super().__init__("; ".join(messages))


@dataclass
class UIContext:
    session: sess.UISession
    viewer: pages.Viewer | None = None
    dirty: bool = False  # the cookie must be (re)set
    unread: int = 0  # the viewer's unread notices, for the menu's 消息 badge (at most BADGE_CAP)

    @property
    def csrf(self) -> str:
        return self.session.csrf

    @property
    def user(self) -> Caller | None:
        return self.viewer.user if self.viewer is not None else None

    @property
    def org_name(self) -> str:
        return self.viewer.org.name if self.viewer is not None and self.viewer.org is not None else ""

    @property
    def role_label(self) -> str:
        return USER_ROLE_LABELS.get(self.user.role, self.user.role) if self.user else ""

    @property
    def display_name(self) -> str:
        if self.user is None:
            return ""
        return self.user.display_name or self.user.username


# --- dependencies ------------------------------------------------------------------------------


async def ui_context(request: Request) -> UIContext:
    """The session of the cookie and its viewer (a new anonymous session when the cookie is
    missing, forged, expired, or its login is gone); a POST must carry the session's CSRF token."""
    state = request.app.state
    s = sess.decode(request.cookies.get(sess.COOKIE), state.signing_key)
    ctx = None
    if s is not None:
        viewer = await pages.viewer(state.engine, s.uid) if s.uid is not None else None
        if s.uid is None or viewer is not None:
            ctx = UIContext(session=s, viewer=viewer)
    if ctx is None:
        ctx = UIContext(session=sess.new_session(None, sess.ANONYMOUS_TTL), dirty=True)
    request.state.ui = ctx
    if request.method == "POST":
        submitted = (await request.form()).get(sess.CSRF_FIELD)
        if not sess.csrf_ok(ctx.session, submitted if isinstance(submitted, str) else None):
            raise UIError(403, CSRF_MESSAGE)
    if ctx.viewer is not None:  # the menu's 消息 badge: one indexed, capped count
        ctx.unread = await notifications.unread_badge(state.engine, ctx.viewer.user)
    return ctx


UI = Annotated[UIContext, Depends(ui_context)]


async def signed_in(ctx: UI) -> pages.Viewer:
    if ctx.viewer is None:
        raise LoginRequired()
    return ctx.viewer


SignedIn = Annotated[pages.Viewer, Depends(signed_in)]


async def org_admin(viewer: SignedIn) -> pages.OrgAdmin:
    admin = viewer.as_org_admin()
    if admin is None:
        raise UIError(403, "该页面仅供组织管理员使用")
    return admin


OrgAdminOnly = Annotated[pages.OrgAdmin, Depends(org_admin)]


async def member_self(viewer: SignedIn) -> pages.MemberSelf:
    me = viewer.as_member()
    if me is None:
        raise UIError(403, "该页面仅供团员本人使用")
    return me


# --- helpers of the handlers -------------------------------------------------------------------


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, {"ui": request.state.ui, **context}, status_code=status_code)


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def landing(user: Caller) -> str:
    return "/ui/me" if user.role == Role.MEMBER else "/ui/ops"


def int_or(value: Any, default: int | None = None) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return default


def row_id_of(value: Any) -> int | None:
    """A row id from a path or form: a positive database integer, else None (a 404, not a crash)."""
    n = int_or(value)
    return n if n is not None and 0 < n <= MAX_ROW_ID else None


async def form_data(request: Request) -> dict[str, str]:
    data = await request.form()
    return {k: v.strip() for k, v in data.items() if isinstance(v, str)}


# --- finishing every answer --------------------------------------------------------------------


def error_response(request: Request, status: int, messages: list[str], *, as_json: bool) -> Response:
    if as_json:
        return JSONResponse(
            {"ok": False, "status": status, "errors": [{"field": "", "message": m} for m in messages]},
            status_code=status,
        )
    return templates.TemplateResponse(
        request,
        "error.html",
        {
            "ui": getattr(request.state, "ui", None),
            "status": status,
            "title": TITLES.get(status, "错误"),
            "messages": messages,
        },
        status_code=status,
    )


def _refusal(request: Request, error: Exception, *, as_json: bool) -> Response:
    """The answer to an error raised by a handler or a dependency."""
    if isinstance(error, LoginRequired):
        if as_json or request.method != "GET":
            return error_response(request, 403, ["登录已过期，请重新登录"], as_json=as_json)
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return redirect(f"/ui/login?next={quote(target)}")
    if isinstance(error, UIError):
        return error_response(request, error.status, error.messages, as_json=as_json)
    if isinstance(error, ServiceError):
        return error_response(request, error.status, [p.message for p in error.problems], as_json=as_json)
    log.exception("ui request failed", path=request.url.path)
    return error_response(request, 503, ["服务暂时不可用，请稍后重试。您的操作未完成。"], as_json=as_json)


def _finish(request: Request, response: Response) -> Response:
    ctx: UIContext | None = getattr(request.state, "ui", None)
    if ctx is not None and ctx.dirty:
        sess.set_cookie(response, request, ctx.session, request.app.state.signing_key)
    h = response.headers
    h.setdefault("Cache-Control", "no-store")
    h.setdefault("X-Content-Type-Options", "nosniff")
    h.setdefault("X-Frame-Options", "DENY")
    h.setdefault("Referrer-Policy", "same-origin")
    h.setdefault(
        "Content-Security-Policy",
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        "connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
    )
    return response


class UIRoute(APIRoute):
    """A UI page or form post: errors become Chinese pages; every answer is finished."""

    as_json = False

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        original = super().get_route_handler()

        async def handler(request: Request) -> Response:
            try:
                response = await original(request)
            except (StarletteHTTPException, RequestValidationError):
                raise
            except Exception as e:  # noqa: BLE001 - every error becomes the page saying so
                response = _refusal(request, e, as_json=self.as_json)
            return _finish(request, response)

        return handler


class UIJsonRoute(UIRoute):
    """A JSON endpoint of the UI's forms: its errors are JSON too."""

    as_json = True


def ui_router(*, as_json: bool = False) -> APIRouter:
    """A router of UI routes under /ui: each loads the session (and checks a POST's CSRF token)."""
    return APIRouter(
        prefix="/ui",
        route_class=UIJsonRoute if as_json else UIRoute,
        dependencies=[Depends(ui_context)],
        include_in_schema=False,
    )
