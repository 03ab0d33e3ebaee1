"""消息: the message centre of the logged-in account (an org admin: the notices of the orgs they
handle; a member: their own), with 标为已读 and 全部标为已读. Opening a notice's request marks it
read. Read state is per account (`service.notifications`)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from domain.glossary import NOTIFICATION_KIND_LABELS
from domain.roles import Role
from service import notifications
from web.ui.auth import safe_next
from web.ui.context import SignedIn, UIError, int_or, redirect, render, row_id_of, ui_router

router = ui_router()
PAGE_SIZE = 20


def notice_link(item: dict[str, Any], role: str) -> str | None:
    """Where a notice leads: its request, else the page of its flow."""
    if item["transfer_id"] is not None:
        return f"/ui/transfers/{item['transfer_id']}"
    kind = item["kind"]
    if kind.startswith("retention_"):
        return "/ui/me" if role == Role.MEMBER else "/ui/retentions"
    if kind.startswith("holding_") and role == Role.ADMIN:
        return "/ui/registers"
    return None


@router.get("/messages", response_class=HTMLResponse)
async def messages(request: Request, viewer: SignedIn) -> Response:
    q = request.query_params
    unread_only = q.get("unread") == "1"
    page = min(max(int_or(q.get("page"), 1) or 1, 1), 100_000)
    got = await notifications.notice_page(
        request.app.state.engine, viewer.user, unread_only=unread_only, page=page, page_size=PAGE_SIZE
    )
    own = viewer.org.code if viewer.org is not None else None
    items = [
        {
            **i,
            "kind_label": NOTIFICATION_KIND_LABELS.get(i["kind"], "通知"),
            "link": notice_link(i, viewer.user.role),
            "for_org": i["org_name"] if i["org_code"] and i["org_code"] != own else None,
        }
        for i in got.items
    ]
    pages = max((got.total + PAGE_SIZE - 1) // PAGE_SIZE, 1)

    def query(**kw: Any) -> str:
        d = {"unread": "1" if unread_only else "", "page": page if page > 1 else "", **kw}
        return urlencode({k: v for k, v in d.items() if v not in ("", None)})

    here = "/ui/messages" + (f"?{qs}" if (qs := query()) else "")  # 标为已读 comes back here
    return render(
        request,
        "messages.html",
        items=items,
        total=got.total,
        unread=got.unread,
        unread_only=unread_only,
        page=page,
        pages=pages,
        query=query,
        here=here,
    )


@router.post("/messages/read-all", response_class=HTMLResponse)
async def read_all(request: Request, viewer: SignedIn) -> Response:
    await notifications.mark_all_read(request.app.state.engine, viewer.user)
    return redirect("/ui/messages?done=all")


@router.post("/messages/{nid}/read", response_class=HTMLResponse)
async def read_one(request: Request, viewer: SignedIn, nid: str) -> Response:
    """Mark the notice read, then go to `next` (its request when opened from the list)."""
    n = row_id_of(nid)
    if n is None:
        raise UIError(404, "消息不存在")
    await notifications.mark_read(request.app.state.engine, viewer.user, n)
    nxt = (await request.form()).get("next")
    return redirect(safe_next(nxt if isinstance(nxt, str) else None) or "/ui/messages")
