"""One gate: the start rules give the same verdict and the same message on every entry point.

Each row of CASES goes through every entry point that applies to it:

- ``api``: POST /api/transfers;
- ``validate``: POST /api/transfers/validate (a dry run);
- ``bulk_dry`` and ``bulk``: POST /api/transfers/bulk with one row, with and without dry_run;
- ``ui_preview``: POST /ui/transfers/preview (the start form's 预览路由, JSON);
- ``ui``: the start form's post (/ui/transfers/new/out, /ui/transfers/new/in or /ui/me/transfer);
- ``resubmit``: POST /api/transfers/{id}/resubmit on a transfer started validly and returned, for
  the rules a resubmission can break (the target, the route, the partition answer, September).

The JSON entry points must answer with the status and exactly the errors (field and message) of
POST /api/transfers; the UI's must answer with its status and show the same messages. A refusal
writes nothing (transfers, approval steps, notifications, the audit log) and starts no workflow.
The calendar is pinned (a rehearsal calendar) so the rows hold in any year.

RETURN_GROUNDS does the same for a node's return: the API and the UI's return form refuse the
forbidden grounds of §III.4, however they are worded, with the same message.
"""

from __future__ import annotations

import asyncio
import html
import re
import time
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field, replace
from datetime import date
from typing import Any

import httpx
import pytest
from sqlalchemy import select
from temporalio.client import WorkflowExecutionStatus
from temporalio.service import RPCError, RPCStatusCode

from core.clock import calendar
from core.settings import reset_settings_cache
from domain.transfers import FORBIDDEN_GROUND_MESSAGE
from messages.transfers import workflow_id_for
from models import ApprovalStep, AuditLog, Member, Notification, Transfer, User
from models.db import session_factory
from seed.demo import DEMO_PASSWORD
from tests.factories import add_member, new_id_number, org_by_code

PROBLEM = "application/problem+json"
JULY = date(2026, 7, 10)  # before 09-01 of the 2026 graduation year
SEPTEMBER = date(2026, 9, 10)  # after it
OUTSIDE_AREA = "110101"  # no demo member has a 身份证号 of this area: made ones never collide

# --- forms ----------------------------------------------------------------------------------------

GUANSHAN = {
    "address": "湖北省武汉市洪山区关山街道光谷大道1号",
    "location": {"province": "湖北省", "city": "武汉市", "county": "洪山区", "township": "关山街道"},
}
FASI = {  # 法泗街道 cannot receive: from September the county's temp branch does (§I.1)
    "address": "湖北省武汉市江夏区法泗街道法泗大街16号",
    "location": {"province": "湖北省", "city": "武汉市", "county": "江夏区", "township": "法泗街道"},
}
DFM_JOB = {
    "employer_name": "东风汽车集团有限公司",
    "employer_address": "湖北省武汉市经济技术开发区东风大道特1号",
    "location": {"province": "湖北省", "city": "武汉市"},
}
GAC_JOB = {
    "employer_name": "广州汽车集团股份有限公司",
    "employer_address": "广东省广州市天河区珠江新城兴国路23号",
    "location": {"province": "广东省", "city": "广州市"},
}
ENLISTED = {"unit_kind": "military", "joined_unit_on": "2026-06-20"}


def unemployed(form: dict[str, Any] = GUANSHAN, **kw: Any) -> dict[str, Any]:
    return {"type": "unemployed", "channel": "out", "form": form, "partition": "national", **kw}


def employed(form: dict[str, Any] = DFM_JOB, **kw: Any) -> dict[str, Any]:
    return {"type": "employed_with_org", "channel": "out", "target_org_code": "DFM", "form": form, **kw}


# --- the table ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Demo:
    """The demo members of a branch (by code prefix): entry point i gets member `first + i`."""

    branch: str
    first: int = 0


@dataclass(frozen=True)
class Made:
    """A member made for the row in `branch` (one per entry point), with these fields."""

    branch: str
    fields: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class LoginMember:
    """The member behind a member login (the same one on every entry point)."""

    username: str


@dataclass(frozen=True)
class Nobody:
    """A valid 身份证号 no member has."""


@dataclass(frozen=True)
class Resubmit:
    start: dict[str, Any]  # a valid start (by the row's caller), returned by its pending node
    body: dict[str, Any]  # the resubmission, by the same caller


@dataclass(frozen=True)
class Case:
    name: str
    today: date
    caller: str
    member: Demo | Made | LoginMember | Nobody
    body: dict[str, Any]  # POST /api/transfers without id_number and name
    entries: tuple[str, ...]
    status: int  # the refusal's status; 0: the request is accepted everywhere
    field: str | None = None
    contains: tuple[str, ...] = ()
    resubmit: Resubmit | None = None
    ui_asks_partition: bool = False  # the UI form adds its own "answer the partition question"


STARTS = ("api", "validate", "bulk_dry", "bulk", "ui_preview", "ui")
WITH_RESUBMIT = (*STARTS, "resubmit")
ACCEPTED = {"api": 201, "validate": 200, "bulk_dry": 200, "bulk": 201, "ui_preview": 200, "ui": 303, "resubmit": 200}
JSON_ENTRIES = ("api", "validate", "bulk_dry", "bulk", "resubmit")

CASES = [
    Case(
        "unemployed to the provincial special-unit db",
        JULY,
        "whu",
        Demo("WHU-CS"),
        unemployed(target_org_code="HB-SU"),
        WITH_RESUBMIT,
        422,
        "target_org_code",
        ("学社衔接临时团支部或村/社区团组织", "特殊单位专属库"),
        Resubmit(start=unemployed(), body={"form": GUANSHAN, "target_org_code": "HB-SU"}),
    ),
    Case(
        "self: unemployed to the provincial special-unit db",
        JULY,
        "member1",
        LoginMember("member1"),
        unemployed(target_org_code="HB-SU", channel="self"),
        WITH_RESUBMIT,
        422,
        "target_org_code",
        ("特殊单位专属库",),
        Resubmit(start=unemployed(channel="self"), body={"form": GUANSHAN, "target_org_code": "HB-SU"}),
    ),
    Case(
        "county temp branch picked before 09-01",
        JULY,
        "whu",
        Demo("WHU-EIS"),
        unemployed(FASI, target_org_code="HB-WH-JX-TMP"),
        WITH_RESUBMIT,
        422,
        "target_org_code",
        ("从9月份起", "2026年9月1日前不能转入"),
        Resubmit(start=unemployed(), body={"form": FASI, "target_org_code": "HB-WH-JX-TMP"}),
    ),
    Case(
        "county temp branch picked after 09-01",
        SEPTEMBER,
        "whu",
        Demo("WHU-EIS"),
        unemployed(FASI, target_org_code="HB-WH-JX-TMP"),
        WITH_RESUBMIT,
        0,
        resubmit=Resubmit(start=unemployed(), body={"form": FASI, "target_org_code": "HB-WH-JX-TMP"}),
    ),
    Case(
        "Guangdong target on out without a partition answer",
        JULY,
        "whu",
        Demo("WHU-EM"),
        employed(GAC_JOB, target_org_code="GAC"),
        WITH_RESUBMIT,
        422,
        "partition",
        ("广州汽车集团股份有限公司团委", "广东"),
        Resubmit(start=employed(), body={"form": GAC_JOB, "target_org_code": "GAC"}),
        ui_asks_partition=True,
    ),
    Case(
        "partition answer beijing for a Hubei target",
        JULY,
        "whu",
        Demo("WHU-LIT"),
        employed(partition="beijing"),
        WITH_RESUBMIT,
        422,
        "target_org_code",
        ("北京", "东风汽车集团有限公司团委"),
        Resubmit(start=employed(partition="national"), body={"form": DFM_JOB, "partition": "beijing"}),
    ),
    Case(
        "partition answer national for a Guangdong target",
        JULY,
        "whu",
        Demo("WHU-LAW"),
        employed(GAC_JOB, target_org_code="GAC", partition="national"),
        WITH_RESUBMIT,
        422,
        "target_org_code",
        ("广州汽车集团股份有限公司团委", "广东"),
        Resubmit(start=employed(partition="national"), body={"form": GAC_JOB, "target_org_code": "GAC"}),
    ),
    Case(
        "enterprise employee",
        JULY,
        "dfm",
        Made("DFM-HQ", {"graduation_year": 2025, "graduating": False}),
        unemployed(),
        STARTS,
        422,
        "id_number",
        ("东风汽车集团有限公司总部机关团支部", "不是学校团组织下的团支部"),
    ),
    Case(
        "village member",
        JULY,
        "hb-wh-hs-gs",
        Made("HB-WH-HS-GS-GSSQ", {"graduation_year": 2025, "graduating": False}),
        unemployed(),
        STARTS,
        422,
        "id_number",
        ("关山街道关山社区团支部", "不是学校团组织下的团支部"),
    ),
    Case(
        "member in the special-unit db",
        JULY,
        "hb",
        Made("HB-SU", {"in_special_unit_db": True}),
        unemployed(),
        STARTS,
        422,
        "id_number",
        ("特殊单位专属库集中管理",),
    ),
    Case(
        "later graduation year",
        JULY,
        "whu",
        Made("WHU-CS-2022-3", {"graduation_year": 2027}),
        unemployed(),
        STARTS,
        422,
        "id_number",
        ("2027年毕业", "不是2026年（含往届）毕业学生团员"),
    ),
    Case(
        "delayed graduate",
        JULY,
        "whu",
        Made("WHU-DLY", {"graduation_year": 2027, "graduating": False, "delayed_graduation": True}),
        unemployed(),
        STARTS,
        422,
        "id_number",
        ("2027年毕业（已标记延迟毕业）",),
    ),
    Case(
        "no graduation year",
        JULY,
        "whu",
        Made("WHU-CS-2022-4", {"graduation_year": None, "graduating": False}),
        unemployed(),
        STARTS,
        422,
        "id_number",
        ("graduation_year", "毕业年份"),
    ),
    Case(
        "special_unit on channel in by the province",
        JULY,
        "hb",
        Demo("HUST-CS"),
        {"type": "special_unit", "channel": "in", "target_org_code": "HB-SU", "form": ENLISTED},
        STARTS,
        403,
        "channel",
        ("不能办理转入", "《通知》一、3"),
    ),
    Case(
        "out for another org's member",
        JULY,
        "hust",
        Demo("WHU-LAW"),
        employed(partition="national"),
        STARTS,
        403,
        "channel",
        ("华中科技大学团委及其下级组织中没有该身份证号的团员",),
    ),
    Case(
        "out for an unknown id_number",
        JULY,
        "hust",
        Nobody(),
        employed(partition="national"),
        STARTS,
        403,
        "channel",
        ("华中科技大学团委及其下级组织中没有该身份证号的团员",),
    ),
]

# --- the calendar ---------------------------------------------------------------------------------


@pytest.fixture
def pin_calendar() -> Iterator[Callable[[date], None]]:
    """pin(day): a rehearsal calendar whose today is `day` (real speed) for this test."""
    mp = pytest.MonkeyPatch()

    def pin(day: date) -> None:
        mp.delenv("ZHTJ_TIME_SCALE", raising=False)
        mp.setenv("ZHTJ_REHEARSAL_START", day.isoformat())
        mp.setenv("ZHTJ_REHEARSAL_EPOCH", str(time.time()))
        reset_settings_cache()
        assert calendar().today() == day

    yield pin
    mp.undo()
    reset_settings_cache()


# --- people ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Person:
    id_number: str
    name: str
    member_id: int | None  # None: no member has this 身份证号


async def person(api, spec: Demo | Made | LoginMember | Nobody, i: int) -> Person:
    if isinstance(spec, Demo):
        m = await api.member_in(spec.branch, spec.first + i)
        return Person(m.id_number, m.name, m.id)
    if isinstance(spec, Nobody):
        return Person(new_id_number(area=OUTSIDE_AREA), "查无此人", None)
    async with session_factory(api.engine)() as s:
        if isinstance(spec, LoginMember):
            user = (await s.execute(select(User).where(User.username == spec.username))).scalar_one()
            m = await s.get(Member, user.member_id)
            return Person(m.id_number, m.name, m.id)
        branch = await org_by_code(s, spec.branch)
        m = await add_member(s, branch, id_number=new_id_number(area=OUTSIDE_AREA), name="李四", **spec.fields)
        await s.commit()
        return Person(m.id_number, m.name, m.id)


# --- the UI, as the browser posts its forms -------------------------------------------------------

_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_FLASH = re.compile(r'<div class="flash err" role="alert" id="problems">(.*?)</div>', re.S)
_ITEM = re.compile(r"<li>(.*?)</li>", re.S)
_FIELD_ERROR = re.compile(r'<p class="field-error"[^>]*>(.*?)</p>', re.S)
UI_START_PATHS = {"out": "/ui/transfers/new/out", "in": "/ui/transfers/new/in", "self": "/ui/me/transfer"}


class Browser:
    """One login's cookies on the app (in process), posting forms with the session's CSRF token."""

    def __init__(self, app) -> None:
        self.http = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")
        self.csrf = ""

    async def login(self, username: str) -> None:
        page = await self.http.get("/ui/login")
        r = await self.http.post(
            "/ui/login",
            data={"username": username, "password": DEMO_PASSWORD, "csrf_token": _csrf(page.text)},
        )
        assert r.status_code == 303, r.text
        landing = await self.http.get(r.headers["location"])
        assert landing.status_code == 200, landing.text
        self.csrf = _csrf(landing.text)  # a login issues a new session with a new token

    async def post(self, path: str, data: dict[str, str]) -> httpx.Response:
        return await self.http.post(path, data={**data, "csrf_token": self.csrf})


def _csrf(page: str) -> str:
    found = _CSRF.search(page)
    assert found, "no csrf_token in the page"
    return found.group(1)


def flash_messages(page: str) -> list[str]:
    """The messages of the start form's 未能提交 box."""
    box = _FLASH.search(page)
    return [html.unescape(m).strip() for m in _ITEM.findall(box.group(1))] if box else []


def field_error_messages(page: str) -> list[str]:
    return [html.unescape(m).strip() for m in _FIELD_ERROR.findall(page)]


def form_fields(body: dict[str, Any]) -> dict[str, str]:
    """The start form's inputs for an API body (the partition question answered as the body does)."""
    data = {"id_number": body["id_number"], "name": body["name"], "type": body["type"]}
    if body.get("target_org_code"):
        data["target_org_code"] = body["target_org_code"]
    if body.get("partition") == "national":
        data["partition_special"] = "no"
    elif body.get("partition"):
        data.update(partition_special="yes", partition_which=body["partition"])
    for key, value in body["form"].items():
        if key == "location":
            data.update({f"loc_{k}": v for k, v in value.items()})
        else:
            data[key] = value
    return data


@pytest.fixture
async def browsers(api) -> AsyncIterator[Callable]:
    """browser(username): a logged-in Browser per username (made once per test)."""
    made: dict[str, Browser] = {}

    async def browser(username: str) -> Browser:
        if username not in made:
            made[username] = Browser(api.app)
            await made[username].login(username)
        return made[username]

    yield browser
    for b in made.values():
        await b.http.aclose()


# --- what was written, and what was started ---------------------------------------------------------


async def written(api) -> tuple[int, int, int, int]:
    return (
        await api.count(Transfer),
        await api.count(ApprovalStep),
        await api.count(Notification),
        await api.count(AuditLog),
    )


async def quiet(api) -> tuple[int, int, int, int]:
    """What is written once the workflows have stopped writing (two reads 0.2 s apart agree)."""
    last = await written(api)
    for _ in range(100):
        await asyncio.sleep(0.2)
        now = await written(api)
        if now == last:
            return now
        last = now
    raise AssertionError(f"the workflows kept writing: {last}")


async def temporal(api):
    return await api.app.state.temporal_client()


async def no_workflow(api, member_id: int | None) -> None:
    """No transfer workflow was started for this member."""
    if member_id is None:
        return
    wid = workflow_id_for(member_id, api.app.state.settings.workflow_id_prefix)
    with pytest.raises(RPCError) as e:
        await (await temporal(api)).get_workflow_handle(wid).describe()
    assert e.value.status == RPCStatusCode.NOT_FOUND, wid


async def transfer_state(api, transfer_id: int) -> tuple[Any, ...]:
    """The transfer's row and its workflow's run, as a resubmission or a return would change them."""
    async with session_factory(api.engine)() as s:
        t = await s.get(Transfer, transfer_id)
        steps = (
            await s.execute(
                select(ApprovalStep.round, ApprovalStep.seq, ApprovalStep.status)
                .where(ApprovalStep.transfer_id == transfer_id)
                .order_by(ApprovalStep.round, ApprovalStep.seq)
            )
        ).all()
    d = await (await temporal(api)).get_workflow_handle(t.workflow_id).describe()
    assert d.status == WorkflowExecutionStatus.RUNNING
    return (t.status, t.target_org_id, t.form, t.updated_at, tuple(steps), d.run_id, d.history_length)


# --- the entry points --------------------------------------------------------------------------------


@dataclass
class Answer:
    entry: str
    status: int
    errors: list[tuple[str, str]]  # (field, message); the field is "" where the page shows none
    route_org: str | None = None  # where an accepted request goes (when the answer says)


def problem_errors(r: httpx.Response) -> list[tuple[str, str]]:
    assert r.headers["content-type"].startswith(PROBLEM), r.text
    body = r.json()
    assert body["status"] == r.status_code and body["errors"], body
    return [(e["field"], e["message"]) for e in body["errors"]]


async def via_api(api, caller: str, body: dict[str, Any]) -> Answer:
    r = await api.as_(caller, "POST", "/api/transfers", json=body)
    if r.status_code >= 400:
        return Answer("api", r.status_code, problem_errors(r))
    return Answer("api", r.status_code, [], r.json()["target_org_code"])


async def via_validate(api, caller: str, body: dict[str, Any]) -> Answer:
    r = await api.as_(caller, "POST", "/api/transfers/validate", json=body)
    if r.status_code >= 400:
        return Answer("validate", r.status_code, problem_errors(r))
    return Answer("validate", r.status_code, [], r.json()["route"]["org_code"])


async def via_bulk(api, caller: str, body: dict[str, Any], *, dry_run: bool) -> Answer:
    entry = "bulk_dry" if dry_run else "bulk"
    r = await api.as_(
        caller, "POST", "/api/transfers/bulk", json={"rows": [{**body, "idempotency_key": None}], "dry_run": dry_run}
    )
    assert r.status_code == 200, r.text
    (row,) = r.json()["results"]
    assert row["ok"] == (row["status_code"] < 400), row
    route = row["route"]["org_code"] if row["route"] else None
    return Answer(entry, row["status_code"], [(e["field"], e["message"]) for e in row["errors"]], route)


async def via_ui_preview(browsers, caller: str, body: dict[str, Any]) -> Answer:
    b = await browsers(caller)
    r = await b.post("/ui/transfers/preview", {**form_fields(body), "channel": body["channel"]})
    out = r.json()
    if r.status_code >= 400:
        assert out["ok"] is False, out
        return Answer("ui_preview", r.status_code, [(e["field"], e["message"]) for e in out["errors"]])
    assert out["ok"] is True, out
    return Answer("ui_preview", r.status_code, [], out["route"]["org_code"])


async def via_ui(browsers, caller: str, body: dict[str, Any]) -> Answer:
    b = await browsers(caller)
    r = await b.post(UI_START_PATHS[body["channel"]], form_fields(body))
    if r.status_code == 303:
        assert re.fullmatch(r"/ui/transfers/\d+\?done=started", r.headers["location"]), r.headers["location"]
        return Answer("ui", 303, [])
    assert "text/html" in r.headers["content-type"], r.headers
    return Answer("ui", r.status_code, [("", m) for m in flash_messages(r.text)])


async def start_and_return(api, caller: str, body: dict[str, Any]) -> dict[str, Any]:
    """A transfer started validly by `caller`, then returned by its pending node's admin."""
    r = await api.as_(caller, "POST", "/api/transfers", json=body)
    assert r.status_code == 201, r.text
    t = r.json()
    node = next(n for n in t["nodes"] if n["status"] == "pending")
    back = await api.as_(
        node["org_code"].lower(),
        "POST",
        f"/api/transfers/{t['id']}/return",
        json={"reason_code": "form_incomplete", "reason_text": "地址不详，请补充"},
    )
    assert back.status_code == 200 and back.json()["status"] == "returned", back.text
    return back.json()


async def via_resubmit(api, case: Case, who: Person) -> Answer:
    assert case.resubmit is not None
    t = await start_and_return(api, case.caller, {**case.resubmit.start, "id_number": who.id_number, "name": who.name})
    before = (await quiet(api), await transfer_state(api, t["id"]))
    r = await api.as_(case.caller, "POST", f"/api/transfers/{t['id']}/resubmit", json=case.resubmit.body)
    if r.status_code >= 400:
        answer = Answer("resubmit", r.status_code, problem_errors(r))
        assert (await written(api), await transfer_state(api, t["id"])) == before, "a refused resubmission wrote"
        return answer
    assert r.json()["status"] == "pending", r.text
    return Answer("resubmit", r.status_code, [], r.json()["target_org_code"])


async def through(api, browsers, case: Case, entry: str, i: int) -> Answer:
    """The case through one entry point (its own member: entry point i), checking that a refusal
    wrote nothing and started nothing."""
    who = await person(api, case.member, i)
    if entry == "resubmit":
        return await via_resubmit(api, case, who)
    body = {**case.body, "id_number": who.id_number, "name": who.name}
    before = await written(api)
    if entry == "api":
        answer = await via_api(api, case.caller, body)
    elif entry == "validate":
        answer = await via_validate(api, case.caller, body)
    elif entry in ("bulk", "bulk_dry"):
        answer = await via_bulk(api, case.caller, body, dry_run=entry == "bulk_dry")
    elif entry == "ui_preview":
        answer = await via_ui_preview(browsers, case.caller, body)
    else:
        answer = await via_ui(browsers, case.caller, body)
    if answer.status >= 400:
        assert await written(api) == before, f"{entry}: a refused start wrote"
        await no_workflow(api, who.member_id)
    return answer


async def answers_of(api, browsers, case: Case) -> dict[str, Answer]:
    return {entry: await through(api, browsers, case, entry, i) for i, entry in enumerate(case.entries)}


def by_name(name: str) -> Case:
    return next(c for c in CASES if c.name == name)


# --- the tests ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
async def test_one_gate_on_every_entry_point(api, browsers, pin_calendar, case: Case):
    pin_calendar(case.today)
    answers = await answers_of(api, browsers, case)
    got = {e: a.status for e, a in answers.items()}

    if case.status == 0:  # accepted everywhere, to the same target
        assert got == {e: ACCEPTED[e] for e in case.entries}, {e: a.errors for e, a in answers.items()}
        target = case.body.get("target_org_code")
        assert {e: a.route_org for e, a in answers.items() if a.route_org} == {
            e: target for e in case.entries if e != "ui"
        }
        await quiet(api)  # one transfer per start that starts (and the resubmitted one's)
        assert await api.count(Transfer) == sum(e in ("api", "bulk", "ui", "resubmit") for e in case.entries)
        return

    assert got == dict.fromkeys(case.entries, case.status), {e: a.errors for e, a in answers.items()}
    reference = answers["api"].errors
    assert any(f == case.field and all(c in m for c in case.contains) for f, m in reference), reference
    for entry, a in answers.items():
        if entry in JSON_ENTRIES:
            assert a.errors == reference, (entry, a.errors, reference)
        elif entry == "ui_preview":  # the same fields and messages, and the form's own problems
            assert set(reference) <= set(a.errors), (entry, a.errors, reference)
            if not case.ui_asks_partition:
                assert a.errors == reference, (entry, a.errors, reference)
        else:  # the page shows the same messages
            shown = [m for _, m in a.errors]
            assert {m for _, m in reference} <= set(shown), (entry, shown, reference)
            if not case.ui_asks_partition:
                assert shown == [m for _, m in reference], (entry, shown, reference)
    if case.ui_asks_partition:
        extra = {m for _, m in answers["ui"].errors} - {m for _, m in reference}
        assert extra and all("是否属于北京" in m for m in extra), extra
    # nothing was started but the resubmission's own (valid) transfer
    await quiet(api)
    assert await api.count(Transfer) == (1 if "resubmit" in case.entries else 0)


async def test_an_unknown_member_and_another_orgs_member_get_the_same_403(api, browsers, pin_calendar):
    """办理转出 for someone who is no member and for another org's member: one answer, so the
    answer tells the caller nothing about who is a league member."""
    pin_calendar(JULY)
    foreign, unknown = by_name("out for another org's member"), by_name("out for an unknown id_number")
    a, b = await answers_of(api, browsers, foreign), await answers_of(api, browsers, unknown)
    assert {e: (x.status, x.errors) for e, x in a.items()} == {e: (x.status, x.errors) for e, x in b.items()}
    assert {x.status for x in a.values()} == {403}


async def test_who_may_start_decides_the_status_on_the_ui_too(api, browsers, pin_calendar):
    """The start form left without the partition answer, by an admin who may not act for the
    member: the gate says 403 first (who may start), on the UI as on the API."""
    pin_calendar(JULY)
    case = replace(by_name("out for another org's member"), body=employed(), ui_asks_partition=True)
    answers = await answers_of(api, browsers, case)
    message = answers["api"].errors[0][1]
    assert all(message in [m for _, m in a.errors] for a in answers.values())
    assert {e: a.status for e, a in answers.items()} == dict.fromkeys(case.entries, 403)


# --- return grounds (§III.4) ---------------------------------------------------------------------------

FORBIDDEN_PARAPHRASES = ["外省户籍，不予接收", "户口不在我街道", "不是本单位在编人员", "非我单位员工"]
ALLOWED = ("wrong_target", "户籍地在洪山区，应转至洪山区对应街道")


async def test_return_grounds_on_the_api_and_the_ui(api, browsers, pin_calendar):
    pin_calendar(JULY)
    ids = []
    for i in range(2):
        m = await api.member_in("WHU-CS", i)
        r = await api.as_("whu", "POST", "/api/transfers", json=employed(id_number=m.id_number, name=m.name))
        assert r.status_code == 201, r.text
        assert [n["org_code"] for n in r.json()["nodes"] if n["status"] == "pending"] == ["DFM"]
        ids.append(r.json()["id"])
    ui = await browsers("dfm")
    for code in ("other", "form_incomplete", "not_this_member"):
        for text in FORBIDDEN_PARAPHRASES:
            before = (await quiet(api), await transfer_state(api, ids[0]))
            r = await api.as_(
                "dfm", "POST", f"/api/transfers/{ids[0]}/return", json={"reason_code": code, "reason_text": text}
            )
            assert r.status_code == 422 and problem_errors(r) == [("decision", FORBIDDEN_GROUND_MESSAGE)], (
                text,
                r.text,
            )
            page = await ui.post(f"/ui/transfers/{ids[0]}/return", {"reason_code": code, "reason_text": text})
            assert page.status_code == 422, (text, page.status_code)
            assert field_error_messages(page.text) == [FORBIDDEN_GROUND_MESSAGE], (text, page.text)
            assert (await written(api), await transfer_state(api, ids[0])) == before, text

    code, text = ALLOWED
    r = await api.as_("dfm", "POST", f"/api/transfers/{ids[0]}/return", json={"reason_code": code, "reason_text": text})
    assert r.status_code == 200 and r.json()["status"] == "returned", r.text
    page = await ui.post(f"/ui/transfers/{ids[1]}/return", {"reason_code": code, "reason_text": text})
    assert page.status_code == 303 and page.headers["location"] == f"/ui/transfers/{ids[1]}?done=returned"
    shown = await api.as_("whu", "GET", f"/api/transfers/{ids[1]}")
    assert shown.json()["status"] == "returned"
