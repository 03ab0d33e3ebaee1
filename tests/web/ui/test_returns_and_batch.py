"""Returned requests and batch work, in a real browser and over the API: 退回 → 被退回 in the
sender's 操作中心 → 修改后重新提交 (the gate's errors beside the fields, 预览) → approved; 撤回 after
a confirmation; 全选符合条件的 across pages → 批量退回 sent in chunks; the detail page's clocks
(还剩N天, 已超过10天未审批) and its phone layout."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from sqlalchemy import func, select, update

from domain.transfers import FORBIDDEN_GROUND_MESSAGE, Channel, TransferType
from models import ApprovalStep, Member, Org, Transfer
from models.db import session_factory, session_scope
from seed.demo import DEMO_PASSWORD
from service.decisions import return_request
from service.errors import ServiceError
from service.intake import StartRequest, start_request
from service.pages import days_left
from starter import ZhtjClient
from starter.pool import gather_limited

EMPLOYER_FORM = {
    "employer_name": "东风汽车集团有限公司",
    "employer_address": "湖北省武汉市经济技术开发区东风大道",
    "location": {"province": "湖北省", "city": "武汉市"},
}
CORRECTED_ADDRESS = "湖北省武汉市经济技术开发区东风大道特1号"
PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}


async def _start(served, member: Member, admin: str = "whu", target: str = "DFM") -> int:
    app = served.app
    result, _ = await start_request(
        served.engine,
        await app.state.temporal_client(),
        await served.user(admin),
        StartRequest(
            id_number=member.id_number,
            name=member.name,
            type=TransferType.EMPLOYED_WITH_ORG,
            channel=Channel.OUT,
            form=EMPLOYER_FORM,
            target_org_code=target,
            partition="national",
        ),
        directories=app.state.directories,
        task_queue=app.state.settings.task_queue,
        id_prefix=app.state.settings.workflow_id_prefix,
    )
    return result.view.transfer_id


async def _start_many(served, n: int) -> list[int]:
    """`n` 转出 of 武汉大学's graduates to 东风汽车集团有限公司团委 (a member who may not be moved is skipped)."""
    async with session_factory(served.engine)() as s:
        members = (
            (
                await s.execute(
                    select(Member)
                    .join(Org, Org.id == Member.branch_id)
                    .where(Org.code.like("WHU-%-2022-%"), Member.graduating.is_(True))
                    .order_by(Member.id)
                    .limit(n + 30)
                )
            )
            .scalars()
            .all()
        )

    async def one(m: Member) -> int | None:
        try:
            return await _start(served, m)
        except ServiceError:
            return None

    ids: list[int] = []
    while len(ids) < n and members:
        wanted, members = members[: n - len(ids)], members[n - len(ids) :]
        ids += [i for i in await gather_limited(8, [one(m) for m in wanted]) if i is not None]
    assert len(ids) == n, f"only {len(ids)} members could be started"
    return ids


async def _statuses(served, ids: list[int]) -> dict[str, int]:
    async with session_factory(served.engine)() as s:
        rows = await s.execute(
            select(Transfer.status, func.count()).where(Transfer.id.in_(ids)).group_by(Transfer.status)
        )
        return dict(rows.all())


async def _return_in_the_ui(ui, tid: int, reason: str, text: str) -> None:
    await ui.goto(f"/ui/transfers/{tid}")
    page = ui.page
    await page.select_option('#return-form select[name="reason_code"]', reason)
    await page.fill('#return-form textarea[name="reason_text"]', text)
    await page.click('#return-form button[type="submit"]')
    await page.wait_for_url(f"**/ui/transfers/{tid}?done=returned")


@pytest.mark.parametrize(
    "left,scale,days",
    [
        (timedelta(days=15), 1, 15),
        (timedelta(days=14, hours=23), 1, 15),
        (timedelta(days=4, hours=12), 1, 5),
        (timedelta(minutes=1), 1, 1),
        (timedelta(0), 1, 0),
        (timedelta(days=-2), 1, 0),
        (timedelta(seconds=9.5), 86400, 10),  # a rehearsal: a day is a second
    ],
)
def test_days_left_rounds_up_whole_policy_days(left, scale, days):
    now = datetime(2026, 7, 1, 8, tzinfo=UTC)
    assert days_left(now + left, now, time_scale=scale) == days


async def test_return_then_resubmit_a_corrected_form_then_approved(served, ui_factory):
    member = await served.member_of("member2")
    tid = await _start(served, member)

    dfm = await ui_factory()
    await dfm.login("dfm")
    await _return_in_the_ui(dfm, tid, "form_incomplete", "工作单位地址请填写到门牌号")

    # the sender: 操作中心 → 被退回 (with its count) → the request
    school = await ui_factory()
    await school.login("whu")
    await school.page.wait_for_url("**/ui/ops")
    page = school.page
    assert await page.inner_text("#tab-returned .count") == "1"
    await page.click("#tab-returned")
    await page.wait_for_url("**/ui/ops?scope=returned")
    row = page.locator(f'tr[data-transfer-id="{tid}"]')
    text = await row.inner_text()
    assert "信息填写不完整或有误" in text and "工作单位地址请填写到门牌号" in text and "还剩30天" in text
    await school.shot("ops-returned")
    await row.locator("a.btn").click()
    await page.wait_for_url(f"**/ui/transfers/{tid}")
    info = await page.inner_text("#returned-info")
    assert "信息填写不完整或有误" in info and "工作单位地址请填写到门牌号" in info
    assert "东风汽车集团有限公司团委" in await page.inner_text("#returned-by")
    assert "还剩30天" in await page.inner_text("#return-expiry")
    # the form opens with the request's values and the partition answer
    form = page.locator("#resubmit-form")
    assert await form.locator('input[name="employer_name"]').input_value() == EMPLOYER_FORM["employer_name"]
    assert await form.locator('input[name="loc_city"]').input_value() == "武汉市"
    assert await form.locator('input[name="partition_special"][value="no"]').is_checked()
    assert not await page.locator("#resubmit-partition-which").is_visible()
    await school.shot("detail-returned")

    # 预览 and the post both say what is wrong, beside the field, and nothing is sent
    await form.locator('input[name="employer_address"]').fill("")
    await form.locator('[data-action="preview"]').click()
    await page.locator("#resubmit-preview.err").wait_for()
    beside = form.locator('[data-field="employer_address"] .field-error')
    assert "请填写工作单位所在地详细地址" in await beside.first.inner_text()
    await page.click("#resubmit-submit")
    await page.wait_for_load_state()
    beside = page.locator('#resubmit-form [data-field="employer_address"] .field-error')
    assert "请填写工作单位所在地详细地址" in await beside.inner_text()
    assert await page.inner_text("#transfer-status") == "已退回"
    assert await page.locator('#resubmit-form input[name="employer_name"]').input_value() == "东风汽车集团有限公司"

    # the corrected form: 预览 shows the route, then 重新提交 starts a new round
    form = page.locator("#resubmit-form")
    await form.locator('input[name="employer_address"]').fill(CORRECTED_ADDRESS)
    await form.locator('[data-action="preview"]').click()
    await page.locator("#resubmit-preview.ok").wait_for()
    assert "东风汽车集团有限公司团委" in await page.inner_text("#resubmit-preview")
    await page.click("#resubmit-submit")
    await page.wait_for_url(f"**/ui/transfers/{tid}?done=resubmitted")
    assert await page.inner_text("#transfer-status") == "审批中"
    assert "第2次提交" in await page.inner_text("main")
    assert CORRECTED_ADDRESS in await page.inner_text("main")
    assert "更正后重新提交" in await page.inner_text("#timeline")
    assert await page.locator("#resubmit-form").count() == 0
    assert "还剩15天" in await page.inner_text("#node-clock")

    # the receiving org approves the corrected request
    await dfm.goto(f"/ui/transfers/{tid}")
    await dfm.page.click('#approve-form button[type="submit"]')
    await dfm.page.wait_for_url(f"**/ui/transfers/{tid}?done=approved")
    assert await dfm.page.inner_text("#transfer-status") == "待分配团支部"
    await school.goto("/ui/ops")
    assert await page.locator("#tab-returned .count").count() == 0


async def test_return_then_resubmit_then_approved_over_the_api(served):
    member = await served.member_of("member3")
    async with httpx.AsyncClient(base_url=served.base_url) as http:

        async def login(username: str) -> dict[str, str]:
            r = await http.post("/api/auth/token", json={"username": username, "password": DEMO_PASSWORD})
            return {"Authorization": f"Bearer {r.json()['access_token']}"}

        whu, dfm = await login("whu"), await login("dfm")
        body = {
            "id_number": member.id_number,
            "name": member.name,
            "type": "employed_with_org",
            "channel": "out",
            "target_org_code": "DFM",
            "partition": "national",
            "form": EMPLOYER_FORM,
        }
        t = (await http.post("/api/transfers", json=body, headers=whu)).json()
        url = f"/api/transfers/{t['id']}"
        r = await http.post(
            f"{url}/return", json={"reason_code": "form_incomplete", "reason_text": "地址请写到门牌号"}, headers=dfm
        )
        assert r.status_code == 200 and r.json()["status"] == "returned"
        bad = await http.post(f"{url}/resubmit", json={"form": {**EMPLOYER_FORM, "employer_address": ""}}, headers=whu)
        assert bad.status_code == 422 and "form.employer_address" in [e["field"] for e in bad.json()["errors"]]
        assert (await http.get(url, headers=whu)).json()["status"] == "returned"  # nothing sent
        corrected = {**EMPLOYER_FORM, "employer_address": CORRECTED_ADDRESS}
        r = await http.post(f"{url}/resubmit", json={"form": corrected}, headers=whu)
        assert r.status_code == 200, r.text
        assert r.json()["status"] == "pending" and r.json()["round"] == 2
        r = await http.post(f"{url}/approve", json={"comment": "地址已更正，同意接收"}, headers=dfm)
        assert r.status_code == 200 and r.json()["status"] == "awaiting_assignment"
        assert r.json()["form"]["employer_address"] == CORRECTED_ADDRESS


async def test_batch_return_of_fifty_selected_across_pages(served, ui_factory):
    ids = await _start_many(served, 50)
    ui = await ui_factory()
    await ui.login("dfm")
    await ui.page.wait_for_url("**/ui/ops")
    page = ui.page
    assert await page.locator("tr[data-transfer-id]").count() == 20  # a page of 20
    assert "第 1 / 3 页" in await page.inner_text(".pager")

    # every request the filter matches, not only this page
    await page.check("#all-matching")
    assert await page.inner_text("#selected-count") == "已选择符合条件的全部 50 条"
    # a forbidden ground is refused beside the reason before anything is confirmed
    await page.click("#batch-return-box summary")
    await page.select_option("#batch-reason", "other")
    await page.fill('#batch-form textarea[name="reason_text"]', "非本地户籍，不予接收")
    await page.click("#batch-return")
    await page.wait_for_load_state()
    assert FORBIDDEN_GROUND_MESSAGE in await page.inner_text("#batch-bar .field-error")
    assert await page.locator("#batch-confirm").count() == 0
    assert await _statuses(served, ids) == {"pending": 50}

    await page.check("#all-matching")
    await page.select_option("#batch-reason", "wrong_target")
    await page.fill('#batch-form textarea[name="reason_text"]', "请核对工作单位团组织后重新选择转入组织")
    await page.click("#batch-return")
    await page.wait_for_load_state()
    assert await page.inner_text("#batch-count") == "50"
    assert "转入组织选择有误" in await page.inner_text("#batch-confirm")
    assert await _statuses(served, ids) == {"pending": 50}  # nothing sent before the confirmation
    await ui.shot("ops-batch-return-confirm")
    # the script sends the ids in chunks (here of 20: three requests)
    await page.evaluate("document.querySelector('#batch-confirm-form').setAttribute('data-chunk', '20')")
    chunks: list[str] = []
    page.on("request", lambda r: chunks.append(r.url) if r.url.endswith("/ui/ops/batch.json") else None)
    await page.click("#batch-confirm-submit")
    await page.locator("#batch-progress:has-text('已全部处理（50 条）')").wait_for(timeout=60_000)
    assert len(chunks) == 3
    rows = page.locator("#batch-results tbody tr")
    assert await rows.count() == 50
    assert sorted(int(x) for x in await rows.evaluate_all("rs => rs.map(r => r.dataset.resultId)")) == sorted(ids)
    assert all(t.endswith("已退回") for t in await rows.all_inner_texts())
    assert "成功 50 条" in await page.inner_text("#batch-summary")
    await ui.shot("ops-batch-return-done")
    assert await _statuses(served, ids) == {"returned": 50}
    await page.click("#batch-refresh")
    await page.wait_for_load_state()
    assert await page.locator("tr[data-transfer-id]").count() == 0

    # the sender sees them in 被退回
    school = await ui_factory()
    await school.login("whu")
    await school.page.wait_for_url("**/ui/ops")
    assert await school.page.inner_text("#tab-returned .count") == "50"


async def test_batch_return_without_javascript(served, browser):
    """No script: the confirmation and the whole batch are the server's, a result row per request."""
    ids = [await _start(served, await served.member_of(u)) for u in ("member2", "member3")]
    ctx = await browser.new_context(locale="zh-CN", java_script_enabled=False)
    try:
        page = await ctx.new_page()
        await page.goto(served.base_url + "/ui/login")
        await page.fill('input[name="username"]', "dfm")
        await page.fill('input[name="password"]', DEMO_PASSWORD)
        await page.click('button[type="submit"]')
        await page.wait_for_url("**/ui/ops")
        await page.click("#batch-return-box summary")
        await page.click("#batch-return")  # nothing ticked, no reason
        await page.wait_for_load_state()
        bar = await page.inner_text("#batch-bar")
        assert "请先勾选要处理的申请" in bar and "请选择退回原因" in bar
        for i in ids:
            await page.check(f'input[name="ids"][value="{i}"]')
        await page.select_option("#batch-reason", "form_incomplete")  # the box stays open with its errors
        await page.click("#batch-return")
        await page.wait_for_load_state()
        assert await page.inner_text("#batch-count") == "2"
        await page.click("#batch-confirm-submit")
        await page.wait_for_load_state()
        rows = page.locator("#batch-results tbody tr")
        assert await rows.count() == 2 and all("已退回" in t for t in await rows.all_inner_texts())
        assert await _statuses(served, ids) == {"returned": 2}
    finally:
        await ctx.close()


async def test_detail_page_clocks_and_phone_layout(served, ui_factory):
    tid = await _start(served, await served.member_of("member1"))
    phone = await ui_factory(**PHONE)
    await phone.login("dfm")
    await phone.goto(f"/ui/transfers/{tid}")
    page = phone.page
    clock = await page.inner_text("#node-clock")
    assert "还剩15天" in clock and "系统默认通过" in clock and "东风汽车集团有限公司团委" in clock
    assert await page.locator("#node-overdue").count() == 0
    # on a phone the actions come before the history
    decide, history = await page.locator("#decide").bounding_box(), await page.locator("#timeline").bounding_box()
    assert decide["y"] < history["y"]
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    await phone.shot("detail-phone")

    # ten and a half days later: the reminder has gone, four and a half days are left
    now = datetime.now(UTC)
    async with session_scope(served.engine) as s:
        await s.execute(
            update(ApprovalStep)
            .where(ApprovalStep.transfer_id == tid, ApprovalStep.status == "pending")
            .values(remind_at=now - timedelta(hours=12), deadline=now + timedelta(days=4, hours=12))
        )
    await phone.goto(f"/ui/transfers/{tid}")
    assert "还剩5天" in await page.inner_text("#node-clock")
    assert await page.inner_text("#node-overdue") == "已超过10天未审批"
    await phone.shot("detail-overdue-phone")

    # returned twenty and a half days ago: ten days left to correct it
    await _return_in_the_ui(phone, tid, "duplicate", "")
    async with session_scope(served.engine) as s:
        await s.execute(
            update(ApprovalStep)
            .where(ApprovalStep.transfer_id == tid, ApprovalStep.status == "returned")
            .values(decided_at=now - timedelta(days=20, hours=12))
        )
    await phone.goto(f"/ui/transfers/{tid}")
    assert "重复申请" in await page.inner_text("#return-reason")
    assert "还剩10天" in await page.inner_text("#return-expiry")
    assert await page.locator("#node-clock").count() == 0
    assert await page.locator("#resubmit-form").count() == 0  # the receiving org does not resubmit

    # the initiator sees the form, and 撤回 asks for a confirmation first
    school = await ui_factory(**PHONE)
    await school.login("whu")
    await school.goto(f"/ui/transfers/{tid}")
    p2 = school.page
    assert await p2.locator("#resubmit-form").count() == 1
    form_box, history = await p2.locator("#resubmit-form").bounding_box(), await p2.locator("#timeline").bounding_box()
    assert form_box["y"] < history["y"]
    await p2.fill('#withdraw-form input[name="reason"]', "学生改为升学")
    await p2.click('#withdraw-form button[type="submit"]')
    await p2.locator("#withdraw-confirm").wait_for()
    assert await p2.inner_text("#transfer-status") == "已退回"
    await p2.click("#withdraw-cancel")
    await p2.wait_for_url(re.compile(rf"/ui/transfers/{tid}$"))
    assert await p2.inner_text("#transfer-status") == "已退回"
    await p2.fill('#withdraw-form input[name="reason"]', "学生改为升学")
    await p2.click('#withdraw-form button[type="submit"]')
    await p2.click("#withdraw-confirm-submit")
    await p2.wait_for_url(f"**/ui/transfers/{tid}?done=withdrawn")
    assert await p2.inner_text("#transfer-status") == "已撤回"


async def test_the_client_sends_a_batch_return(served):
    ids = [await _start(served, await served.member_of(u)) for u in ("member2", "member3")]
    async with ZhtjClient(served.base_url) as dfm:
        await dfm.login("dfm", DEMO_PASSWORD)
        refused = await dfm.batch_return(ids, "not_formal_employee")
        assert [(r.ok, r.status_code) for r in refused] == [(False, 422), (False, 422)]
        results = await dfm.batch_return([*ids, 999999], "form_incomplete", "请补充工作单位地址")
        assert [(r.id, r.ok, r.status) for r in results[:2]] == [(i, True, "returned") for i in ids]
        assert (results[2].ok, results[2].status_code) == (False, 404)


async def test_a_member_corrects_their_own_returned_request(served, ui_factory):
    """个人发起, returned by a committee above the node: the member's page has the form."""
    member = await served.member_of("member4")
    app = served.app
    form = {
        "address": "湖北省武汉市洪山区关山街道关山大道",
        "location": {"province": "湖北省", "city": "武汉市", "county": "洪山区", "township": "关山街道"},
    }
    result, _ = await start_request(
        served.engine,
        await app.state.temporal_client(),
        await served.user("member4"),
        StartRequest(member.id_number, member.name, TransferType.UNEMPLOYED, Channel.SELF, form, partition="national"),
        directories=app.state.directories,
        task_queue=app.state.settings.task_queue,
        id_prefix=app.state.settings.workflow_id_prefix,
    )
    tid = result.view.transfer_id
    await return_request(
        served.engine,
        await app.state.temporal_client(),
        await served.user("hb"),
        tid,
        "form_incomplete",
        "请写到门牌号",
    )
    phone = await ui_factory(**PHONE)
    await phone.login("member4")
    await phone.goto("/ui/me")  # 个人中心 says a request waits for their correction
    assert "1 条申请被退回" in await phone.page.inner_text("#my-returned")
    await phone.goto(f"/ui/transfers/{tid}")
    page = phone.page
    assert "请写到门牌号" in await page.inner_text("#return-text")
    assert await page.locator('#resubmit-form input[name="loc_township"]').input_value() == "关山街道"
    await page.fill('#resubmit-form input[name="address"]', "湖北省武汉市洪山区关山街道关山大道1号")
    await page.click('#resubmit-form [data-action="preview"]')
    await page.locator("#resubmit-preview.ok").wait_for()
    assert "关山街道学社衔接临时团支部" in await page.inner_text("#resubmit-preview")
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    await phone.shot("detail-resubmit-member-phone")
    await page.click("#resubmit-submit")
    await page.wait_for_url(f"**/ui/transfers/{tid}?done=resubmitted")
    assert await page.inner_text("#transfer-status") == "审批中"
