"""操作中心: an admin's lists (待我审批, 被退回, 待分配团支部, 全部可见) and the batch decisions on
the requests waiting at their org: 审批通过, or 退回 with one reason, on the rows ticked or on every
request the filter matches (全选符合条件的, at most `MAX_BATCH`), after a confirmation showing how
many. The confirmed batch is sent by the page's script in chunks (`/ui/ops/batch.json`, `CHUNK`
ids a request) with a result row per request as they come; without the script the server sends
the whole batch and answers with every row."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, JSONResponse, Response

from domain.glossary import RETURN_REASON_LABELS, TRANSFER_STATUS_LABELS
from domain.transfers import TransferStatus, TransferType, return_ground_problem
from service import decisions, ops_pages, pages
from service.queries import MAX_MATCHING_IDS
from web.ui.context import OrgAdminOnly, UIJsonRoute, int_or, render, row_id_of, ui_router
from web.ui.views import label_of

router = ui_router()
PAGE_SIZE = 20
MAX_BATCH = MAX_MATCHING_IDS  # the ids one batch may hold (全选符合条件的 resolves at most this many)
CHUNK = 100  # ids per request the page's script sends
BATCH_ACTIONS = {"approve": "批量审批通过", "return": "批量退回"}
ORG_CODE = re.compile(r"[A-Za-z0-9_-]{1,64}")  # an org code (the 组织 filter)


@dataclass
class OpsParams:
    scope: str = "pending"  # one of ops_pages.OPS_SCOPES
    type: str | None = None
    status: str | None = None
    overdue: bool | None = None
    page: int = 1
    subtree: bool = False  # 待我审批/待分配团支部 of every org below, not only those the admin handles
    org: str | None = None  # narrowed to one org of that scope

    @classmethod
    def parse(cls, q: Any) -> OpsParams:
        scope = q.get("scope") if q.get("scope") in ops_pages.OPS_SCOPES else "pending"
        ttype = q.get("type") if q.get("type") in {t.value for t in TransferType} else None
        status = q.get("status") if q.get("status") in {s.value for s in TransferStatus} else None
        overdue = {"1": True, "0": False}.get(q.get("overdue") or "")
        org = q.get("org")
        return cls(
            scope=scope,
            type=ttype,
            status=status,
            overdue=overdue,
            page=min(max(int_or(q.get("page"), 1) or 1, 1), 100_000),
            subtree=q.get("subtree") == "1",
            org=org if isinstance(org, str) and ORG_CODE.fullmatch(org) else None,
        )

    def query(self, **override: Any) -> str:
        d = {
            "scope": self.scope,
            "type": self.type or "",
            "status": self.status or "",
            "overdue": "" if self.overdue is None else "1" if self.overdue else "0",
            "subtree": "1" if self.subtree else "",
            "org": self.org or "",
            "page": self.page,
            **override,
        }
        return urlencode({k: v for k, v in d.items() if v not in ("", None)})


@dataclass
class Batch:
    """A batch decision as the forms post it."""

    action: str  # approve | return ("" when none was chosen)
    ids: list[int]
    reason_code: str = ""
    reason_text: str = ""
    all_matching: bool = False  # 全选符合条件的: the ids come from the filter
    confirmed: bool = False
    capped: bool = False  # the filter matched more than MAX_BATCH

    @property
    def label(self) -> str:
        return BATCH_ACTIONS.get(self.action, "")

    @property
    def id_list(self) -> str:
        return ",".join(str(i) for i in self.ids)

    @property
    def reason_label(self) -> str:
        return label_of(RETURN_REASON_LABELS, self.reason_code)

    def problems(self) -> dict[str, list[str]]:
        """What the form itself lacks (each id's refusal comes with its result)."""
        out: dict[str, list[str]] = {}
        if self.action not in BATCH_ACTIONS:
            out["action"] = ["请选择批量审批通过或批量退回"]
        if not self.ids:
            out["ids"] = ["请先勾选要处理的申请，或选择“全选符合条件的申请”"]
        elif len(self.ids) > MAX_BATCH:
            out["ids"] = [f"一次最多处理 {MAX_BATCH} 条"]
        if self.action == "return":
            if not self.reason_code:
                out["reason_code"] = ["请选择退回原因"]
            elif problem := return_ground_problem(self.reason_code, self.reason_text):
                out["reason_code"] = [problem]
        return out


def _form_ids(values: list[Any], id_list: Any) -> list[int]:
    """The ids ticked (`ids`) or carried by a confirmation (`id_list`, comma-separated): each once,
    in order, at most MAX_BATCH (+1, so that a longer list is seen as too long)."""
    raw = [v for v in values if isinstance(v, str)]
    if isinstance(id_list, str):
        raw += id_list.split(",")
    seen: dict[int, None] = {}
    for v in raw:
        n = row_id_of(v.strip())
        if n is not None:
            seen.setdefault(n, None)
            if len(seen) > MAX_BATCH:
                break
    return list(seen)


def _text(form: Any, name: str) -> str:
    v = form.get(name)
    return v.strip() if isinstance(v, str) else ""


async def _batch_of(request: Request, admin: pages.OrgAdmin, p: OpsParams) -> Batch:
    form = await request.form()
    b = Batch(
        action=_text(form, "action"),
        ids=_form_ids(form.getlist("ids"), form.get("id_list")),
        reason_code=_text(form, "reason_code"),
        reason_text=_text(form, "reason_text"),
        all_matching=_text(form, "all_matching") == "1",
        confirmed=_text(form, "confirmed") == "1",
    )
    if b.all_matching and not form.get("id_list"):
        # the requests waiting at this org that the filter matches, not only the page's
        ids = await ops_pages.ops_ids(
            request.app.state.engine,
            admin,
            "pending",
            type=p.type,
            status=None,
            overdue=p.overdue,
            limit=MAX_BATCH + 1,
            subtree=p.subtree,
            org=p.org,
        )
        b.ids, b.capped = ids[:MAX_BATCH], len(ids) > MAX_BATCH
    return b


async def _decide_all(request: Request, admin: pages.OrgAdmin, b: Batch) -> list[dict[str, Any]]:
    """Send the batch: one result row per id (the member's name and the outcome in words)."""
    state = request.app.state
    client = await state.temporal_client()
    if b.action == "approve":
        results = await decisions.batch_approve(state.engine, client, admin.user, b.ids)
    else:
        results = await decisions.batch_return(state.engine, client, admin.user, b.ids, b.reason_code, b.reason_text)
    who = await ops_pages.member_names(state.engine, admin.user, b.ids)
    for r in results:
        r["member_name"] = who.get(r["id"], "")
        if r["ok"]:
            status = label_of(TRANSFER_STATUS_LABELS, r["status"])
            r["text"] = f"审批通过（{status}）" if b.action == "approve" else status
        else:
            prefix = "未通过" if b.action == "approve" else "未退回"
            r["text"] = prefix + "：" + "；".join(e["message"] for e in r["errors"])
    return results


async def _ops_page(
    request: Request,
    admin: pages.OrgAdmin,
    p: OpsParams,
    *,
    batch: Batch | None = None,
    results: list[dict[str, Any]] | None = None,
    errors: dict[str, list[str]] | None = None,
    status_code: int = 200,
) -> Response:
    page = await ops_pages.ops_page(
        request.app.state.engine,
        admin,
        p.scope,
        type=p.type,
        status=p.status,
        overdue=p.overdue,
        page=p.page,
        page_size=PAGE_SIZE,
        time_scale=request.app.state.settings.time_scale,
        subtree=p.subtree,
        org=p.org,
    )
    return render(
        request,
        "ops.html",
        status_code=status_code,
        items=page.items,
        total=page.total,
        p=p,
        pages=max((page.total + PAGE_SIZE - 1) // PAGE_SIZE, 1),
        names=page.names,
        overdue_count=page.overdue_count,
        assign_count=page.assign_count,
        returned_count=page.returned_count,
        returned=page.returned,
        pending_count=page.pending_count,
        retention_count=page.retention_count,
        node_orgs=page.node_orgs,
        batch=batch,
        confirm=batch is not None and not errors and results is None,
        results=results,
        errors=errors or {},
        can_batch=p.scope == "pending",
        max_batch=MAX_BATCH,
        chunk=CHUNK,
    )


@router.get("/ops", response_class=HTMLResponse)
async def ops(request: Request, admin: OrgAdminOnly) -> Response:
    return await _ops_page(request, admin, OpsParams.parse(request.query_params))


@router.post("/ops/batch", response_class=HTMLResponse)
async def batch(request: Request, admin: OrgAdminOnly) -> Response:
    """First the confirmation (how many, which action, the reason); once confirmed, the whole
    batch (the page's script sends it in chunks to `batch_chunk` instead)."""
    p = OpsParams.parse(await request.form())
    b = await _batch_of(request, admin, p)
    if problems := b.problems():
        return await _ops_page(request, admin, p, batch=b, errors=problems, status_code=422)
    if not b.confirmed:
        return await _ops_page(request, admin, p, batch=b)
    return await _ops_page(request, admin, p, batch=b, results=await _decide_all(request, admin, b))


async def batch_chunk(request: Request, admin: OrgAdminOnly) -> Response:
    """A confirmed batch's chunk (at most CHUNK ids), as the page's script sends it: a result row
    per id, or the form's problems (422)."""
    b = await _batch_of(request, admin, OpsParams())
    problems = b.problems()
    if len(b.ids) > CHUNK:
        problems.setdefault("ids", []).append(f"每次最多提交 {CHUNK} 条")
    if problems:
        errors = [{"field": k, "message": m} for k, msgs in problems.items() for m in msgs]
        return JSONResponse({"ok": False, "errors": errors}, status_code=422)
    return JSONResponse({"ok": True, "results": await _decide_all(request, admin, b)})


# a JSON endpoint among the pages: its errors are JSON too
router.add_api_route(
    "/ops/batch.json", batch_chunk, methods=["POST"], route_class_override=UIJsonRoute, include_in_schema=False
)
