"""操作中心: an admin's lists (待我审批, 待分配团支部, 全部可见) and 批量审批."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from domain.transfers import TransferStatus, TransferType
from service import decisions, pages
from web.ui.context import OrgAdminOnly, int_or, render, row_id_of, ui_router

router = ui_router()
PAGE_SIZE = 20


@dataclass
class OpsParams:
    scope: str = "pending"  # one of pages.OPS_SCOPES
    type: str | None = None
    status: str | None = None
    overdue: bool | None = None
    page: int = 1

    @classmethod
    def parse(cls, q: Any) -> OpsParams:
        scope = q.get("scope") if q.get("scope") in pages.OPS_SCOPES else "pending"
        ttype = q.get("type") if q.get("type") in {t.value for t in TransferType} else None
        status = q.get("status") if q.get("status") in {s.value for s in TransferStatus} else None
        overdue = {"1": True, "0": False}.get(q.get("overdue") or "")
        return cls(
            scope=scope,
            type=ttype,
            status=status,
            overdue=overdue,
            page=min(max(int_or(q.get("page"), 1) or 1, 1), 100_000),
        )

    def query(self, **override: Any) -> str:
        d = {
            "scope": self.scope,
            "type": self.type or "",
            "status": self.status or "",
            "overdue": "" if self.overdue is None else "1" if self.overdue else "0",
            "page": self.page,
            **override,
        }
        return urlencode({k: v for k, v in d.items() if v not in ("", None)})


async def _ops_page(
    request: Request,
    admin: pages.OrgAdmin,
    p: OpsParams,
    *,
    batch: list[dict[str, Any]] | None = None,
    status_code: int = 200,
) -> Response:
    page = await pages.ops_page(
        request.app.state.engine,
        admin,
        p.scope,
        type=p.type,
        status=p.status,
        overdue=p.overdue,
        page=p.page,
        page_size=PAGE_SIZE,
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
        batch=batch,
        can_batch=p.scope == "pending",
    )


@router.get("/ops", response_class=HTMLResponse)
async def ops(request: Request, admin: OrgAdminOnly) -> Response:
    return await _ops_page(request, admin, OpsParams.parse(request.query_params))


@router.post("/ops/batch-approve", response_class=HTMLResponse)
async def batch_approve(request: Request, admin: OrgAdminOnly) -> Response:
    form = await request.form()
    ids = [i for i in (row_id_of(v) for v in form.getlist("ids")) if i is not None][:100]
    p = OpsParams.parse(form)
    if not ids:
        return await _ops_page(
            request,
            admin,
            p,
            batch=[{"id": None, "ok": False, "errors": [{"message": "请先勾选要审批的申请"}]}],
            status_code=422,
        )
    state = request.app.state
    results = await decisions.batch_approve(state.engine, await state.temporal_client(), admin.user, ids)
    who = await pages.member_names(state.engine, admin.user, ids)
    for r in results:
        r["member_name"] = who.get(r["id"], "")
    return await _ops_page(request, admin, p, batch=results)
