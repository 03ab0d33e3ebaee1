"""个人中心 (a member's own page: their transfers and their abroad-study retention applications)
and 个人发起 (the member starts their own transfer)."""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response

from domain.roles import Role
from domain.transfers import Channel
from models import row_id
from service import pages, retention_views
from web.ui.context import SignedIn, landing, member_self, redirect, render, ui_router
from web.ui.retentions import status_label
from web.ui.start import form_page, start_post

router = ui_router()


@router.get("/me", response_class=HTMLResponse)
async def me(request: Request, viewer: SignedIn) -> Response:
    if viewer.user.role != Role.MEMBER:
        return redirect(landing(viewer.user))
    engine = request.app.state.engine
    page = await pages.member_page(engine, await member_self(viewer))
    retentions = [
        {**r, "status_label": status_label(r)}
        for r in await retention_views.member_retentions(engine, row_id(page.member.id))
    ]
    return render(
        request,
        "me.html",
        member=page.member,
        branch=page.branch,
        school=page.school,
        items=page.items,
        names=page.names,
        has_open=page.has_open,
        returned_count=page.returned_count,
        retentions=retentions,
        retention_open=any(r["status"] == "pending" or r["in_force"] for r in retentions),
    )


@router.get("/me/transfer", response_class=HTMLResponse, dependencies=[Depends(member_self)])
async def my_transfer_form(request: Request, viewer: SignedIn) -> Response:
    return await form_page(request, viewer, Channel.SELF)


@router.post("/me/transfer", response_class=HTMLResponse, dependencies=[Depends(member_self)])
async def my_transfer_start(request: Request, viewer: SignedIn) -> Response:
    return await start_post(request, viewer, Channel.SELF)
