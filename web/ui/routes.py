"""Pages and form posts of the UI. Every rule lives in `service/`; this module only reads the
request, calls the service, and renders the answer (or the service's problems beside the fields).

Every route goes through `UIRoute`: it loads the session cookie and the user, refuses a POST whose
CSRF token does not match the session (403 page), turns `LoginRequired` into a redirect to the
login page and `UIError`/`ServiceError` into a Chinese error page (JSON for the JSON endpoints),
sets the cookie when the session changed, and adds security headers.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.routing import APIRoute
from sqlalchemy import select
from starlette.exceptions import HTTPException as StarletteHTTPException

from core.logging import get_logger
from domain.forms import FORM_FIELDS, FORM_REQUIRED
from domain.glossary import ORG_KIND_LABELS, PARTITION_QUESTION, REGISTER_LABELS, USER_ROLE_LABELS
from domain.holdings import RegisterKind
from domain.orgs import Partition
from domain.transfers import Channel, TransferStatus, TransferType
from models import ApprovalStep, Member, Org, Transfer, User
from models.tables import MAX_ROW_ID
from service import auth, decisions, lookup, queries, registers
from service.intake import StartRequest, start_request
from service.errors import Problem, ServiceError
from web.ui import session as sess
from web.ui.views import field_errors, form_rows, input_for, label_of, local_time, templates

log = get_logger(__name__)
PAGE_SIZE = 20
OPEN_STATUSES = {s.value for s in TransferStatus if s.is_open}
SPECIAL = ("beijing", "guangdong", "fujian")
LOCATION_KEYS = ("province", "city", "county", "township")
FORM_INPUTS = (
    "school_name",
    "school_address",
    "employer_name",
    "employer_address",
    "address",
    "unit_kind",
    "joined_unit_on",
    "abroad_place",
    "abroad_from",
    "abroad_to",
    "contact_name",
    "contact_phone",
)

DONE_MESSAGES = {
    "started": "转接申请已提交。",
    "existing": "该团员已有办理中的转接申请（一名团员同时只能有一条），以下为该申请。",
    "approved": "已审批通过。",
    "returned": "已退回，发起方可更正后重新提交或撤回。",
    "assigned": "已分配团支部。",
    "withdrawn": "申请已撤回。",
}


# --- request context, errors -------------------------------------------------------------------


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
    user: User | None = None
    org: Org | None = None
    member: Member | None = None
    dirty: bool = False  # the cookie must be (re)set

    @property
    def csrf(self) -> str:
        return self.session.csrf

    @property
    def role_label(self) -> str:
        return USER_ROLE_LABELS.get(self.user.role, self.user.role) if self.user else ""

    @property
    def display_name(self) -> str:
        if self.user is None:
            return ""
        return self.user.display_name or self.user.username


def json_endpoint(fn: Callable) -> Callable:
    fn._ui_json = True  # type: ignore[attr-defined]
    return fn


_TITLES = {
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


async def _load_context(request: Request) -> UIContext:
    state = request.app.state
    s = sess.decode(request.cookies.get(sess.COOKIE), state.signing_key)
    ctx = UIContext(session=s) if s is not None else None
    if ctx is not None and s.uid is not None:
        user = await auth.load_user(state.engine, s.uid)
        if user is None or user.role not in ("admin", "member"):
            ctx = None
        else:
            ctx.user = user
            async with state.sessions() as db:
                ctx.org = await db.get(Org, user.org_id) if user.org_id else None
                ctx.member = await db.get(Member, user.member_id) if user.member_id else None
    if ctx is None:
        ctx = UIContext(session=sess.new_session(None, sess.ANONYMOUS_TTL), dirty=True)
    return ctx


def ui(request: Request) -> UIContext:
    return request.state.ui


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
            "title": _TITLES.get(status, "错误"),
            "messages": messages,
        },
        status_code=status,
    )


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
    def get_route_handler(self) -> Callable:
        original = super().get_route_handler()
        as_json = getattr(self.endpoint, "_ui_json", False)

        async def handler(request: Request) -> Response:
            try:
                request.state.ui = await _load_context(request)
                if request.method == "POST":
                    submitted = (await request.form()).get(sess.CSRF_FIELD)
                    if not sess.csrf_ok(ui(request).session, submitted if isinstance(submitted, str) else None):
                        raise UIError(403, CSRF_MESSAGE)
                response = await original(request)
            except LoginRequired:
                if as_json or request.method != "GET":
                    response = error_response(request, 403, ["登录已过期，请重新登录"], as_json=as_json)
                else:
                    target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
                    response = RedirectResponse(f"/ui/login?next={quote(target)}", status_code=303)
            except UIError as e:
                response = error_response(request, e.status, e.messages, as_json=as_json)
            except ServiceError as e:
                response = error_response(request, e.status, [p.message for p in e.problems], as_json=as_json)
            except (StarletteHTTPException, RequestValidationError):
                raise
            except Exception:
                log.exception("ui request failed", path=request.url.path)
                response = error_response(
                    request, 503, ["服务暂时不可用，请稍后重试。您的操作未完成。"], as_json=as_json
                )
            return _finish(request, response)

        return handler


router = APIRouter(prefix="/ui", route_class=UIRoute, include_in_schema=False)


def require_user(request: Request, role: str | None = None) -> User:
    ctx = ui(request)
    if ctx.user is None:
        raise LoginRequired()
    if role == "admin" and (ctx.user.role != "admin" or ctx.user.org_id is None):
        raise UIError(403, "该页面仅供组织管理员使用")
    if role == "member" and (ctx.user.role != "member" or ctx.member is None):
        raise UIError(403, "该页面仅供团员本人使用")
    return ctx.user


def render(request: Request, name: str, status_code: int = 200, **context: Any) -> HTMLResponse:
    return templates.TemplateResponse(request, name, {"ui": ui(request), **context}, status_code=status_code)


def redirect(url: str) -> RedirectResponse:
    return RedirectResponse(url, status_code=303)


def landing(user: User) -> str:
    return "/ui/me" if user.role == "member" else "/ui/ops"


def _int(value: Any, default: int | None = None) -> int | None:
    try:
        return int(str(value))
    except (TypeError, ValueError):
        return default


def _id(value: Any) -> int | None:
    """A row id from a path or form: a positive database integer, else None (a 404, not a crash)."""
    n = _int(value)
    return n if n is not None and 0 < n <= MAX_ROW_ID else None


async def _form(request: Request) -> dict[str, str]:
    data = await request.form()
    return {k: v.strip() for k, v in data.items() if isinstance(v, str)}


async def _org_names(request: Request, codes: set[str]) -> dict[str, str]:
    codes = {c for c in codes if c}
    if not codes:
        return {}
    async with request.app.state.sessions() as db:
        return dict((await db.execute(select(Org.code, Org.name).where(Org.code.in_(codes)))).all())


# --- login / logout ------------------------------------------------------------------------------


def _safe_next(value: str | None) -> str | None:
    if value and value.startswith("/") and not value.startswith("//") and "\\" not in value:
        return value
    return None


@router.get("", response_class=HTMLResponse)
@router.get("/", response_class=HTMLResponse)
async def ui_root(request: Request) -> Response:
    return redirect(landing(require_user(request)))


@router.get("/login", response_class=HTMLResponse)
async def login_page(request: Request) -> Response:
    ctx = ui(request)
    nxt = _safe_next(request.query_params.get("next"))
    if ctx.user is not None:
        return redirect(nxt or landing(ctx.user))
    notice = "您已安全退出。" if request.query_params.get("bye") else None
    return render(request, "login.html", next=nxt or "", notice=notice, username="", error=None)


@router.post("/login", response_class=HTMLResponse)
async def login(request: Request) -> Response:
    state = request.app.state
    data = await _form(request)
    username, password = data.get("username", ""), (await request.form()).get("password") or ""
    nxt = _safe_next(data.get("next"))
    who = request.client.host if request.client else "unknown"
    if state.throttle.locked(who):
        return render(
            request,
            "login.html",
            status_code=429,
            next=nxt or "",
            username=username,
            notice=None,
            error="登录失败次数过多，请15分钟后再试",
        )
    user = await auth.authenticate(state.engine, username, str(password)) if username and password else None
    if user is None:
        await state.throttle.delay(who)
        state.throttle.failed(who)
        return render(
            request,
            "login.html",
            status_code=401,
            next=nxt or "",
            username=username,
            notice=None,
            error="用户名或密码错误",
        )
    if user.role not in ("admin", "member"):
        return render(
            request,
            "login.html",
            status_code=403,
            next=nxt or "",
            username=username,
            notice=None,
            error="服务账号不能登录网页，请使用 API",
        )
    state.throttle.succeeded(who)
    ctx = ui(request)
    ctx.session = sess.new_session(user.id, int(timedelta(minutes=state.settings.token_ttl_minutes).total_seconds()))
    ctx.dirty = True
    return redirect(nxt or landing(user))


@router.post("/logout")
async def logout(request: Request) -> Response:
    ctx = ui(request)
    ctx.session = sess.new_session(None, sess.ANONYMOUS_TTL)
    ctx.user = None
    ctx.dirty = True
    return redirect("/ui/login?bye=1")


# --- 操作中心 -------------------------------------------------------------------------------------


@dataclass
class OpsParams:
    scope: str = "pending"  # pending (待我审批) | assign (待分配团支部) | all (全部可见)
    type: str | None = None
    status: str | None = None
    overdue: bool | None = None
    page: int = 1

    @classmethod
    def parse(cls, q: Any) -> OpsParams:
        scope = q.get("scope") if q.get("scope") in ("pending", "assign", "all") else "pending"
        ttype = q.get("type") if q.get("type") in {t.value for t in TransferType} else None
        status = q.get("status") if q.get("status") in {s.value for s in TransferStatus} else None
        overdue = {"1": True, "0": False}.get(q.get("overdue") or "")
        return cls(
            scope=scope,
            type=ttype,
            status=status,
            overdue=overdue,
            page=min(max(_int(q.get("page"), 1) or 1, 1), 100_000),
        )

    def query(self, **override: Any) -> str:
        d = {
            "scope": self.scope,
            "type": self.type or "",
            "status": self.status or "",
            "overdue": {True: "1", False: "0"}.get(self.overdue, ""),
            "page": self.page,
            **override,
        }
        return urlencode({k: v for k, v in d.items() if v not in ("", None)})


async def _ops_page(
    request: Request, p: OpsParams, *, batch: list[dict] | None = None, status_code: int = 200
) -> Response:
    user = require_user(request, "admin")
    own = ui(request).org.code
    f = queries.TransferFilter(type=p.type, status=p.status, overdue=p.overdue)
    if p.scope == "pending":
        f.node_org = own
    elif p.scope == "assign":
        f.to_org, f.status = own, TransferStatus.AWAITING_ASSIGNMENT.value
    async with request.app.state.sessions() as db:
        items, total = await queries.list_transfers(db, user, f, page=p.page, page_size=PAGE_SIZE)
        _, overdue_count = await queries.list_transfers(
            db, user, queries.TransferFilter(node_org=own, overdue=True), page=1, page_size=1
        )
        _, assign_count = await queries.list_transfers(
            db,
            user,
            queries.TransferFilter(to_org=own, status=TransferStatus.AWAITING_ASSIGNMENT.value),
            page=1,
            page_size=1,
        )
    names = await _org_names(
        request,
        {
            c
            for i in items
            for c in (i["from_org_code"], i["target_org_code"], (i["current_node"] or {}).get("org_code"))
        },
    )
    pages = max((total + PAGE_SIZE - 1) // PAGE_SIZE, 1)
    return render(
        request,
        "ops.html",
        status_code=status_code,
        items=items,
        total=total,
        p=p,
        pages=pages,
        names=names,
        overdue_count=overdue_count,
        assign_count=assign_count,
        batch=batch,
        can_batch=p.scope == "pending",
    )


@router.get("/ops", response_class=HTMLResponse)
async def ops(request: Request) -> Response:
    return await _ops_page(request, OpsParams.parse(request.query_params))


@router.post("/ops/batch-approve", response_class=HTMLResponse)
async def batch_approve(request: Request) -> Response:
    user = require_user(request, "admin")
    form = await request.form()
    ids = [i for i in (_id(v) for v in form.getlist("ids")) if i is not None][:100]
    p = OpsParams.parse(form)
    if not ids:
        return await _ops_page(
            request,
            p,
            batch=[{"id": None, "ok": False, "errors": [{"message": "请先勾选要审批的申请"}]}],
            status_code=422,
        )
    state = request.app.state
    results = await decisions.batch_approve(state.engine, await state.temporal_client(), user, ids)
    async with state.sessions() as db:
        who = dict(
            (
                await db.execute(
                    select(Transfer.id, Member.name)
                    .join(Member, Member.id == Transfer.member_id)
                    .where(Transfer.id.in_(ids), queries.visible(user))
                )
            ).all()
        )
    for r in results:
        r["member_name"] = who.get(r["id"], "")
    return await _ops_page(request, p, batch=results)


# --- 组织关系转接审批 (detail and decisions) --------------------------------------------------------


async def _abilities(db, user: User, t: Transfer) -> dict[str, Any]:
    """Which action forms this viewer sees; the services check again when they are used."""
    out: dict[str, Any] = {"decide": False, "assign": False, "withdraw": False, "branches": []}
    is_open = t.status in OPEN_STATUSES
    if user.role == "admin" and user.org_id is not None:
        if t.status == TransferStatus.PENDING.value:
            step_org = (
                (
                    await db.execute(
                        select(ApprovalStep.org_id)
                        .where(ApprovalStep.transfer_id == t.id, ApprovalStep.status == "pending")
                        .order_by(ApprovalStep.round.desc())
                    )
                )
                .scalars()
                .first()
            )
            if step_org is not None:
                out["decide"] = (
                    await db.execute(
                        select(Org.id).where(Org.id == step_org, Org.id.in_(queries.subtree_ids(user.org_id)))
                    )
                ).first() is not None
        if t.status == TransferStatus.AWAITING_ASSIGNMENT.value:
            mine = (
                await db.execute(
                    select(Org.id).where(Org.id == t.target_org_id, Org.id.in_(queries.subtree_ids(user.org_id)))
                )
            ).first()
            if mine is not None:
                out["assign"] = True
                out["branches"] = (
                    (
                        await db.execute(
                            select(Org)
                            .where(
                                Org.id.in_(queries.subtree_ids(t.target_org_id)),
                                Org.branch_level.is_(True),
                                Org.can_receive.is_(True),
                            )
                            .order_by(Org.code)
                            .limit(500)
                        )
                    )
                    .scalars()
                    .all()
                )
        if is_open and t.channel != Channel.SELF.value and t.initiated_by:
            init_org = (
                await db.execute(select(User.org_id).where(User.username == t.initiated_by))
            ).scalar_one_or_none()
            if init_org is not None:
                out["withdraw"] = (
                    await db.execute(
                        select(Org.id).where(Org.id == init_org, Org.id.in_(queries.subtree_ids(user.org_id)))
                    )
                ).first() is not None
    elif user.role == "member":
        out["withdraw"] = is_open and t.channel == Channel.SELF.value and user.member_id == t.member_id
    return out


async def _detail_page(
    request: Request,
    tid_raw: str,
    *,
    errors: dict[str, list[str]] | None = None,
    values: dict[str, str] | None = None,
    action: str | None = None,
    status_code: int = 200,
) -> Response:
    user = require_user(request)
    tid = _id(tid_raw)
    async with request.app.state.sessions() as db:
        t = await queries.get_visible_transfer(db, user, tid) if tid is not None else None
        if t is None:
            raise UIError(404, "转接申请不存在，或您无权查看。")
        d = await queries.transfer_detail(db, user, t)
        can = await _abilities(db, user, t)
        actors = {h["actor"] for h in d["history"]} | {n["decided_by"] for n in d["nodes"] if n["decided_by"]}
        people = dict(
            (await db.execute(select(User.username, User.display_name).where(User.username.in_(actors)))).all()
        )
    people["system"] = "系统"
    names = await _org_names(request, {d["from_org_code"], d["target_org_code"], d["branch_code"] or ""})
    done = DONE_MESSAGES.get(request.query_params.get("done") or "")
    return render(
        request,
        "detail.html",
        status_code=status_code,
        d=d,
        can=can,
        names=names,
        people=people,
        form_rows=form_rows(d["form"]),
        done=done,
        errors=errors or {},
        values=values or {},
        action=action,
    )


@router.get("/transfers/{tid}", response_class=HTMLResponse)
async def detail(request: Request, tid: str) -> Response:
    return await _detail_page(request, tid)


async def _decide(request: Request, tid: str, action: str, call: Callable, done: str) -> Response:
    user = require_user(request)
    data = await _form(request)
    n = _id(tid)
    if n is None:
        raise UIError(404, "转接申请不存在，或您无权查看。")
    state = request.app.state
    try:
        await call(state.engine, await state.temporal_client(), user, n, data)
    except ServiceError as e:
        if e.status == 404:
            raise
        return await _detail_page(
            request, tid, errors=field_errors(e.problems), values=data, action=action, status_code=e.status
        )
    return redirect(f"/ui/transfers/{n}?done={done}")


@router.post("/transfers/{tid}/approve", response_class=HTMLResponse)
async def approve(request: Request, tid: str) -> Response:
    return await _decide(
        request,
        tid,
        "approve",
        lambda e, c, u, n, d: decisions.approve(e, c, u, n, d.get("comment") or None),
        "approved",
    )


@router.post("/transfers/{tid}/return", response_class=HTMLResponse)
async def return_request(request: Request, tid: str) -> Response:
    async def call(e, c, u, n, d):
        if not d.get("reason_code"):
            raise ServiceError(422, [Problem("reason_code", "请选择退回原因")])
        return await decisions.return_request(e, c, u, n, d["reason_code"], d.get("reason_text", ""))

    return await _decide(request, tid, "return", call, "returned")


@router.post("/transfers/{tid}/assign", response_class=HTMLResponse)
async def assign(request: Request, tid: str) -> Response:
    async def call(e, c, u, n, d):
        if not d.get("branch_code"):
            raise ServiceError(422, [Problem("branch_code", "请选择团支部")])
        return await decisions.assign_branch(e, c, u, n, d["branch_code"])

    return await _decide(request, tid, "assign", call, "assigned")


@router.post("/transfers/{tid}/withdraw", response_class=HTMLResponse)
async def withdraw(request: Request, tid: str) -> Response:
    async def call(e, c, u, n, d):
        if not d.get("reason"):
            raise ServiceError(422, [Problem("reason", "请填写撤回原因")])
        return await decisions.withdraw(e, c, u, n, d["reason"])

    return await _decide(request, tid, "withdraw", call, "withdrawn")


# --- 办理转出 / 办理转入 / 个人发起 -----------------------------------------------------------------


CHANNEL_PATHS = {
    Channel.OUT: "/ui/transfers/new/out",
    Channel.IN: "/ui/transfers/new/in",
    Channel.SELF: "/ui/me/transfer",
}


def _channel_for(user: User, raw: str | None) -> Channel:
    if user.role == "member":
        return Channel.SELF
    if raw in (Channel.OUT.value, Channel.IN.value):
        return Channel(raw)
    raise UIError(404, "页面不存在")


def _parse_start(data: dict[str, str], channel: Channel) -> tuple[StartRequest | None, list[Problem]]:
    """The StartRequest of a posted form, and the problems only the form can have (the services
    find every other one)."""
    problems: list[Problem] = []
    try:
        ttype = TransferType(data.get("type", ""))
    except ValueError:
        return None, [Problem("type", "请选择转入原因")]
    partition = None
    if channel in (Channel.OUT, Channel.SELF):
        answer = data.get("partition_special")
        if answer == "no":
            partition = Partition.NATIONAL.value
        elif answer == "yes":
            if data.get("partition_which") in SPECIAL:
                partition = data["partition_which"]
            else:
                problems.append(Problem("partition_which", f"“{PARTITION_QUESTION}”选择“是”时，须选择北京、广东或福建"))
        else:
            problems.append(Problem("partition_special", f"请回答“{PARTITION_QUESTION}”"))
    form: dict[str, Any] = {}
    for key in FORM_FIELDS[ttype]:
        if key == "location":
            loc = {k: data[f"loc_{k}"] for k in LOCATION_KEYS if data.get(f"loc_{k}")}
            if loc or "location" in FORM_REQUIRED[ttype]:
                form["location"] = loc
        elif data.get(key):
            form[key] = data[key]
    req = StartRequest(
        id_number=data.get("id_number", ""),
        name=data.get("name", ""),
        type=ttype,
        channel=channel,
        form=form,
        target_org_code=data.get("target_org_code") or None,
        partition=partition,
    )
    return req, problems


async def _run_start(request: Request, user: User, data: dict[str, str], channel: Channel, *, dry_run: bool):
    """(result, route) of the service, or ServiceError with every problem found."""
    req, pre = _parse_start(data, channel)
    if req is None:
        raise ServiceError(422, pre)
    state = request.app.state
    kwargs = dict(
        directories=state.directories, task_queue=state.settings.task_queue, id_prefix=state.settings.workflow_id_prefix
    )
    if pre:  # still report what else is wrong, but start nothing
        try:
            await start_request(state.engine, None, user, req, dry_run=True, **kwargs)
        except ServiceError as e:
            raise ServiceError(422, pre + e.problems) from e
        raise ServiceError(422, pre)
    client = None if dry_run else await state.temporal_client()
    return await start_request(state.engine, client, user, req, dry_run=dry_run, **kwargs)


async def _receiving_choices(request: Request, user: User) -> list[Org]:
    """办理转入: the admin's own org and the orgs below it that can receive."""
    async with request.app.state.sessions() as db:
        return list(
            (
                await db.execute(
                    select(Org)
                    .where(Org.id.in_(queries.subtree_ids(user.org_id)), Org.can_receive.is_(True))
                    .order_by(Org.code)
                    .limit(300)
                )
            )
            .scalars()
            .all()
        )


async def _form_page(
    request: Request,
    channel: Channel,
    *,
    values: dict[str, str] | None = None,
    problems: list[Problem] | None = None,
    status_code: int = 200,
) -> Response:
    ctx = ui(request)
    user = ctx.user
    values = dict(values or {})
    if channel == Channel.SELF and ctx.member is not None:
        values.setdefault("name", ctx.member.name)
        values.setdefault("id_number", ctx.member.id_number)
    receiving = await _receiving_choices(request, user) if channel == Channel.IN else []
    if channel == Channel.IN:
        values.setdefault("target_org_code", ctx.org.code)
    target_name = None
    if values.get("target_org_code") and channel != Channel.IN:
        target_name = (await _org_names(request, {values["target_org_code"]})).get(values["target_org_code"])
    field_types = {
        k: " ".join(t.value for t in TransferType if k in FORM_FIELDS[t]) for k in (*FORM_INPUTS, "location")
    }
    title = {Channel.OUT: "办理转出", Channel.IN: "办理转入", Channel.SELF: "关系转接（个人发起）"}[channel]
    return render(
        request,
        "transfer_form.html",
        status_code=status_code,
        channel=channel.value,
        title=title,
        action=CHANNEL_PATHS[channel],
        values=values,
        problems=problems or [],
        errors=field_errors(problems or []),
        receiving=receiving,
        target_name=target_name,
        field_types=field_types,
        form_inputs=FORM_INPUTS,
    )


async def _start_post(request: Request, channel: Channel) -> Response:
    user = require_user(request)
    data = await _form(request)
    try:
        result, _ = await _run_start(request, user, data, channel, dry_run=False)
    except ServiceError as e:
        if e.status >= 500:
            raise
        return await _form_page(request, channel, values=data, problems=e.problems, status_code=e.status)
    async with request.app.state.sessions() as db:
        seen = await queries.get_visible_transfer(db, user, result.transfer_id)
    if seen is None:  # the member's open transfer was started by someone this viewer may not see
        return await _form_page(
            request,
            channel,
            values=data,
            status_code=409,
            problems=[Problem("id_number", "该团员已有办理中的转接申请（由其他组织发起），不能重复发起")],
        )
    return redirect(f"/ui/transfers/{seen.id}?done={'started' if result.created else 'existing'}")


@router.get("/transfers/new/{channel}", response_class=HTMLResponse)
async def new_transfer(request: Request, channel: str) -> Response:
    require_user(request, "admin")
    return await _form_page(request, _channel_for(ui(request).user, channel))


@router.post("/transfers/new/{channel}", response_class=HTMLResponse)
async def start_transfer(request: Request, channel: str) -> Response:
    require_user(request, "admin")
    return await _start_post(request, _channel_for(ui(request).user, channel))


@router.post("/transfers/preview")
@json_endpoint
async def preview(request: Request) -> Response:
    """预览路由: every check of a start and the route it would take (nothing is started)."""
    user = require_user(request)
    data = await _form(request)
    channel = _channel_for(user, data.get("channel"))
    try:
        _, route = await _run_start(request, user, data, channel, dry_run=True)
    except ServiceError as e:
        return JSONResponse(
            {
                "ok": False,
                "errors": [{"field": p.field, "input": input_for(p.field), "message": p.message} for p in e.problems],
            },
            status_code=e.status,
        )
    names = await _org_names(request, {route.org_code})
    return JSONResponse(
        {
            "ok": True,
            "route": {
                "org_code": route.org_code,
                "org_name": names.get(route.org_code, ""),
                "clause": route.clause,
                "explanation": route.explanation,
            },
        }
    )


@router.post("/lookup")
@json_endpoint
async def member_lookup(request: Request) -> Response:
    """查询: name + 身份证号 → the member (POST, so the 身份证号 never lands in a URL or access log)."""
    user = require_user(request)
    data = await _form(request)
    try:
        found = await lookup.lookup_member(
            request.app.state.engine, user, data.get("name", ""), data.get("id_number", "")
        )
    except ServiceError as e:
        return JSONResponse(
            {
                "ok": False,
                "errors": [{"field": p.field, "input": input_for(p.field), "message": p.message} for p in e.problems],
            },
            status_code=e.status,
        )
    return JSONResponse({"ok": True, "member": found.as_dict()})


@router.get("/orgs")
@json_endpoint
async def org_search(request: Request) -> Response:
    """The org picker: name or code contains q, within the partition the form's answer chose."""
    require_user(request)
    q = (request.query_params.get("q") or "").strip()[:100]
    partition = request.query_params.get("partition")
    partition = partition if partition in {p.value for p in Partition} else None
    kind = (request.query_params.get("kind") or "")[:32] or None
    async with request.app.state.sessions() as db:
        rows = await queries.search_orgs(db, q=q or None, partition=partition, kind=kind, limit=20)
    return JSONResponse([{**r, "kind_label": label_of(ORG_KIND_LABELS, r["kind"])} for r in rows])


@router.get("/regions")
@json_endpoint
async def region_choices(request: Request) -> Response:
    require_user(request)
    q = request.query_params
    names = await lookup.regions(
        request.app.state.engine,
        q.get("level", ""),
        province=q.get("province"),
        city=q.get("city"),
        county=q.get("county"),
    )
    return JSONResponse(names)


# --- 个人中心 ------------------------------------------------------------------------------------


@router.get("/me", response_class=HTMLResponse)
async def me(request: Request) -> Response:
    user = require_user(request)
    if user.role != "member":
        return redirect(landing(user))
    require_user(request, "member")
    member = ui(request).member
    async with request.app.state.sessions() as db:
        branch = await db.get(Org, member.branch_id)
        school = await db.get(Org, member.school_id) if member.school_id else None
        items, _ = await queries.list_transfers(db, user, queries.TransferFilter(), page=1, page_size=50)
    names = await _org_names(request, {c for i in items for c in (i["from_org_code"], i["target_org_code"])})
    has_open = any(i["status"] in OPEN_STATUSES for i in items)
    return render(
        request, "me.html", member=member, branch=branch, school=school, items=items, names=names, has_open=has_open
    )


@router.get("/me/transfer", response_class=HTMLResponse)
async def my_transfer_form(request: Request) -> Response:
    require_user(request, "member")
    return await _form_page(request, Channel.SELF)


@router.post("/me/transfer", response_class=HTMLResponse)
async def my_transfer_start(request: Request) -> Response:
    require_user(request, "member")
    return await _start_post(request, Channel.SELF)


# --- 特殊名册 ------------------------------------------------------------------------------------


def _register_kind(raw: str | None) -> RegisterKind:
    try:
        return RegisterKind(raw or RegisterKind.ABROAD_STUDY.value)
    except ValueError as e:
        raise UIError(404, "没有这个名册") from e


@router.get("/registers", response_class=HTMLResponse)
async def register_page(request: Request) -> Response:
    require_user(request, "admin")
    kind = _register_kind(request.query_params.get("kind"))
    rows = await registers.register(request.app.state.engine, kind, ui(request).org.code)
    columns = registers.COLUMNS[kind]
    cells = [
        [n if head == "序号" else _cell(value(r)) for head, value, _ in columns] for n, r in enumerate(rows, start=1)
    ]
    return render(
        request,
        "registers.html",
        kind=kind.value,
        rows=rows,
        cells=cells,
        headers=registers.headers(kind),
        labels={k.value: v for k, v in REGISTER_LABELS.items()},
    )


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (date, datetime)):
        return local_time(value, "%Y-%m-%d")
    return str(value)


@router.get("/registers/export")
async def register_export(request: Request) -> Response:
    require_user(request, "admin")
    kind = _register_kind(request.query_params.get("kind"))
    org = ui(request).org
    rows = await registers.register(request.app.state.engine, kind, org.code)
    body = registers.export_xlsx(rows, kind)
    filename = f"{REGISTER_LABELS[kind]}-{org.code}-{time.strftime('%Y%m%d')}.xlsx"
    return Response(
        body,
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={
            "Content-Disposition": f'attachment; filename="register-{kind.value}.xlsx"; '
            f"filename*=UTF-8''{quote(filename)}"
        },
    )


@router.get("/{rest:path}", response_class=HTMLResponse)
async def not_found(request: Request, rest: str) -> Response:
    raise UIError(404, "页面不存在")
