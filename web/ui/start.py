"""办理转出, 办理转入 and 个人发起: the start form, its post, and the checks a preview runs.

The form's fields become a `StartRequest`; `service.intake.start_request` finds every problem
(this module adds only those of the form itself: the partition question's answer)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse, Response

from domain.forms import FORM_FIELDS, FORM_REQUIRED
from domain.glossary import PARTITION_QUESTION
from domain.orgs import Partition
from domain.roles import Role
from domain.transfers import Channel, TransferType
from messages.transfers import Route
from service import pages, transfer_pages
from service.auth import Caller
from service.errors import Problem, ServiceError
from service.intake import StartRequest, start_request
from service.transfers import StartResult
from web.ui.context import OrgAdminOnly, SignedIn, UIError, form_data, redirect, render, ui_router
from web.ui.views import field_errors

router = ui_router()

SPECIAL = (Partition.BEIJING.value, Partition.GUANGDONG.value, Partition.FUJIAN.value)
LOCATION_KEYS = ("province", "city", "county", "township")
FORM_INPUTS = (
    "school_name",
    "school_address",
    "employer_name",
    "employer_address",
    "address",
    "unit_kind",
    "joined_unit_on",
    "abroad_place",
    "abroad_from",
    "abroad_to",
    "contact_name",
    "contact_phone",
)
CHANNEL_PATHS = {
    Channel.OUT: "/ui/transfers/new/out",
    Channel.IN: "/ui/transfers/new/in",
    Channel.SELF: "/ui/me/transfer",
}
TITLES = {Channel.OUT: "办理转出", Channel.IN: "办理转入", Channel.SELF: "关系转接（个人发起）"}


def channel_for(user: Caller, raw: str | None) -> Channel:
    """A member starts only their own (个人发起); an admin 办理转出 or 办理转入."""
    if user.role == Role.MEMBER:
        return Channel.SELF
    if raw in (Channel.OUT.value, Channel.IN.value):
        return Channel(raw)
    raise UIError(404, "页面不存在")


def parse_start(data: dict[str, str], channel: Channel) -> tuple[StartRequest | None, list[Problem]]:
    """The StartRequest of a posted form, and the problems only the form can have (the services
    find every other one)."""
    problems: list[Problem] = []
    try:
        ttype = TransferType(data.get("type", ""))
    except ValueError:
        return None, [Problem("type", "请选择转入原因")]
    partition = None
    if channel in (Channel.OUT, Channel.SELF):
        answer = data.get("partition_special")
        if answer == "no":
            partition = Partition.NATIONAL.value
        elif answer == "yes":
            if data.get("partition_which") in SPECIAL:
                partition = data["partition_which"]
            else:
                problems.append(Problem("partition_which", f"“{PARTITION_QUESTION}”选择“是”时，须选择北京、广东或福建"))
        else:
            problems.append(Problem("partition_special", f"请回答“{PARTITION_QUESTION}”"))
    form: dict[str, Any] = {}
    for key in FORM_FIELDS[ttype]:
        if key == "location":
            loc = {k: data[f"loc_{k}"] for k in LOCATION_KEYS if data.get(f"loc_{k}")}
            if loc or "location" in FORM_REQUIRED[ttype]:
                form["location"] = loc
        elif data.get(key):
            form[key] = data[key]
    req = StartRequest(
        id_number=data.get("id_number", ""),
        name=data.get("name", ""),
        type=ttype,
        channel=channel,
        form=form,
        target_org_code=data.get("target_org_code") or None,
        partition=partition,
    )
    return req, problems


async def run_start(
    request: Request, user: Caller, data: dict[str, str], channel: Channel, *, dry_run: bool
) -> tuple[StartResult | None, Route]:
    """(result, route) of the service, or ServiceError with every problem found."""
    req, pre = parse_start(data, channel)
    if req is None:
        raise ServiceError(422, pre)
    state = request.app.state
    settings = state.settings
    kwargs: dict[str, Any] = dict(
        directories=state.directories, task_queue=settings.task_queue, id_prefix=settings.workflow_id_prefix
    )
    client = None if dry_run or pre else await state.temporal_client()
    try:
        # a form with problems of its own is still checked (a dry run) for what else is wrong
        result = await start_request(state.engine, client, user, req, dry_run=dry_run or bool(pre), **kwargs)
    except ServiceError as e:
        if pre and e.status != 403:  # who may start comes first, as on every other way in
            raise ServiceError(422, pre + e.problems) from e
        raise
    if pre:
        raise ServiceError(422, pre)
    return result


async def form_page(
    request: Request,
    viewer: pages.Viewer,
    channel: Channel,
    *,
    values: dict[str, str] | None = None,
    problems: list[Problem] | None = None,
    status_code: int = 200,
) -> Response:
    engine = request.app.state.engine
    values = dict(values or {})
    if channel == Channel.SELF and viewer.member is not None:
        values.setdefault("name", viewer.member.name)
        values.setdefault("id_number", viewer.member.id_number)
    receiving = []
    admin = viewer.as_org_admin()
    if channel == Channel.IN and admin is not None:
        receiving = await transfer_pages.receiving_orgs(engine, admin)
        values.setdefault("target_org_code", admin.org.code)
    target_name = None
    if values.get("target_org_code") and channel != Channel.IN:
        code = values["target_org_code"]
        target_name = (await pages.org_names(engine, [code])).get(code)
    field_types = {
        k: " ".join(t.value for t in TransferType if k in FORM_FIELDS[t]) for k in (*FORM_INPUTS, "location")
    }
    return render(
        request,
        "transfer_form.html",
        status_code=status_code,
        channel=channel.value,
        title=TITLES[channel],
        action=CHANNEL_PATHS[channel],
        values=values,
        problems=problems or [],
        errors=field_errors(problems or []),
        receiving=receiving,
        target_name=target_name,
        field_types=field_types,
        form_inputs=FORM_INPUTS,
    )


async def start_post(request: Request, viewer: pages.Viewer, channel: Channel) -> Response:
    """Start the transfer and show it; the form again with the problems when it is refused."""
    user = viewer.user
    data = await form_data(request)
    try:
        result, _ = await run_start(request, user, data, channel, dry_run=False)
    except ServiceError as e:
        if e.status >= 500:
            raise
        return await form_page(request, viewer, channel, values=data, problems=e.problems, status_code=e.status)
    assert result is not None  # not a dry run
    if not await transfer_pages.sees_transfer(request.app.state.engine, user, result.transfer_id):
        # the member's open transfer was started by someone this viewer may not see
        return await form_page(
            request,
            viewer,
            channel,
            values=data,
            status_code=409,
            problems=[Problem("id_number", "该团员已有办理中的转接申请（由其他组织发起），不能重复发起")],
        )
    return redirect(f"/ui/transfers/{result.transfer_id}?done={'started' if result.created else 'existing'}")


@router.get("/transfers/new/{channel}", response_class=HTMLResponse)
async def new_transfer(request: Request, viewer: SignedIn, admin: OrgAdminOnly, channel: str) -> Response:
    return await form_page(request, viewer, channel_for(admin.user, channel))


@router.post("/transfers/new/{channel}", response_class=HTMLResponse)
async def start_transfer(request: Request, viewer: SignedIn, admin: OrgAdminOnly, channel: str) -> Response:
    return await start_post(request, viewer, channel_for(admin.user, channel))
