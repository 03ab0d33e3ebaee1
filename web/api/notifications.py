"""The message centre over REST: the logged-in account's notices and its read marks.

An org admin reads the notices addressed to their org and to the orgs below it without an admin
account of their own (the nearest committee with one acts for a branch or a vacant township); a
member their own. Read state is per account: one admin reading a notice leaves it unread for the
org's other admins. A notice the account may not read is 404."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request

from models.tables import MAX_ROW_ID
from service import notifications
from web.api import schemas as s
from web.api.routes import CurrentUser

router = APIRouter(prefix="/api", tags=["notifications"])
NotificationId = Annotated[int, Path(ge=1, le=MAX_ROW_ID, description="the notice's id")]


@router.get("/notifications", response_model=s.NotificationPage)
async def list_notifications(
    request: Request,
    user: CurrentUser,
    unread: Annotated[bool, Query(description="only the notices this account has not read")] = False,
    page: Annotated[int, Query(ge=1, le=100000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=100)] = 20,
) -> dict[str, Any]:
    """The account's notices, newest first, each with its own read time, and how many are unread."""
    got = await notifications.notice_page(
        request.app.state.engine, user, unread_only=unread, page=page, page_size=page_size
    )
    return {"items": got.items, "unread": got.unread, "total": got.total, "page": page, "page_size": page_size}


@router.post("/notifications/read-all", response_model=s.NotificationsMarked)
async def read_all(request: Request, user: CurrentUser) -> dict[str, Any]:
    """Mark every notice of the account read (for this account only)."""
    engine = request.app.state.engine
    marked = await notifications.mark_all_read(engine, user)
    return {"marked": marked, "unread": await notifications.unread_count(engine, user)}


@router.post("/notifications/{notification_id}/read", response_model=s.NotificationsMarked)
async def read_one(notification_id: NotificationId, request: Request, user: CurrentUser) -> dict[str, Any]:
    """Mark one notice read for this account (again: nothing changes); 404 for one it may not read."""
    engine = request.app.state.engine
    marked = await notifications.mark_read(engine, user, notification_id)
    return {"marked": marked, "unread": await notifications.unread_count(engine, user)}
