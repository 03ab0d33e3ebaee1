"""The REST contract: every endpoint, its errors, and who may do what. A refused request writes nothing."""

from datetime import UTC

import pytest

from models import ApprovalStep, AuditLog, Notification, Transfer
from service.auth import LoginThrottle

PROBLEM = "application/problem+json"


def _problem(r, status: int, field: str | None = None, contains: str | None = None) -> None:
    assert r.status_code == status, r.text
    assert r.headers["content-type"].startswith(PROBLEM)
    body = r.json()
    assert body["status"] == status and body["title"] and isinstance(body["errors"], list) and body["errors"]
    if field is not None:
        assert field in [e["field"] for e in body["errors"]], body
    if contains is not None:
        assert any(contains in e["message"] for e in body["errors"]), body


async def _written(api) -> tuple[int, int, int, int]:
    return (
        await api.count(Transfer),
        await api.count(ApprovalStep),
        await api.count(Notification),
        await api.count(AuditLog),
    )


def _out_body(m, **kw) -> dict:
    body = {
        "id_number": m.id_number,
        "name": m.name,
        "type": "employed_with_org",
        "channel": "out",
        "target_org_code": "DFM",
        "form": {
            "employer_name": "东风汽车集团有限公司",
            "employer_address": "武汉市经开区",
            "location": {"province": "湖北省", "city": "武汉市"},
        },
    }
    body.update(kw)
    return body


async def _start(api, m, who="whu", **kw) -> dict:
    r = await api.as_(who, "POST", "/api/transfers", json=_out_body(m, **kw))
    assert r.status_code == 201, r.text
    return r.json()


# --- auth ---------------------------------------------------------------------------------------


async def test_token_and_bearer(api):
    r = await api.http.post("/api/auth/token", json={"username": "whu", "password": "zhtj-demo-2026"})
    assert r.status_code == 200 and r.json()["token_type"] == "bearer" and r.json()["access_token"]
    _problem(
        await api.http.post("/api/auth/token", json={"username": "whu", "password": "wrong-pass"}), 401, "password"
    )
    _problem(await api.http.post("/api/auth/token", json={"username": "nobody", "password": "x"}), 401, "password")
    _problem(await api.http.get("/api/orgs"), 401, "authorization")
    _problem(await api.http.get("/api/orgs", headers={"Authorization": "Bearer not.a.token"}), 401, "authorization")
    _problem(await api.http.post("/api/auth/token", json={"username": "whu"}), 422, "password")


async def test_repeated_failures_are_slowed_then_refused(api):
    api.app.state.throttle = LoginThrottle(free=1, max_delay=0.01, lockout=4)
    for _ in range(4):
        _problem(await api.http.post("/api/auth/token", json={"username": "whu", "password": "guess"}), 401)
    # locked: even the right password is refused until the window passes
    _problem(await api.http.post("/api/auth/token", json={"username": "whu", "password": "zhtj-demo-2026"}), 429)


# --- orgs ---------------------------------------------------------------------------------------


async def test_orgs_search_and_partition(api):
    r = await api.as_("whu", "GET", "/api/orgs", params={"q": "关山街道"})
    assert r.status_code == 200
    codes = {o["code"] for o in r.json()}
    assert {"HB-WH-HS-GS", "HB-WH-HS-GS-TMP"} <= codes
    one = next(o for o in r.json() if o["code"] == "HB-WH-HS-GS-TMP")
    assert one == {
        "code": "HB-WH-HS-GS-TMP",
        "name": "洪山区关山街道学社衔接临时团支部",
        "kind": "temp_branch",
        "partition": "national",
        "branch_level": True,
        "parent_code": "HB-WH-HS-GS",
    }
    national = (await api.as_("whu", "GET", "/api/orgs", params={"partition": "national", "limit": 200})).json()
    assert national and all(o["partition"] == "national" for o in national)
    beijing = (await api.as_("whu", "GET", "/api/orgs", params={"partition": "beijing"})).json()
    assert beijing and all(o["partition"] == "beijing" for o in beijing)
    temps = (await api.as_("whu", "GET", "/api/orgs", params={"kind": "temp_branch", "limit": 200})).json()
    assert temps and all(o["kind"] == "temp_branch" for o in temps)
    _problem(await api.as_("whu", "GET", "/api/orgs", params={"partition": "mars"}), 422, "partition")


# --- start --------------------------------------------------------------------------------------


async def test_start_routes_when_no_target_and_returns_the_open_one(api):
    m = await api.member_in("WHU-CS-2022-1")
    body = {
        "id_number": m.id_number,
        "name": m.name,
        "type": "unemployed",
        "channel": "out",
        "form": {
            "address": "洪山区关山街道光谷大道1号",
            "location": {"province": "湖北省", "city": "武汉市", "county": "洪山区", "township": "关山街道"},
        },
    }
    r = await api.as_("whu", "POST", "/api/transfers", json=body)
    assert r.status_code == 201, r.text
    t = r.json()
    assert t["target_org_code"] == "HB-WH-HS-GS-TMP"
    assert t["route"]["clause"] == "§I.4" and "学社衔接临时团支部" in t["route"]["explanation"]
    again = await api.as_("whu", "POST", "/api/transfers", json=_out_body(m))
    assert again.status_code == 200 and again.json()["id"] == t["id"]
    assert again.json()["type"] == "unemployed"  # the open one, unchanged
    assert await api.count(Transfer) == 1


async def test_idempotency_key(api):
    m = await api.member_in("WHU-CS-2022-2")
    h = {"Idempotency-Key": "sis-2026-0001"}
    first = await api.as_("whu", "POST", "/api/transfers", json=_out_body(m), headers=h)
    second = await api.as_("whu", "POST", "/api/transfers", json=_out_body(m), headers=h)
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]


@pytest.mark.parametrize(
    "change, field, contains",
    [
        ({"id_number": "130402198207290622"}, "id_number", "校验位"),
        ({"id_number": "4201"}, "id_number", "18位"),
        ({"name": "不是本人"}, "id_number", "姓名与身份证号"),
        (
            {"form": {"employer_address": "武汉市", "location": {"province": "湖北省", "city": "武汉市"}}},
            "form.employer_name",
            None,
        ),
        ({"target_org_code": "HB-WH-HS-GS-TMP"}, "target_org_code", "转接类型"),
        ({"target_org_code": "NOPE"}, "target_org_code", "不存在"),
        ({"partition": "beijing"}, "target_org_code", None),
        ({"type": "abroad_study", "form": {}}, "type", "保留"),
        ({"type": "teleport"}, "type", None),
        ({"channel": "sideways"}, "channel", None),
    ],
)
async def test_start_refusals_write_nothing(api, change, field, contains):
    m = await api.member_in("WHU-CS-2022-3")
    before = await _written(api)
    r = await api.as_("whu", "POST", "/api/transfers", json=_out_body(m, **change))
    _problem(r, 422, field, contains)
    assert await _written(api) == before


async def test_who_may_start(api):
    whu_member = await api.member_in("WHU-CS-2022-4")
    # an admin of another org may not start 转出 for WHU's member
    _problem(await api.as_("hust", "POST", "/api/transfers", json=_out_body(whu_member)), 403, "channel")
    # a member starts only their own request, and only as 个人发起
    _problem(await api.as_("member1", "POST", "/api/transfers", json=_out_body(whu_member)), 403, "channel")
    _problem(await api.as_("member1", "POST", "/api/transfers", json=_out_body(whu_member, channel="self")), 403)
    assert await api.count(Transfer) == 0
    # 办理转入: the receiving org's admin
    _problem(await api.as_("whu", "POST", "/api/transfers", json=_out_body(whu_member, channel="in")), 403, "channel")
    r = await api.as_("dfm", "POST", "/api/transfers", json=_out_body(whu_member, channel="in"))
    assert r.status_code == 201, r.text
    assert [(n["org_code"], n["status"]) for n in r.json()["nodes"]] == [("DFM", "approved"), ("WHU-CS", "pending")]


async def test_member_starts_and_sees_only_their_own(api):
    r = await api.as_("member1", "GET", "/api/transfers")
    assert r.json()["total"] == 0
    me = await _member_of(api, "member1")
    body = {
        "id_number": me.id_number,
        "name": me.name,
        "type": "unemployed",
        "channel": "self",
        "target_org_code": "HB-WH-HS-GS-TMP",
        "form": {
            "address": "关山街道",
            "location": {"province": "湖北省", "city": "武汉市", "county": "洪山区", "township": "关山街道"},
        },
    }
    mine = await api.as_("member1", "POST", "/api/transfers", json=body)
    assert mine.status_code == 201, mine.text
    assert mine.json()["member"]["id_number"] == me.id_number
    other = await _start(api, await api.member_in("WHU-CS-2022-5"))
    listed = (await api.as_("member1", "GET", "/api/transfers")).json()
    assert [i["id"] for i in listed["items"]] == [mine.json()["id"]]
    _problem(await api.as_("member1", "GET", f"/api/transfers/{other['id']}"), 404)
    # the member withdraws their own
    w = await api.as_("member1", "POST", f"/api/transfers/{mine.json()['id']}/withdraw", json={"reason": "另有安排"})
    assert w.status_code == 200 and w.json()["status"] == "withdrawn"


async def _member_of(api, username):
    from sqlalchemy import select

    from models import Member, User
    from models.db import session_factory

    async with session_factory(api.engine)() as s:
        u = (await s.execute(select(User).where(User.username == username))).scalar_one()
        return await s.get(Member, u.member_id)


async def test_service_account_only_starts_and_reads(api):
    m = await api.member_in("WHU-CS-2022-6")
    r = await api.as_("sis-whu", "POST", "/api/transfers", json=_out_body(m))
    assert r.status_code == 201, r.text
    t = r.json()
    assert "*" in t["member"]["id_number"]  # not an admin of the member's orgs: masked
    assert (await api.as_("sis-whu", "GET", f"/api/transfers/{t['id']}")).status_code == 200
    assert (await api.as_("sis-whu", "GET", "/api/transfers")).json()["total"] == 1
    _problem(await api.as_("sis-whu", "POST", f"/api/transfers/{t['id']}/approve", json={}), 403)
    _problem(await api.as_("sis-whu", "POST", f"/api/transfers/{t['id']}/withdraw", json={"reason": "x"}), 403)
    _problem(await api.as_("sis-whu", "POST", "/api/transfers", json=_out_body(m, channel="in")), 403, "channel")


# --- read ---------------------------------------------------------------------------------------


async def test_detail_and_list_filters(api):
    a = await _start(api, await api.member_in("WHU-CS-2022-7"))
    b = await _start(
        api,
        await api.member_in("WHU-EM"),
        target_org_code="DFM-XY",
        form={
            "employer_name": "东风汽车集团有限公司襄阳基地",
            "employer_address": "襄阳市",
            "location": {"province": "湖北省", "city": "襄阳市"},
        },
    )
    r = await api.as_("whu", "GET", f"/api/transfers/{a['id']}")
    assert r.status_code == 200
    d = r.json()
    assert set(d) >= {
        "id",
        "status",
        "type",
        "channel",
        "member",
        "from_org_code",
        "target_org_code",
        "nodes",
        "branch_code",
        "history",
    }
    assert set(d["nodes"][0]) >= {"org_code", "status", "deadline", "remind_at", "decided_by", "decided_at", "comment"}
    assert d["history"][0]["action"] == "transfer.started"

    page = (await api.as_("whu", "GET", "/api/transfers", params={"page_size": 1})).json()
    assert page["total"] == 2 and [i["id"] for i in page["items"]] == [b["id"]]  # newest first
    page2 = (await api.as_("whu", "GET", "/api/transfers", params={"page_size": 1, "page": 2})).json()
    assert [i["id"] for i in page2["items"]] == [a["id"]]
    by_node = (await api.as_("hb", "GET", "/api/transfers", params={"node_org": "DFM-XY"})).json()
    assert [i["id"] for i in by_node["items"]] == [b["id"]]
    assert by_node["items"][0]["current_node"]["org_code"] == "DFM-XY"
    assert by_node["items"][0]["current_node"]["overdue"] is False
    to = (await api.as_("hb", "GET", "/api/transfers", params={"to_org": "DFM"})).json()
    assert [i["id"] for i in to["items"]] == [a["id"]]
    assert (await api.as_("hb", "GET", "/api/transfers", params={"status": "completed"})).json()["total"] == 0
    assert (await api.as_("hb", "GET", "/api/transfers", params={"overdue": "true"})).json()["total"] == 0
    assert (await api.as_("hb", "GET", "/api/transfers", params={"overdue": "false"})).json()["total"] == 2
    # an admin of an unrelated org sees neither
    assert (await api.as_("hust", "GET", "/api/transfers")).json()["total"] == 0
    _problem(await api.as_("hust", "GET", f"/api/transfers/{a['id']}"), 404)
    _problem(await api.as_("whu", "GET", "/api/transfers/999999"), 404)
    _problem(await api.as_("whu", "GET", "/api/transfers", params={"page_size": 1000}), 422, "page_size")


async def test_overdue_in_lists_after_ten_days(api):
    """The inbox's overdue filter, read with the clock 11 days on."""
    from datetime import datetime, timedelta

    from sqlalchemy import select

    from models import User
    from models.db import session_factory
    from service import queries

    t = await _start(api, await api.member_in("WHU-CS-2022-8"))
    async with session_factory(api.engine)() as s:
        hb = (await s.execute(select(User).where(User.username == "dfm"))).scalar_one()
        later = datetime.now(UTC) + timedelta(days=11)
        items, total = await queries.list_transfers(
            s, hb, queries.TransferFilter(node_org="DFM", overdue=True), page=1, page_size=20, now=later
        )
        assert total == 1 and items[0]["id"] == t["id"]
        assert items[0]["current_node"]["overdue"] is True and items[0]["current_node"]["days_waiting"] >= 10
        _, none = await queries.list_transfers(
            s, hb, queries.TransferFilter(node_org="DFM", overdue=True), page=1, page_size=20
        )
        assert none == 0


# --- decisions ------------------------------------------------------------------------------------


async def test_decision_permissions_and_conflicts(api):
    t = await _start(api, await api.member_in("WHU-LIT"))
    url = f"/api/transfers/{t['id']}"
    # an admin of org A cannot decide org B's node (WHU-CS's admin for DFM's node)
    _problem(await api.as_("whu-cs", "POST", f"{url}/approve", json={}), 404)  # not even visible to it
    _problem(await api.as_("whu", "POST", f"{url}/approve", json={}), 403, "org")  # visible, but not its node
    _problem(await api.as_("member1", "POST", f"{url}/approve", json={}), 404)
    # an ancestor's admin may act for the node's org
    ok = await api.as_("hb", "POST", f"{url}/approve", json={"comment": "省团委代为审批"})
    assert ok.status_code == 200 and ok.json()["status"] == "awaiting_assignment"
    _problem(await api.as_("dfm", "POST", f"{url}/approve", json={}), 409, "status")
    _problem(await api.as_("whu", "POST", f"{url}/assign-branch", json={"branch_code": "DFM-RD"}), 403)
    _problem(
        await api.as_("dfm", "POST", f"{url}/assign-branch", json={"branch_code": "WHU-CS-2022-1"}),
        422,
        "branch_code",
        "不在接收组织之下",
    )
    _problem(await api.as_("dfm", "POST", f"{url}/assign-branch", json={}), 422, "branch_code")
    _problem(await api.as_("dfm", "POST", "/api/transfers/424242/approve", json={}), 404)


async def test_return_forbidden_ground_then_resubmit(api):
    t = await _start(api, await api.member_in("WHU-LAW"))
    url = f"/api/transfers/{t['id']}"
    before = await _written(api)
    _problem(
        await api.as_(
            "dfm",
            "POST",
            f"{url}/return",
            json={"reason_code": "not_formal_employee", "reason_text": "非本单位正式编制职工"},
        ),
        422,
        "decision",
        "不得以非本单位正式编制职工",
    )
    _problem(
        await api.as_("dfm", "POST", f"{url}/return", json={"reason_code": "other", "reason_text": "非本地户籍"}),
        422,
        "decision",
    )
    assert await _written(api) == before
    r = await api.as_(
        "dfm", "POST", f"{url}/return", json={"reason_code": "form_incomplete", "reason_text": "地址不详"}
    )
    assert r.status_code == 200 and r.json()["status"] == "returned"
    assert r.json()["nodes"][1]["status"] == "returned"
    _problem(await api.as_("dfm", "POST", f"{url}/resubmit", json={"form": {}}), 403)  # only the initiator
    bad = await api.as_("whu", "POST", f"{url}/resubmit", json={"form": {"employer_name": "东风"}})
    _problem(bad, 422, "form.employer_address")
    again = await api.as_(
        "whu",
        "POST",
        f"{url}/resubmit",
        json={
            "form": {
                "employer_name": "东风汽车集团有限公司",
                "employer_address": "武汉市经开区东风大道1号",
                "location": {"province": "湖北省", "city": "武汉市"},
            }
        },
    )
    assert again.status_code == 200, again.text
    assert again.json()["status"] == "pending" and again.json()["round"] == 2
    assert again.json()["form"]["employer_address"] == "武汉市经开区东风大道1号"
    w = await api.as_("whu", "POST", f"{url}/withdraw", json={"reason": "去向有变"})
    assert w.status_code == 200 and w.json()["status"] == "withdrawn"
    _problem(await api.as_("whu", "POST", f"{url}/withdraw", json={"reason": "again"}), 409)
    _problem(await api.as_("whu", "POST", f"{url}/withdraw", json={"reason": ""}), 422, "reason")


async def test_batch_approve(api):
    mine = [await _start(api, await api.member_in("HUST-CS", i), who="hust") for i in range(2)]
    foreign = await _start(
        api,
        await api.member_in("WHU-EIS"),
        target_org_code="HB-WH-HS-GS-TMP",
        type="unemployed",
        form={
            "address": "关山街道",
            "location": {"province": "湖北省", "city": "武汉市", "county": "洪山区", "township": "关山街道"},
        },
    )
    r = await api.as_(
        "dfm",
        "POST",
        "/api/transfers/batch/approve",
        json={"ids": [mine[0]["id"], foreign["id"], 31337, mine[1]["id"]]},
    )
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [(x["id"], x["ok"]) for x in results] == [
        (mine[0]["id"], True),
        (foreign["id"], False),
        (31337, False),
        (mine[1]["id"], True),
    ]
    assert results[0]["status"] == "awaiting_assignment"
    assert results[1]["status_code"] == 404 and results[2]["status_code"] == 404
    _problem(await api.as_("dfm", "POST", "/api/transfers/batch/approve", json={"ids": []}), 422, "ids")


async def test_batch_return_per_id_outcomes(api):
    mine = [await _start(api, await api.member_in("HUST-CS", i), who="hust") for i in range(3)]
    foreign = await _start(
        api,
        await api.member_in("WHU-EIS"),
        target_org_code="HB-WH-HS-GS-TMP",
        type="unemployed",
        form={
            "address": "关山街道",
            "location": {"province": "湖北省", "city": "武汉市", "county": "洪山区", "township": "关山街道"},
        },
    )
    url = "/api/transfers/batch/return"
    ids = [m["id"] for m in mine]

    # a ground §III.4 forbids: 422 for each id, with the notice's words, and nothing written
    before = await _written(api)
    for reason in (
        {"reason_code": "not_local_resident", "reason_text": ""},
        {"reason_code": "other", "reason_text": "外省户籍，不予接收"},
    ):
        r = await api.as_("dfm", "POST", url, json={"ids": ids, **reason})
        assert r.status_code == 200, r.text
        results = r.json()["results"]
        assert [(x["id"], x["ok"], x["status_code"]) for x in results] == [(i, False, 422) for i in ids]
        assert all("不得以非本单位正式编制职工" in x["errors"][0]["message"] for x in results)
    assert await _written(api) == before

    # not the caller's: 403 when it may see the request but not act for its node, 404 when not even see it
    r = await api.as_("hust", "POST", url, json={"ids": ids[:1], "reason_code": "form_incomplete"})
    assert [(x["ok"], x["status_code"]) for x in r.json()["results"]] == [(False, 403)]
    assert r.json()["results"][0]["errors"][0]["field"] == "org"
    r = await api.as_("whu", "POST", url, json={"ids": ids[:1], "reason_code": "form_incomplete"})
    assert [(x["ok"], x["status_code"]) for x in r.json()["results"]] == [(False, 404)]
    r = await api.as_("member1", "POST", url, json={"ids": ids[:1], "reason_code": "form_incomplete"})
    assert [(x["ok"], x["status_code"]) for x in r.json()["results"]] == [(False, 404)]
    assert await _written(api) == before

    # one outcome per id, in order; a refused id does not stop the others
    r = await api.as_(
        "dfm",
        "POST",
        url,
        json={
            "ids": [ids[0], foreign["id"], 31337, ids[1]],
            "reason_code": "wrong_target",
            "reason_text": "户籍地在洪山区，应转至洪山区对应街道",  # names 户籍 to point at the right place: allowed
        },
    )
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [(x["id"], x["ok"]) for x in results] == [
        (ids[0], True),
        (foreign["id"], False),
        (31337, False),
        (ids[1], True),
    ]
    assert results[0]["status"] == "returned" and results[3]["status"] == "returned"
    assert results[1]["status_code"] == 404 and results[2]["status_code"] == 404
    detail = (await api.as_("hust", "GET", f"/api/transfers/{ids[0]}")).json()
    assert detail["status"] == "returned"
    assert (detail["nodes"][-1]["reason_code"], detail["nodes"][-1]["comment"]) == (
        "wrong_target",
        "户籍地在洪山区，应转至洪山区对应街道",
    )
    # already returned: 409 for that id; the third is returned now
    r = await api.as_("dfm", "POST", url, json={"ids": [ids[0], ids[2]], "reason_code": "duplicate"})
    assert [(x["ok"], x.get("status_code")) for x in r.json()["results"]] == [(False, 409), (True, None)]
    assert (await api.as_("hust", "GET", f"/api/transfers/{ids[2]}")).json()["status"] == "returned"

    # the request itself
    _problem(await api.as_("dfm", "POST", url, json={"ids": [], "reason_code": "duplicate"}), 422, "ids")
    _problem(await api.as_("dfm", "POST", url, json={"ids": ids}), 422, "reason_code")
    _problem(await api.as_("dfm", "POST", url, json={"ids": list(range(1, 202)), "reason_code": "duplicate"}), 422)
    _problem(await api.http.post(url, json={"ids": ids, "reason_code": "duplicate"}), 401)


async def test_nul_characters_are_refused_not_a_500(api):
    """PostgreSQL cannot hold U+0000 in text: such input is refused up front, on both engines."""
    m = await api.member_in("WHU-CS-2022-1")
    before = await _written(api)
    _problem(await api.as_("whu", "GET", "/api/transfers", params={"node_org": "DFM\x00"}), 422, "query", "空字符")
    _problem(await api.as_("whu", "POST", "/api/transfers", json=_out_body(m, name=m.name + "\x00")), 422, "body")
    _problem(await api.as_("whu", "GET", "/api/transfers/2147483648"), 422, "transfer_id")
    assert await _written(api) == before


async def test_validate_with_a_used_key_answers_for_that_transfer(api):
    """A bulk file re-run after its transfers completed: the members moved, yet the rows are not
    refused; the key's transfer is named and nothing new starts."""
    m = await api.member_in("WHU-CS-2022-2", 1)
    body = {
        "id_number": m.id_number,
        "name": m.name,
        "type": "unemployed",
        "channel": "out",
        "target_org_code": "HB-WH-HS-GS-TMP",
        "form": {
            "address": "关山街道",
            "location": {"province": "湖北省", "city": "武汉市", "county": "洪山区", "township": "关山街道"},
        },
    }
    h = {"Idempotency-Key": "bulk-row-7"}
    t = (await api.as_("whu", "POST", "/api/transfers", json=body, headers=h)).json()
    done = await api.as_("hb-wh-hs-gs", "POST", f"/api/transfers/{t['id']}/approve", json={})
    assert done.json()["status"] == "completed"
    again = await api.as_("whu", "POST", "/api/transfers/validate", json=body, headers=h)
    assert again.status_code == 200, again.text
    assert again.json()["transfer_id"] == t["id"] and again.json()["route"]["org_code"] == "HB-WH-HS-GS-TMP"
    # without the key the row is checked afresh: the member is no longer the school's
    _problem(await api.as_("whu", "POST", "/api/transfers/validate", json=body), 403, "channel")
    assert await api.count(Transfer) == 1


# --- bulk start ---------------------------------------------------------------------------------


def _row(m, key: str | None, **kw) -> dict:
    return {**_out_body(m, **kw), "idempotency_key": key}


async def _bulk(api, rows: list[dict], who: str = "whu", dry_run: bool = False) -> list[dict]:
    r = await api.as_(who, "POST", "/api/transfers/bulk", json={"rows": rows, "dry_run": dry_run})
    assert r.status_code == 200, r.text
    results = r.json()["results"]
    assert [x["index"] for x in results] == list(range(len(rows)))
    return results


async def _recorded(api, n: int) -> None:
    """Wait until the workflows have written `n` transfers (a bulk start does not wait for it)."""
    import asyncio

    for _ in range(200):
        if await api.count(Transfer) >= n:
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"{await api.count(Transfer)} transfers recorded, expected {n}")


async def test_bulk_start_per_row_outcomes(api):
    a, b, c = [await api.member_in("WHU-CS-2022", i) for i in range(3)]
    hust = await api.member_in("HUST-CS")
    rows = [_row(a, "bulk-a"), _row(b, "bulk-b", name=b.name + "某"), _row(hust, "bulk-h"), _row(c, "bulk-c")]

    # a dry run: every check and route, nothing started
    before = await _written(api)
    dry = await _bulk(api, rows, dry_run=True)
    assert [(x["ok"], x["status_code"], x["created"]) for x in dry] == [
        (True, 200, False),
        (False, 422, False),
        (False, 403, False),
        (True, 200, False),
    ]
    assert dry[0]["route"]["org_code"] == "DFM" and dry[0]["transfer_id"] is None and dry[0]["workflow_id"]
    assert dry[1]["errors"] == [{"field": "id_number", "message": "姓名与身份证号不对应任何团员，请核对后查询"}]
    assert dry[2]["errors"][0]["field"] == "channel" and dry[2]["route"] is None and dry[2]["workflow_id"] is None
    assert await _written(api) == before

    # the start: the good rows are started, the refused ones start nothing and stop nothing
    first = await _bulk(api, rows)
    assert [(x["ok"], x["status_code"], x["created"]) for x in first] == [
        (True, 201, True),
        (False, 422, False),
        (False, 403, False),
        (True, 201, True),
    ]
    assert first[0]["workflow_id"] == dry[0]["workflow_id"] and first[0]["route"] == dry[0]["route"]
    assert first[1]["errors"] == dry[1]["errors"] and first[2]["errors"] == dry[2]["errors"]
    await _recorded(api, 2)
    from sqlalchemy import select

    from models.db import session_factory

    async with session_factory(api.engine)() as s:
        recorded = dict((await s.execute(select(Transfer.workflow_id, Transfer.id))).all())
    assert set(recorded) == {first[0]["workflow_id"], first[3]["workflow_id"]}

    # again: a re-sent key names its transfer; a member with an open transfer under another key,
    # and the same key in a dry run, answer existing; nothing new starts
    again = await _bulk(api, [_row(a, "bulk-a"), _row(c, "another-key", target_org_code="DFM-XY")])
    assert [(x["ok"], x["status_code"], x["created"]) for x in again] == [(True, 200, False), (True, 200, False)]
    assert again[0]["transfer_id"] == recorded[first[0]["workflow_id"]] and again[0]["route"]["org_code"] == "DFM"
    assert again[1]["transfer_id"] is None and again[1]["workflow_id"] == first[3]["workflow_id"]
    assert (await _bulk(api, [_row(a, "bulk-a")], dry_run=True))[0]["transfer_id"] == again[0]["transfer_id"]
    assert await api.count(Transfer) == 2

    # another org's admin: every row refused (403), nothing started
    b_ok = _row(b, "bulk-b2")
    theirs = await _bulk(api, [b_ok], who="dfm")
    assert [(x["ok"], x["status_code"], x["errors"][0]["field"]) for x in theirs] == [(False, 403, "channel")]
    assert await api.count(Transfer) == 2


async def test_bulk_start_request_errors(api):
    m = await api.member_in("WHU-CS-2022", 4)
    url = "/api/transfers/bulk"
    _problem(await api.http.post(url, json={"rows": [_row(m, "k")]}), 401, "authorization")
    _problem(
        await api.as_("whu", "POST", url, json={"rows": [_row(m, f"k{i}") for i in range(501)]}),
        422,
        "rows",
        "最多提交 500 行",
    )
    _problem(await api.as_("whu", "POST", url, json={"rows": []}), 422, "rows")
    _problem(
        await api.as_("whu", "POST", url, json={"rows": [_row(m, "k"), _row(m, "k", channel="sideways")]}),
        422,
        "rows.1.channel",
    )
    _problem(
        await api.as_("whu", "POST", url, json={"rows": [{**_row(m, "k"), "colour": "red"}]}), 422, "rows.0.colour"
    )
    _problem(await api.as_("whu", "POST", url, json={"rows": [_row(m, "k" * 129)]}), 422, "rows.0.idempotency_key")
    assert await api.count(Transfer) == 0
    spec = (await api.http.get("/openapi.json")).json()
    op = spec["paths"][url]["post"]
    assert "transfers" in op["tags"]
    assert op["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/BulkStartResponse")
    assert spec["components"]["schemas"]["BulkStartRequest"]["properties"]["rows"]["maxItems"] == 500
