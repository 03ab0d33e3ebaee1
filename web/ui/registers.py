"""特殊名册: an admin's four registers (their org and the orgs below it), and their XLSX export."""

from __future__ import annotations

import time
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from domain.glossary import REGISTER_LABELS
from domain.holdings import RegisterKind
from service import registers
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
        [n if head == "序号" else _cell(value(r)) for head, value, _ in registers.COLUMNS[kind]]
        for n, r in enumerate(rows, start=1)
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


@router.get("/registers/export")
async def register_export(request: Request, admin: OrgAdminOnly) -> Response:
    kind = _register_kind(request.query_params.get("kind"))
    org = admin.org
    rows = await registers.register(request.app.state.engine, kind, org.code)
    filename = f"{REGISTER_LABELS[kind]}-{org.code}-{time.strftime('%Y%m%d')}.xlsx"
    return Response(
        registers.export_xlsx(rows, kind),
        media_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        headers={
            "Content-Disposition": f'attachment; filename="register-{kind.value}.xlsx"; '
            f"filename*=UTF-8''{quote(filename)}"
        },
    )
