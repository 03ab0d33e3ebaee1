"""The special registers (登记造册, §6 and the 特殊单位专属库) over REST, as JSON or XLSX.

Lists mask the 身份证号; the XLSX export shows it whole to the admins of the member's own orgs and
the orgs above them (`service.registers.whole_ids`, the rule of the detail page)."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import Annotated, Any, Literal
from urllib.parse import quote

from fastapi import APIRouter, Query, Request
from fastapi.responses import Response

from service import register_export, registers
from service.auth import Caller
from web.api import schemas as s
from web.api.routes import CurrentUser

router = APIRouter(prefix="/api/registers", tags=["registers"])
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
Org = Annotated[
    str | None, Query(max_length=64, description="an org the caller acts for (default: their own), and below")
]


async def xlsx_response(request: Request, user: Caller, kind: str, org: str | None) -> Response:
    """The register as a workbook download (the UI's export too)."""
    engine = request.app.state.engine
    _, code, _ = await registers.org_scope(engine, user, org)
    rows = await registers.register(engine, kind, code)
    whole = await registers.whole_ids(engine, user, [r.member_id for r in rows])
    filename = f"{registers.REGISTER_NAMES[kind]}-{code}-{time.strftime('%Y%m%d')}.xlsx"
    return Response(
        register_export.export_xlsx(rows, kind, whole),
        media_type=XLSX,
        headers={
            "Content-Disposition": f"attachment; filename=\"register-{kind}.xlsx\"; filename*=UTF-8''{quote(filename)}"
        },
    )


@router.get(
    "/{kind}.xlsx",
    response_class=Response,
    responses={200: {"content": {XLSX: {}}, "description": "the register as an XLSX workbook"}},
)
async def register_xlsx(kind: s.RegisterCode, request: Request, user: CurrentUser, org: Org = None) -> Response:
    """The register as XLSX: Chinese headers, dates as dates, the whole 身份证号 for the admins of
    the member's own orgs (masked otherwise)."""
    return await xlsx_response(request, user, kind, org)


@router.get(
    "/{kind}",
    response_model=s.RegisterOut,
    responses={200: {"content": {XLSX: {}}, "description": "JSON, or XLSX with ?format=xlsx"}},
)
async def register(
    kind: s.RegisterCode,
    request: Request,
    user: CurrentUser,
    org: Org = None,
    format: Literal["json", "xlsx"] = "json",
) -> Any:
    """A register of the org and every org below it (an org the caller acts for: 403 otherwise):
    `abroad_study` (retentions in force), `mobile` (流动, with the 6-month end), `delayed`,
    `county_temp` (county-level temp branches, within a year), `special_unit` (the 专属库, with the
    transfer that put them there). 身份证号 masked."""
    if format == "xlsx":
        return await xlsx_response(request, user, kind, org)
    engine = request.app.state.engine
    _, code, name = await registers.org_scope(engine, user, org)
    rows = await registers.register(engine, kind, code)
    items = []
    for r in rows:
        item = asdict(r)
        item["id_number"] = item.pop("id_number_masked")
        items.append(item)
    return {
        "kind": kind,
        "name": registers.REGISTER_NAMES[kind],
        "org_code": code,
        "org_name": name,
        "total": len(items),
        "items": items,
    }
