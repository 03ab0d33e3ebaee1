"""个人中心 (a member's own page) and 个人发起 (the member starts their own transfer)."""

from __future__ import annotations

from fastapi import Depends, Request
from fastapi.responses import HTMLResponse, Response

from domain.roles import Role
from domain.transfers import Channel
from service import pages
from web.ui.context import SignedIn, landing, member_self, redirect, render, ui_router
from web.ui.start import form_page, start_post

router = ui_router()


@router.get("/me", response_class=HTMLResponse)
async def me(request: Request, viewer: SignedIn) -> Response:
    if viewer.user.role != Role.MEMBER:
        return redirect(landing(viewer.user))
    page = await pages.member_page(request.app.state.engine, await member_self(viewer))
    return render(
        request,
        "me.html",
        member=page.member,
        branch=page.branch,
        school=page.school,
        items=page.items,
        names=page.names,
        has_open=page.has_open,
    )


@router.get("/me/transfer", response_class=HTMLResponse, dependencies=[Depends(member_self)])
async def my_transfer_form(request: Request, viewer: SignedIn) -> Response:
    return await form_page(request, viewer, Channel.SELF)


@router.post("/me/transfer", response_class=HTMLResponse, dependencies=[Depends(member_self)])
async def my_transfer_start(request: Request, viewer: SignedIn) -> Response:
    return await start_post(request, viewer, Channel.SELF)
