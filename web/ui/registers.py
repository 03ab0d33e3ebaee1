"""特殊名册: an admin's registers (their org and the orgs below it): abroad study, 流动, 延迟毕业,
county temp branches and the 特殊单位专属库; and their XLSX export (the whole 身份证号 for the
admins of the member's own orgs, as the API's export)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from domain.holdings import RegisterKind
from service import registers
from service.register_export import COLUMNS, headers
from web.api.registers import xlsx_response
from web.ui.context import OrgAdminOnly, UIError, render, ui_router
from web.ui.views import local_time

router = ui_router()


def _register_kind(raw: str | None) -> RegisterKind:
    try:
        return RegisterKind(raw or RegisterKind.ABROAD_STUDY.value)
    except ValueError as e:
        raise UIError(404, "没有这个名册") from e


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (date, datetime)):
        return local_time(value, "%Y-%m-%d")
    return str(value)


@router.get("/registers", response_class=HTMLResponse)
async def register_page(request: Request, admin: OrgAdminOnly) -> Response:
    kind = _register_kind(request.query_params.get("kind"))
    rows = await registers.register(request.app.state.engine, kind, admin.org.code)
    cells = [
        [n if head == "序号" else _cell(value(r)) for head, value, _ in COLUMNS[kind]]
        for n, r in enumerate(rows, start=1)
    ]
    return render(
        request,
        "registers.html",
        kind=kind.value,
        rows=rows,
        cells=cells,
        headers=headers(kind),
        labels=registers.REGISTER_NAMES,
    )


@router.get("/registers/export")
async def register_export(request: Request, admin: OrgAdminOnly) -> Response:
    kind = _register_kind(request.query_params.get("kind"))
    return await xlsx_response(request, admin.user, kind.value, admin.org.code)
