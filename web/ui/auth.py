"""登录 and 退出, and /ui itself (each login's landing page)."""

from __future__ import annotations

from datetime import timedelta

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from service import auth
from service.permissions import may_use_web
from web.ui import session as sess
from web.ui.context import UI, SignedIn, form_data, landing, redirect, render, ui_router

router = ui_router()


def safe_next(value: str | None) -> str | None:
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return None


@router.get("", response_class=HTMLResponse)
@router.get("/", response_class=HTMLResponse)
async def ui_root(viewer: SignedIn) -> Response:
    return redirect(landing(viewer.user))


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request, ctx: UI) -> Response:
    nxt = safe_next(request.query_params.get("next"))
    if ctx.user is not None:
        return redirect(nxt or landing(ctx.user))
    notice = "您已安全退出。" if request.query_params.get("bye") else None
    return render(request, "login.html", next=nxt or "", notice=notice, username="", error=None)


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request, ctx: UI) -> Response:
    state = request.app.state
    data = await form_data(request)
    username, password = data.get("username", ""), (await request.form()).get("password") or ""
    nxt = safe_next(data.get("next"))
    who = request.client.host if request.client else "unknown"

    def refused(status: int, error: str) -> Response:
        return render(
            request, "login.html", status_code=status, next=nxt or "", username=username, notice=None, error=error
        )

    if state.throttle.locked(who):
        return refused(429, "登录失败次数过多，请15分钟后再试")
    user = await auth.authenticate(state.engine, username, str(password)) if username and password else None
    if user is None:
        await state.throttle.delay(who)
        state.throttle.failed(who)
        return refused(401, "用户名或密码错误")
    if not may_use_web(user):
        return refused(403, "服务账号不能登录网页，请使用 API")
    state.throttle.succeeded(who)
    ctx.session = sess.new_session(user.id, int(timedelta(minutes=state.settings.token_ttl_minutes).total_seconds()))
    ctx.dirty = True
    return redirect(nxt or landing(user))


@router.post("/logout")
async def logout(ctx: UI) -> Response:
    ctx.session = sess.new_session(None, sess.ANONYMOUS_TTL)
    ctx.viewer = None
    ctx.dirty = True
    return redirect("/ui/login?bye=1")
