"""starter.client against the real API (in-process app, real worker on the dev server)."""

from __future__ import annotations

import asyncio
import typing

import httpx
import pytest
from pydantic import BaseModel

from domain import transfers as domain_transfers
from models import Transfer
from seed.demo import DEMO_PASSWORD, EMPLOYER_WITHOUT_ORG
from starter import models as m
from starter.client import ApiConnectionError, ApiError, ZhtjClient
from tests.web import conftest as web_conftest
from web.api import schemas as s

api = web_conftest.api  # the API fixture of tests/web (app, real worker, dev server)


def transport_of(api) -> httpx.AsyncBaseTransport:
    """An ASGI transport on the fixture's app (its own, so closing our client closes nothing of theirs)."""
    app = getattr(api, "app", None) or api.http._transport.app
    return httpx.ASGITransport(app=app)


async def client_as(api, username: str | None) -> ZhtjClient:
    c = ZhtjClient("http://testserver", transport=transport_of(api), retries=0)
    if username:
        await c.login(username, DEMO_PASSWORD)
    return c


def employed_with_org(member) -> m.StartTransferRequest:
    return m.StartTransferRequest(
        id_number=member.id_number,
        name=member.name,
        type=m.TransferType.EMPLOYED_WITH_ORG,
        channel=m.Channel.OUT,
        target_org_code="DFM",
        form={
            "employer_name": "东风汽车集团有限公司",
            "employer_address": "武汉市经开区",
            "location": {"province": "湖北省", "city": "武汉市"},
        },
    )


# ---- the models mirror the server's schemas ----------------------------------------------------
PAIRS = [
    (m.TokenRequest, s.TokenRequest),
    (m.TokenResponse, s.TokenResponse),
    (m.MeOut, s.MeOut),
    (m.OrgOut, s.OrgOut),
    (m.StartTransferRequest, s.StartTransferRequest),
    (m.ValidateResponse, s.ValidateResponse),
    (m.MemberOut, s.MemberOut),
    (m.RouteOut, s.RouteOut),
    (m.NodeOut, s.NodeOut),
    (m.HistoryOut, s.HistoryOut),
    (m.TransferOut, s.TransferOut),
    (m.CurrentNodeOut, s.CurrentNodeOut),
    (m.TransferSummary, s.TransferSummary),
    (m.TransferPage, s.TransferPage),
    (m.ApproveRequest, s.ApproveRequest),
    (m.ReturnRequest, s.ReturnRequest),
    (m.WithdrawRequest, s.WithdrawRequest),
    (m.ResubmitRequest, s.ResubmitRequest),
    (m.AssignBranchRequest, s.AssignBranchRequest),
    (m.BatchApproveRequest, s.BatchApproveRequest),
    (m.BatchReturnRequest, s.BatchReturnRequest),
    (m.FieldErrorOut, s.FieldErrorOut),
    (m.BatchResult, s.BatchResult),
    (m.BatchResponse, s.BatchResponse),
    (m.BulkStartRow, s.BulkStartRow),
    (m.BulkStartRequest, s.BulkStartRequest),
    (m.BulkStartResult, s.BulkStartResult),
    (m.BulkStartResponse, s.BulkStartResponse),
    (m.UploadErrorOut, s.UploadErrorOut),
    (m.UploadCheckOut, s.UploadCheckOut),
    (m.UploadRowOut, s.UploadRowOut),
    (m.UploadRowPage, s.UploadRowPage),
    (m.UploadOut, s.UploadOut),
    (m.UploadDetailOut, s.UploadDetailOut),
    (m.RetentionFormIn, s.RetentionFormIn),
    (m.RetentionApplyRequest, s.RetentionApplyRequest),
    (m.RetentionFormOut, s.RetentionFormOut),
    (m.RetentionSummary, s.RetentionSummary),
    (m.RetentionOut, s.RetentionOut),
    (m.RetentionPage, s.RetentionPage),
    (m.MembersRequest, s.MembersRequest),
    (m.MarkDelayedRequest, s.MarkDelayedRequest),
    (m.ReleaseRequest, s.ReleaseRequest),
    (m.MemberOutcomeOut, s.MemberOutcomeOut),
    (m.MemberOutcomes, s.MemberOutcomes),
    (m.RegisterRowOut, s.RegisterRowOut),
    (m.RegisterOut, s.RegisterOut),
    (m.NotificationOut, s.NotificationOut),
    (m.NotificationPage, s.NotificationPage),
    (m.NotificationsMarked, s.NotificationsMarked),
]


@pytest.mark.parametrize("ours,theirs", PAIRS, ids=[p[0].__name__ for p in PAIRS])
def test_models_mirror_server_schemas(ours: type[BaseModel], theirs: type[BaseModel]):
    assert list(ours.model_fields) == list(theirs.model_fields)
    for name, f in theirs.model_fields.items():
        assert ours.model_fields[name].is_required() == f.is_required(), name


def test_bulk_limit_matches():
    assert m.BULK_MAX_ROWS == s.BULK_MAX_ROWS


def test_enums_and_literals_match():
    assert [t.value for t in m.TransferType] == [t.value for t in domain_transfers.TransferType]
    assert [c.value for c in m.Channel] == [c.value for c in domain_transfers.Channel]
    assert typing.get_args(m.StatusCode) == typing.get_args(s.StatusCode)
    assert typing.get_args(m.PartitionCode) == typing.get_args(s.PartitionCode)


# ---- every method against the real API ---------------------------------------------------------
async def test_start_validate_list_get_approve_assign_completed(api):
    member = await api.member_in("WHU-CS-2022-1")
    req = employed_with_org(member)
    async with await client_as(api, "whu") as whu, await client_as(api, "dfm") as dfm:
        assert whu.claims["usr"] == "whu" and whu.claims["role"] == "admin"
        me = await whu.me()
        assert (me.username, me.role, me.org_code, me.member_id, me.may_act_for) == ("whu", "admin", "WHU", None, None)
        assert (await whu.me(org="WHU-CS")).may_act_for is True  # an org below its own
        assert (await whu.me(org="DFM")).may_act_for is False and (await dfm.me(org="WHU")).may_act_for is False
        with pytest.raises(ApiError) as info:
            await whu.me(org="NOPE")
        assert info.value.status == 404 and info.value.errors[0].field == "org"
        orgs = await whu.orgs(q="DFM")
        assert "DFM" in [o.code for o in orgs] and all(isinstance(o, m.OrgOut) for o in orgs)
        assert [o.code for o in await whu.orgs(partition="beijing", kind="temp_branch")] == ["BJ-HD-ZGC-TMP"]

        route = await whu.validate_transfer(req)
        assert route.org_code == "DFM" and route.clause
        assert await api.count(Transfer) == 0  # validate starts nothing

        t, created = await whu.start_transfer(req, idempotency_key="client-test-1")
        assert created and t.status == "pending" and t.target_org_code == "DFM"
        assert isinstance(t, m.TransferOut) and t.type is m.TransferType.EMPLOYED_WITH_ORG
        again, created_again = await whu.start_transfer(req, idempotency_key="client-test-1")
        assert not created_again and again.id == t.id
        assert await api.count(Transfer) == 1

        page = await dfm.list_transfers(node_org="DFM", status="pending", type="employed_with_org", overdue=False)
        assert isinstance(page, m.TransferPage) and [i.id for i in page.items] == [t.id] and page.total == 1
        assert page.items[0].current_node and page.items[0].current_node.org_code == "DFM"
        assert [i.id async for i in dfm.iter_transfers(node_org="DFM", page_size=1)] == [t.id]

        got = await dfm.get_transfer(t.id)
        assert got.id == t.id and got.member.id_number.count("*") == 8  # masked for the receiving side

        approved = await dfm.approve(t.id, "同意")
        assert approved.status == "awaiting_assignment"
        done = await dfm.assign_branch(t.id, "DFM-RD")
        assert done.status == "completed" and done.branch_code == "DFM-RD" and done.completed_at is not None
        assert done.history[-1].action == "transfer.completed"


async def test_me_for_a_member_and_without_a_token(api):
    async with await client_as(api, "member1") as member, await client_as(api, None) as anon:
        me = await member.me(org="WHU")
        assert me.role == "member" and me.member_id is not None and me.org_code is None and me.may_act_for is False
        with pytest.raises(ApiError) as info:
            await anon.me()
        assert info.value.status == 401


async def test_return_resubmit_withdraw(api):
    member = await api.member_in("WHU-CS-2022", 1)
    req = employed_with_org(member)
    async with await client_as(api, "whu") as whu, await client_as(api, "dfm") as dfm:
        t, _ = await whu.start_transfer(req)
        returned = await dfm.return_request(t.id, "form_incomplete", "工作单位地址请写到门牌号")
        assert returned.status == "returned"
        assert [n.status for n in returned.nodes][-1] == "returned"

        new_form = {**req.form, "employer_address": "湖北省武汉市经济技术开发区东风大道特1号"}
        again = await whu.resubmit(t.id, new_form)
        assert again.status == "pending" and again.round == 2
        assert again.form["employer_address"] == new_form["employer_address"]

        gone = await whu.withdraw(t.id, "学生改为升学")
        assert gone.status == "withdrawn"


async def test_batch_approve(api):
    ids = []
    async with await client_as(api, "whu") as whu, await client_as(api, "dfm") as dfm:
        for i in range(2, 5):
            t, created = await whu.start_transfer(employed_with_org(await api.member_in("WHU-CS-2022", i)))
            assert created
            ids.append(t.id)
        results = await dfm.batch_approve([*ids, 999999])
        assert [r.id for r in results] == [*ids, 999999]
        assert [r.ok for r in results] == [True, True, True, False]
        assert all(r.status == "awaiting_assignment" for r in results[:3])
        assert results[3].status_code == 404 and results[3].errors[0].field == "id"


async def test_bulk_start(api):
    """POST /api/transfers/bulk: a refused row is a result, not an exception; a new transfer is
    named by its workflow, a key seen before by its transfer."""
    a, b = await api.member_in("WHU-CS-2022", 7), await api.member_in("WHU-CS-2022", 8)
    rows = [
        m.BulkStartRow(**employed_with_org(a).model_dump(), idempotency_key="bulk-client-a"),
        {**employed_with_org(b).model_dump(mode="json"), "name": "不是本人", "idempotency_key": "bulk-client-b"},
    ]
    async with await client_as(api, "whu") as whu:
        dry = await whu.bulk_start(rows, dry_run=True)
        assert all(isinstance(r, m.BulkStartResult) for r in dry)
        assert [(r.index, r.ok, r.status_code) for r in dry] == [(0, True, 200), (1, False, 422)]
        assert dry[0].route.org_code == "DFM" and dry[1].errors[0].field == "id_number"
        assert await api.count(Transfer) == 0

        started = await whu.bulk_start(rows)
        assert [(r.ok, r.status_code, r.created) for r in started] == [(True, 201, True), (False, 422, False)]
        assert started[0].workflow_id and started[0].transfer_id is None
        t = None
        for _ in range(200):  # the workflow records the transfer a moment after the answer
            page = await whu.list_transfers()
            if page.items:
                t = page.items[0]
                break
            await asyncio.sleep(0.05)
        assert t is not None and (await whu.get_transfer(t.id)).workflow_id == started[0].workflow_id
        again = await whu.bulk_start(rows[:1])
        assert [(r.status_code, r.created, r.transfer_id) for r in again] == [(200, False, t.id)]

        with pytest.raises(ApiError) as e:  # the request as a whole: more rows than one call takes
            await whu.bulk_start([rows[0]] * (m.BULK_MAX_ROWS + 1), dry_run=True)
        assert e.value.status == 422 and e.value.fields == ["rows"]


async def test_unemployed_to_township_temp_branch(api):
    """Type 3 (employer without org): the township's 学社衔接临时团支部 is proposed."""
    member = await api.member_in("WHU-LAW-2022-2")
    req = {
        "id_number": member.id_number,
        "name": member.name,
        "type": "employed_without_org",
        "channel": "out",
        "form": {
            "employer_name": EMPLOYER_WITHOUT_ORG["name"],
            "employer_address": EMPLOYER_WITHOUT_ORG["address"],
            "location": EMPLOYER_WITHOUT_ORG["location"],
        },
    }
    async with await client_as(api, "whu") as whu:
        route = await whu.validate_transfer(req)
        assert route.org_code == "HB-WH-HS-GS-TMP"


# ---- errors ------------------------------------------------------------------------------------
async def test_api_errors_are_parsed_from_problem_json(api):
    member = await api.member_in("WHU-CS-2022", 5)
    async with await client_as(api, None) as anon:
        with pytest.raises(ApiError) as e:
            await anon.list_transfers()
        assert e.value.status == 401 and e.value.fields == ["authorization"] and e.value.detail
        with pytest.raises(ApiError) as e:
            await anon.login("whu", "wrong-password")
        assert e.value.status == 401 and e.value.fields == ["password"]
        assert "用户名或密码错误" in e.value.errors[0].message

    async with (
        await client_as(api, "whu") as whu,
        await client_as(api, "dfm") as dfm,
        await client_as(api, "sis-whu") as sis,
    ):
        # The school's service account (bound to WHU) may start 转出 for WHU's graduates, only 转出.
        assert (await sis.validate_transfer(employed_with_org(member))).org_code == "DFM"
        with pytest.raises(ApiError) as e:
            await sis.validate_transfer(employed_with_org(member).model_copy(update={"channel": m.Channel.IN}))
        assert e.value.status == 403 and e.value.fields == ["channel"]
        # 403: an org that is not the member's (or above it) cannot start their 转出.
        with pytest.raises(ApiError) as e:
            await dfm.start_transfer(employed_with_org(member))
        assert e.value.status == 403 and e.value.fields == ["channel"]

        # 404
        with pytest.raises(ApiError) as e:
            await whu.get_transfer(987654)
        assert e.value.status == 404 and e.value.fields == ["id"] and "987654" in e.value.errors[0].message

        # 422: field errors, one per problem, with their dotted paths
        bad = employed_with_org(member).model_dump(mode="json")
        bad["id_number"] = bad["id_number"][:-1] + ("0" if bad["id_number"][-1] != "0" else "1")
        bad["form"] = {"employer_name": "", "location": {"province": "湖北省"}}
        with pytest.raises(ApiError) as e:
            await whu.start_transfer(bad)
        assert e.value.status == 422
        assert set(e.value.fields) >= {"id_number", "form.employer_name", "form.employer_address", "form.location.city"}
        assert e.value.title == "输入不符合要求"
        with pytest.raises(ApiError) as e:  # a request-shape error (FastAPI validation)
            await whu.start_transfer({**bad, "channel": "sideways"})
        assert e.value.status == 422 and "channel" in e.value.fields

        # 409: approve a transfer that has no pending node any more
        t, _ = await whu.start_transfer(employed_with_org(member))
        with pytest.raises(ApiError) as e:  # 403: a service account may not decide
            await sis.approve(t.id)
        assert e.value.status == 403 and e.value.fields == ["user"]
        await dfm.approve(t.id)
        with pytest.raises(ApiError) as e:
            await dfm.approve(t.id)
        assert e.value.status == 409 and e.value.fields == ["status"]
        assert str(e.value).startswith("HTTP 409 (POST /api/transfers/")


class _Flaky(httpx.AsyncBaseTransport):
    """Fails the first `n` requests (connect error or 503), then passes to `inner`."""

    def __init__(self, inner: httpx.AsyncBaseTransport, fail: list[str]) -> None:
        self.inner, self.fail, self.seen = inner, list(fail), []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.seen.append((request.method, request.url.path))
        if self.fail:
            kind = self.fail.pop(0)
            if kind == "connect":
                raise httpx.ConnectError("refused", request=request)
            if kind == "read":
                raise httpx.ReadTimeout("slow", request=request)
            return httpx.Response(503, headers={"Retry-After": "0"}, json={"status": 503, "errors": []})
        return await self.inner.handle_async_request(request)


async def test_retries_idempotent_calls_only(api):
    member = await api.member_in("WHU-CS-2022", 6)
    flaky = _Flaky(transport_of(api), ["connect"])
    async with ZhtjClient("http://testserver", transport=flaky, retries=3, backoff=0.001) as c:
        await c.login("whu", DEMO_PASSWORD)  # a connect error is retried even here: nothing was sent
        flaky.fail = ["503", "read", "connect"]
        assert (await c.orgs(q="WHU"))[0].code == "WHU"  # GET: retried through all three
        flaky.fail = ["read", "503"]
        t, created = await c.start_transfer(employed_with_org(member), idempotency_key="retry-1")
        assert created
        flaky.fail = ["read"]
        with pytest.raises(ApiConnectionError) as e:  # no key: a timed-out start is not repeated
            await c.start_transfer(employed_with_org(member))
        assert e.value.status == 0
        flaky.fail = ["503"]
        with pytest.raises(ApiError) as e:
            await c.approve(t.id)
        assert e.value.status == 503
    assert await api.count(Transfer) == 1


async def test_login_503_is_not_retried(api):
    flaky = _Flaky(transport_of(api), ["connect", "503"])
    async with ZhtjClient("http://testserver", transport=flaky, retries=3, backoff=0.001) as c:
        with pytest.raises(ApiError) as e:
            await c.login("whu", DEMO_PASSWORD)
        assert e.value.status == 503
    assert [p for _, p in flaky.seen] == ["/api/auth/token", "/api/auth/token"]


async def test_unreachable_server():
    async with ZhtjClient("http://127.0.0.1:9", retries=1, backoff=0.001, timeout=2) as c:
        with pytest.raises(ApiConnectionError) as e:
            await c.orgs()
        assert e.value.status == 0 and "127.0.0.1:9" in e.value.detail
