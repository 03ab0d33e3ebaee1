"""Webhooks (接口推送): the receivers of the admin's org and their delivery log, for the org's own
admins (`zhtj webhooks add` registers them; the secret is never shown here)."""

from __future__ import annotations

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from messages.delivery import DeliveryStatus
from service import webhooks
from web.ui.context import OrgAdminOnly, render, ui_router

router = ui_router()

STATUS_LABELS = {
    DeliveryStatus.PENDING.value: "待重试",
    DeliveryStatus.DELIVERED.value: "已送达",
    DeliveryStatus.FAILED.value: "已放弃",
}


@router.get("/webhooks", response_class=HTMLResponse)
async def webhooks_page(request: Request, admin: OrgAdminOnly) -> Response:
    engine = request.app.state.engine
    status = request.query_params.get("status") or None
    if status not in STATUS_LABELS:
        status = None
    hooks = await webhooks.list_webhooks(engine, admin.org.code)
    log = await webhooks.delivery_log(engine, admin.org.code, limit=100, status=status) if hooks else []
    return render(
        request,
        "webhooks.html",
        hooks=hooks,
        log=log,
        status=status,
        status_labels=STATUS_LABELS,
    )
