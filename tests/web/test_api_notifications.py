"""The message centre over REST, on real workflows: the notices of a transfer's life reach the
accounts that handle them (the node's org, or the nearest committee with an admin account acting
for a branch; the member), read state is kept per account, and what waits at a branch shows in its
committee's inbox (`node_org`) as `subtree=true` shows a township's request to its county."""

from __future__ import annotations

from sqlalchemy import select, update

from domain.roles import Role
from models import Member, Notification, NotificationRead, User
from models.db import session_factory, session_scope
from tests.factories import add_user, org_by_code

PROBLEM = "application/problem+json"
PASSWORD = "correct-horse-2026"
DFM_JOB = {
    "employer_name": "东风汽车集团有限公司",
    "employer_address": "武汉市经开区",
    "location": {"province": "湖北省", "city": "武汉市"},
}
GAC_JOB = {
    "employer_name": "广州汽车集团股份有限公司",
    "employer_address": "广东省广州市天河区珠江新城兴国路23号",
    "location": {"province": "广东省", "city": "广州市"},
}
GUANSHAN = {
    "address": "湖北省武汉市洪山区关山街道光谷大道1号",
    "location": {"province": "湖北省", "city": "武汉市", "county": "洪山区", "township": "关山街道"},
}


def _body(m: Member, **kw) -> dict:
    return {
        "id_number": m.id_number,
        "name": m.name,
        "type": "employed_with_org",
        "channel": "out",
        "target_org_code": "DFM",
        "form": DFM_JOB,
        **kw,
    }


async def _login_for(api, username: str, *, org: str | None = None, member: Member | None = None) -> None:
    """Another login (a second admin of `org`, or the member's own), known to `api.as_`."""
    async with session_scope(api.engine) as s:
        if member is not None:
            await add_user(s, username, Role.MEMBER, member=member)
        else:
            await add_user(s, username, Role.ADMIN, org=await org_by_code(s, org))
    await api.login(username, PASSWORD)


async def _inbox(api, who: str, **params) -> dict:
    r = await api.as_(who, "GET", "/api/notifications", params=params)
    assert r.status_code == 200, r.text
    return r.json()


def _of(page: dict, transfer_id: int, kind: str | None = None) -> list[dict]:
    return [i for i in page["items"] if i["transfer_id"] == transfer_id and (kind is None or i["kind"] == kind)]


async def test_a_transfers_notices_reach_the_accounts_that_handle_them(api):
    m = await api.member_in("WHU-CS-2022-1")
    await _login_for(api, "dfm-second", org="DFM")
    await _login_for(api, "grad", member=m)
    r = await api.as_("whu", "POST", "/api/transfers", json=_body(m))
    assert r.status_code == 201, r.text
    tid = r.json()["id"]

    # the receiving node's notice: to DFM's admins, each with their own read state
    dfm = await _inbox(api, "dfm")
    [pending] = _of(dfm, tid, "node_pending")
    assert pending["org_code"] == "DFM" and pending["read_at"] is None and pending["text"].startswith(pending["title"])
    assert m.name in pending["text"] and dfm["unread"] >= 1 and dfm["total"] == len(dfm["items"])
    assert _of(await _inbox(api, "dfm-second"), tid, "node_pending")
    assert not _of(await _inbox(api, "whu"), tid, "node_pending")  # not WHU's node
    assert (await _inbox(api, "hust"))["items"] == []
    assert not _of(await _inbox(api, "grad"), tid, "node_pending")  # the member gets their own only

    # one admin reads it: read for them, still unread for the other
    r = await api.as_("dfm", "POST", f"/api/notifications/{pending['id']}/read")
    assert r.status_code == 200 and r.json() == {"marked": 1, "unread": dfm["unread"] - 1}
    again = await api.as_("dfm", "POST", f"/api/notifications/{pending['id']}/read")
    assert again.json() == {"marked": 0, "unread": dfm["unread"] - 1}  # once per account
    [seen] = _of(await _inbox(api, "dfm"), tid, "node_pending")
    assert seen["read_at"] is not None
    [other] = _of(await _inbox(api, "dfm-second"), tid, "node_pending")
    assert other["read_at"] is None
    assert pending["id"] not in [i["id"] for i in (await _inbox(api, "dfm", unread="true"))["items"]]
    async with session_factory(api.engine)() as s:
        assert (await s.get(Notification, pending["id"])).read_at is None  # not the shared column
        dfm_id = (await s.execute(select(User.id).where(User.username == "dfm"))).scalar_one()
        reads = (await s.execute(select(NotificationRead))).scalars().all()
        assert [(x.user_id, x.notification_id) for x in reads] == [(dfm_id, pending["id"])]

    # not theirs: 404, and nothing is marked
    for who in ("whu", "hust", "grad", "sis-whu"):
        r = await api.as_(who, "POST", f"/api/notifications/{pending['id']}/read")
        assert r.status_code == 404 and r.headers["content-type"].startswith(PROBLEM), (who, r.text)
    assert (await api.as_("dfm", "POST", "/api/notifications/2147483647/read")).status_code == 404
    assert (await api.as_("dfm", "POST", "/api/notifications/0/read")).status_code == 422

    # approve → the receiving org assigns a branch → completed
    assert (await api.as_("dfm", "POST", f"/api/transfers/{tid}/approve", json={})).status_code == 200
    assert _of(await _inbox(api, "dfm-second"), tid, "assignment_needed")
    r = await api.as_("dfm", "POST", f"/api/transfers/{tid}/assign-branch", json={"branch_code": "DFM-RD"})
    assert r.status_code == 200 and r.json()["status"] == "completed", r.text

    # completion: to the sending branch (no admin of its own: its college acts for it), the
    # receiving org and the member; not to the school above the college
    [done_college] = _of(await _inbox(api, "whu-cs"), tid, "transfer_update")
    assert done_college["org_code"] == "WHU-CS-2022-1" and "办结" in done_college["text"]
    assert not _of(await _inbox(api, "whu"), tid, "transfer_update")
    assert [i["org_code"] for i in _of(await _inbox(api, "dfm"), tid, "transfer_update")] == ["DFM"]
    mine = await _inbox(api, "grad")
    done_member = [i for i in _of(mine, tid) if "办结" in i["title"]]
    assert done_member and all(i["org_code"] is None for i in _of(mine, tid))

    # 全部标为已读 for one account only
    before_other = (await _inbox(api, "dfm-second"))["unread"]
    r = await api.as_("dfm", "POST", "/api/notifications/read-all")
    assert r.status_code == 200 and r.json()["unread"] == 0 and r.json()["marked"] >= 2
    assert (await _inbox(api, "dfm", unread="true"))["items"] == []
    assert (await _inbox(api, "dfm-second"))["unread"] == before_other
    assert (await api.as_("dfm", "POST", "/api/notifications/read-all")).json() == {"marked": 0, "unread": 0}


async def test_a_branch_node_waits_in_its_committees_inbox(api):
    """Guangdong's four-node chain starts at the member's 团支部, which has no admin account: its
    college committee sees the node in its inbox and message centre, and decides it."""
    m = await api.member_in("WHU-CS-2022-2")
    await _login_for(api, "gd-grad", member=m)
    body = _body(m, channel="self", target_org_code="GAC-RD", partition="guangdong", form=GAC_JOB)
    r = await api.as_("gd-grad", "POST", "/api/transfers", json=body)
    assert r.status_code == 201, r.text
    t = r.json()
    assert [(n["org_code"], n["status"]) for n in t["nodes"]] == [
        ("WHU-CS-2022-2", "pending"),
        ("WHU-CS", "waiting"),
        ("GAC-RD", "waiting"),
        ("GAC", "waiting"),
    ]
    inbox = (await api.as_("whu-cs", "GET", "/api/transfers", params={"node_org": "WHU-CS"})).json()
    assert [i["id"] for i in inbox["items"]] == [t["id"]]
    assert inbox["items"][0]["current_node"]["org_code"] == "WHU-CS-2022-2"
    # the branch itself, asked for by code, and the school only with its whole subtree
    by_branch = await api.as_("whu-cs", "GET", "/api/transfers", params={"node_org": "WHU-CS-2022-2"})
    assert by_branch.json()["total"] == 1
    assert (await api.as_("whu", "GET", "/api/transfers", params={"node_org": "WHU"})).json()["total"] == 0
    whole = await api.as_("whu", "GET", "/api/transfers", params={"node_org": "WHU", "subtree": "true"})
    assert [i["id"] for i in whole.json()["items"]] == [t["id"]]
    [notice] = _of(await _inbox(api, "whu-cs"), t["id"], "node_pending")
    assert notice["org_code"] == "WHU-CS-2022-2"
    assert not _of(await _inbox(api, "whu"), t["id"], "node_pending")

    # the committee decides the branch's node, then its own; then GAC handles its branch's node
    for _ in range(2):
        r = await api.as_("whu-cs", "POST", f"/api/transfers/{t['id']}/approve", json={})
        assert r.status_code == 200, r.text
    gac = (await api.as_("gac", "GET", "/api/transfers", params={"node_org": "GAC"})).json()
    assert [(i["id"], i["current_node"]["org_code"]) for i in gac["items"]] == [(t["id"], "GAC-RD")]
    assert [i["org_code"] for i in _of(await _inbox(api, "gac"), t["id"], "node_pending")] == ["GAC-RD"]
    assert (await api.as_("gac", "POST", f"/api/transfers/{t['id']}/approve", json={})).status_code == 200


async def test_subtree_lists_a_townships_request_for_its_county(api):
    m = await api.member_in("WHU-CS-2022-3")
    r = await api.as_(
        "whu",
        "POST",
        "/api/transfers",
        json=_body(m, type="unemployed", target_org_code=None, form=GUANSHAN, partition="national"),
    )
    assert r.status_code == 201, r.text
    t = r.json()
    assert t["nodes"][-1]["org_code"] == "HB-WH-HS-GS" and t["nodes"][-1]["status"] == "pending"

    def ids(page):
        return [i["id"] for i in page.json()["items"]]

    county = "hb-wh-hs"
    # the township has an admin of its own: its request is not the county's to handle…
    assert ids(await api.as_(county, "GET", "/api/transfers", params={"node_org": "HB-WH-HS"})) == []
    # …but the county sees it with its whole subtree, with the org it waits at
    sub = await api.as_(county, "GET", "/api/transfers", params={"node_org": "HB-WH-HS", "subtree": "true"})
    assert ids(sub) == [t["id"]] and sub.json()["items"][0]["current_node"]["org_code"] == "HB-WH-HS-GS"
    late = {"node_org": "HB-WH-HS", "subtree": "true", "overdue": "true"}
    assert ids(await api.as_(county, "GET", "/api/transfers", params=late)) == []
    assert ids(await api.as_(county, "GET", "/api/transfers", params={**late, "overdue": "false"})) == [t["id"]]
    # the city too; an admin of an unrelated org, asking for the county's subtree, sees nothing
    assert ids(await api.as_("hb-wh", "GET", "/api/transfers", params={"node_org": "HB-WH", "subtree": "true"})) == [
        t["id"]
    ]
    assert ids(await api.as_("hust", "GET", "/api/transfers", params={"node_org": "HB-WH-HS", "subtree": "true"})) == []
    own = await api.as_("sis-whu", "GET", "/api/transfers", params={"node_org": "WHU", "subtree": "true"})
    assert own.status_code == 200 and own.json()["total"] == 0  # a service account's own subtree
    r = await api.as_("hb-wh-hs", "GET", "/api/transfers", params={"subtree": "true"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "subtree"
    assert not _of(await _inbox(api, county), t["id"])

    # the township's post falls vacant (its admin account is disabled): the county acts for it
    async with session_scope(api.engine) as s:
        await s.execute(update(User).where(User.username == "hb-wh-hs-gs").values(active=False))
    assert ids(await api.as_(county, "GET", "/api/transfers", params={"node_org": "HB-WH-HS"})) == [t["id"]]
    [notice] = _of(await _inbox(api, county), t["id"], "node_pending")
    assert notice["org_code"] == "HB-WH-HS-GS"
    assert (await api.as_(county, "POST", f"/api/transfers/{t['id']}/approve", json={})).status_code == 200
