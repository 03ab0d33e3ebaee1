"""The UI in a real browser: 办理转出 → 操作中心 → 审批 → 分配团支部 → the member sees it done;
forbidden return grounds, other members' requests, and form posts without a CSRF token."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlalchemy import update

from domain.glossary import PARTITION_QUESTION
from domain.transfers import FORBIDDEN_GROUND_MESSAGE, Channel, TransferType
from models import ApprovalStep
from models.db import session_scope
from service.intake import StartRequest, start_request

EMPLOYER_FORM = {
    "employer_name": "东风汽车集团有限公司",
    "employer_address": "湖北省武汉市经济技术开发区东风大道特1号",
    "location": {"province": "湖北省", "city": "武汉市"},
}


async def _start_out(served, admin: str, member, target: str = "DFM") -> int:
    """A 转出 started through the service (for the tests about what happens after)."""
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


async def test_out_in_operations_center_approve_assign_and_member_sees_it_done(served, ui_factory):
    member = await served.member_of("member1")
    masked = member.id_number[:6] + "********" + member.id_number[-4:]

    # 武汉大学团委 starts a 办理转出 in the form
    school = await ui_factory()
    await school.login("whu")
    await school.page.wait_for_url("**/ui/ops")
    await school.shot("ops-empty")
    await school.goto("/ui/transfers/new/out")
    page = school.page
    await page.fill('input[name="name"]', member.name)
    await page.fill('input[name="id_number"]', member.id_number)
    await page.click('[data-action="lookup"]')
    await page.locator("#lookup-result.ok").wait_for()
    assert masked in await page.inner_text("#lookup-result")
    assert not await page.locator('input[name="employer_name"]').is_visible()  # no 转入原因 chosen yet
    await page.select_option('select[name="type"]', "employed_with_org")
    assert await page.locator('input[name="employer_name"]').is_visible()
    assert not await page.locator('input[name="school_name"]').is_visible()
    await page.fill('input[name="employer_name"]', EMPLOYER_FORM["employer_name"])
    await page.fill('input[name="employer_address"]', EMPLOYER_FORM["employer_address"])
    await page.fill('input[name="loc_province"]', "湖北省")
    await page.fill('input[name="loc_city"]', "武汉市")
    assert PARTITION_QUESTION in await page.content()
    await page.check('input[name="partition_special"][value="no"]')
    assert await page.input_value('input[name="partition"]') == "national"
    await page.fill("#org-q", "东风汽车集团有限公司团委")
    await page.locator('#target-org option[value="DFM"]').wait_for(state="attached")
    await page.select_option("#target-org", "DFM")
    await page.click('[data-action="preview"]')
    await page.locator("#route-preview.ok").wait_for()
    preview = await page.inner_text("#route-preview")
    assert "东风汽车集团有限公司团委" in preview and "§I.1" in preview
    await school.shot("form-out")
    await page.click("#submit-transfer")
    await page.wait_for_url(re.compile(r"/ui/transfers/\d+\?done=started"))
    tid = int(re.search(r"/ui/transfers/(\d+)", page.url).group(1))
    assert "转接申请已提交" in await page.inner_text("#done")
    assert await page.inner_text("#transfer-status") == "审批中"
    await school.shot("detail-started")

    # ten days pass at the receiving node (the banner and the highlight read remind_at)
    async with session_scope(served.engine) as s:
        await s.execute(
            update(ApprovalStep)
            .where(ApprovalStep.transfer_id == tid, ApprovalStep.status == "pending")
            .values(remind_at=datetime.now(UTC) - timedelta(minutes=1))
        )

    # 东风汽车集团有限公司团委 sees it in 操作中心, approves and assigns a branch
    dfm = await ui_factory()
    await dfm.login("dfm")
    await dfm.page.wait_for_url("**/ui/ops")
    page = dfm.page
    assert "您有 1 条转接申请超过10天未审批" in await page.inner_text("#overdue-banner")
    row = page.locator(f'tr[data-transfer-id="{tid}"]')
    assert await row.get_attribute("class") == "overdue"
    text = await row.inner_text()
    assert member.name in text and masked in text and member.id_number not in text
    assert "已落实工作单位（工作单位有团组织）" in text
    await dfm.shot("ops-pending")
    await row.locator("a.btn").click()
    await page.wait_for_url(f"**/ui/transfers/{tid}")
    await dfm.shot("detail-decide")
    await page.fill('#approve-form textarea[name="comment"]', "同意接收")
    await page.click('#approve-form button[type="submit"]')
    await page.wait_for_url(f"**/ui/transfers/{tid}?done=approved")
    assert await page.inner_text("#transfer-status") == "待分配团支部"
    options = await page.locator('#assign-form select[name="branch_code"] option').all_inner_texts()
    assert "东风汽车集团有限公司研发总院团支部" in options
    await dfm.shot("detail-assign")
    await page.select_option('#assign-form select[name="branch_code"]', "DFM-RD")
    await page.click('#assign-form button[type="submit"]')
    await page.wait_for_url(f"**/ui/transfers/{tid}?done=assigned")
    assert await page.inner_text("#transfer-status") == "已完成"
    timeline = await page.inner_text("#timeline")
    for step in ("发起转接申请", "审批通过", "分配团支部", "转接办结"):
        assert step in timeline
    await dfm.shot("detail-completed")

    # the member sees it completed in 个人中心
    me = await ui_factory()
    await me.login("member1")
    await me.page.wait_for_url("**/ui/me")
    assert await me.page.inner_text("#my-branch") == "东风汽车集团有限公司研发总院团支部"
    assert "已完成" in await me.page.inner_text("#my-transfers")
    await me.shot("me-completed")
    await me.page.click(f'#my-transfers a[href="/ui/transfers/{tid}"]')
    await me.page.wait_for_url(f"**/ui/transfers/{tid}")
    assert await me.page.inner_text("#transfer-status") == "已完成"
    assert await me.page.locator("#approve-form").count() == 0


async def test_a_forbidden_return_ground_shows_its_message(served, ui):
    tid = await _start_out(served, "whu", await served.member_of("member2"))
    await ui.login("dfm")
    await ui.goto(f"/ui/transfers/{tid}")
    page = ui.page
    await page.select_option('#return-form select[name="reason_code"]', "not_formal_employee")
    await page.fill('#return-form textarea[name="reason_text"]', "该同学不是我单位正式职工")
    await page.click('#return-form button[type="submit"]')
    await page.wait_for_load_state()
    beside = page.locator('#return-form .field-error[data-error-for="reason_code"]')
    assert (
        await beside.inner_text() == "✕ " + FORBIDDEN_GROUND_MESSAGE
        or FORBIDDEN_GROUND_MESSAGE in await beside.inner_text()
    )
    assert FORBIDDEN_GROUND_MESSAGE in await page.inner_text("#problems")
    assert await page.inner_text("#transfer-status") == "审批中"  # nothing decided
    await ui.shot("detail-forbidden-return")

    # an allowed ground returns it
    await page.select_option('#return-form select[name="reason_code"]', "form_incomplete")
    await page.fill('#return-form textarea[name="reason_text"]', "工作单位地址请填写到门牌号")
    await page.click('#return-form button[type="submit"]')
    await page.wait_for_url(f"**/ui/transfers/{tid}?done=returned")
    assert await page.inner_text("#transfer-status") == "已退回"


async def test_a_member_cannot_open_another_members_request(served, ui):
    tid = await _start_out(served, "whu", await served.member_of("member2"))
    await ui.login("member1")
    resp = await ui.goto(f"/ui/transfers/{tid}")
    assert resp.status == 404
    assert "转接申请不存在，或您无权查看" in await ui.page.inner_text("main")
    assert await served.member_of("member2") and (await served.member_of("member2")).name not in await ui.page.content()
    await ui.shot("member-404")
    for odd in ("99999999999999999999999", "abc", "-1"):
        assert (await ui.goto(f"/ui/transfers/{odd}")).status == 404
    resp = await ui.goto("/ui/ops")
    assert resp.status == 403 and "仅供组织管理员使用" in await ui.page.inner_text("main")


async def test_a_form_post_without_csrf_token_is_refused(served, ui):
    tid = await _start_out(served, "whu", await served.member_of("member3"))
    await ui.login("dfm")
    await ui.goto(f"/ui/transfers/{tid}")
    page = ui.page
    await page.evaluate("document.querySelector('#approve-form input[name=csrf_token]').remove()")
    await page.click('#approve-form button[type="submit"]')
    await page.wait_for_load_state()
    assert "安全令牌（CSRF）" in await page.inner_text("main")
    await ui.shot("csrf-refused")
    # nothing was approved, and the session is still there
    resp = await ui.goto(f"/ui/transfers/{tid}")
    assert resp.status == 200 and await page.inner_text("#transfer-status") == "审批中"
    # a forged token is refused the same way
    resp = await page.request.post(f"{ui.base_url}/ui/transfers/{tid}/approve", form={"csrf_token": "x" * 43})
    assert resp.status == 403


async def test_registers_list_and_xlsx_export(served, ui):
    from io import BytesIO

    from openpyxl import load_workbook

    await ui.login("whu")
    await ui.goto("/ui/registers?kind=delayed")
    page = ui.page
    rows = page.locator("table.register tbody tr")
    assert await rows.count() >= 1
    first = await rows.first.inner_text()
    assert "延迟毕业" in first and "********" in first
    await ui.shot("registers-delayed")
    async with page.expect_download() as info:
        await page.click("#export-xlsx")
    download = await info.value
    assert download.suggested_filename.endswith(".xlsx")
    ws = load_workbook(BytesIO(open(await download.path(), "rb").read())).active
    assert [c.value for c in ws[1]][:3] == ["序号", "姓名", "身份证号"]
    assert ws.max_row == await rows.count() + 1
    for kind in ("abroad_study", "mobile", "county_temp"):
        resp = await ui.goto(f"/ui/registers?kind={kind}")
        assert resp.status == 200


async def test_forms_and_pages_on_a_phone(served, ui_factory):
    """办理转入 and 个人发起 forms render, refuse bad input beside the field, and fit a phone."""
    phone = await ui_factory(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    await phone.goto("/ui/login")
    await phone.shot("login-phone")
    await phone.login("member4")
    await phone.page.wait_for_url("**/ui/me")
    await phone.shot("me-phone")
    await phone.goto("/ui/me/transfer")
    page = phone.page
    await page.select_option('select[name="type"]', "unemployed")
    assert await page.locator('input[name="address"]').is_visible()
    assert not await page.locator('input[name="employer_name"]').is_visible()
    await page.click("#submit-transfer")  # nothing filled in: the server says what is missing
    await page.wait_for_load_state()
    assert "未能提交" in await page.inner_text("#problems")
    assert "请填写户籍地或居住地详细地址" in await page.inner_text('[data-field="address"]')
    assert "请回答" in await page.inner_text('[data-field="partition_special"]')
    width = await page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, f"the form is wider than the phone ({width}px)"
    await phone.shot("form-self-phone")

    # filled in: 未就业 → the temp branch of the township of residence; then the member withdraws it
    await page.fill('input[name="address"]', "湖北省武汉市洪山区关山街道关山大道1号")
    for k, v in (("province", "湖北省"), ("city", "武汉市"), ("county", "洪山区"), ("township", "关山街道")):
        await page.fill(f'input[name="loc_{k}"]', v)
    await page.check('input[name="partition_special"][value="no"]')
    await page.click('[data-action="preview"]')
    await page.locator("#route-preview.ok").wait_for()
    assert "关山街道学社衔接临时团支部" in await page.inner_text("#route-preview")
    await page.click("#submit-transfer")
    await page.wait_for_url(re.compile(r"/ui/transfers/\d+\?done=started"))
    assert await page.inner_text("#transfer-status") == "审批中"
    assert await page.locator("#approve-form").count() == 0
    await page.fill('#withdraw-form input[name="reason"]', "已找到工作，另行申请")
    await page.click('#withdraw-form button[type="submit"]')
    await page.locator("#withdraw-confirm").wait_for()  # 撤回 asks first; nothing is sent yet
    assert "确认撤回该申请" in await page.inner_text("#withdraw-confirm")
    assert await page.inner_text("#transfer-status") == "审批中"
    await page.click("#withdraw-confirm-submit")
    await page.wait_for_url("**?done=withdrawn")
    assert await page.inner_text("#transfer-status") == "已撤回"
    assert "撤回申请" in await page.inner_text("#timeline")
    await phone.shot("detail-withdrawn-phone")

    admin = await ui_factory()
    await admin.login("dfm")
    await admin.goto("/ui/transfers/new/in")
    options = await admin.page.locator('select[name="target_org_code"] option').all_inner_texts()
    assert options[0] == "东风汽车集团有限公司团委"
    assert "东风汽车集团有限公司研发总院团支部" in options
    await admin.shot("form-in")


async def test_batch_approve_in_the_operations_center_on_a_phone(served, ui_factory):
    ids = [await _start_out(served, "whu", await served.member_of(u)) for u in ("member2", "member3")]
    phone = await ui_factory(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    await phone.login("dfm")
    page = phone.page
    await page.wait_for_url("**/ui/ops")
    assert await page.locator("tr[data-transfer-id]").count() == 2
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    await phone.shot("ops-phone")
    for i in ids:
        await page.check(f'input[name="ids"][value="{i}"]')
    assert await page.inner_text("#selected-count") == "已选择本页 2 条"
    await page.click("#batch-approve")
    await page.wait_for_load_state()
    assert await page.inner_text("#batch-count") == "2"  # a confirmation with the count first
    await phone.shot("ops-batch-confirm-phone")
    await page.click("#batch-confirm-submit")
    await page.locator("#batch-progress:has-text('已全部处理')").wait_for()
    results = page.locator("#batch-results tbody tr")
    assert await results.count() == 2
    assert all("审批通过" in t for t in await results.all_inner_texts())
    await phone.shot("ops-batch-phone")
    await page.click("#batch-refresh")
    await page.wait_for_load_state()
    assert await page.locator("tr[data-transfer-id]").count() == 0  # nothing left at this node
    await phone.goto("/ui/ops?scope=assign")
    assert await page.locator("tr[data-transfer-id]").count() == 2
    await phone.goto("/ui/ops?scope=all&status=awaiting_assignment")
    assert await page.locator("tr[data-transfer-id]").count() == 2


async def test_the_out_form_works_without_javascript(served, browser):
    """No JS: every field group shows, the server validates, and routing picks the target on submit."""
    member = await served.member_of("member3")
    ctx = await browser.new_context(locale="zh-CN", java_script_enabled=False)
    try:
        page = await ctx.new_page()
        await page.goto(served.base_url + "/ui/login")
        await page.fill('input[name="username"]', "whu")
        await page.fill('input[name="password"]', "zhtj-demo-2026")
        await page.click('button[type="submit"]')
        await page.wait_for_url("**/ui/ops")
        await page.goto(served.base_url + "/ui/transfers/new/out")
        await page.fill('input[name="name"]', member.name)
        await page.fill('input[name="id_number"]', member.id_number)
        await page.select_option('select[name="type"]', "employed_with_org")
        await page.fill('input[name="employer_name"]', "东风汽车集团有限公司")
        await page.click("#submit-transfer")  # address, place and the partition answer missing
        await page.wait_for_load_state()
        assert "请填写工作单位所在地详细地址" in await page.inner_text('[data-field="employer_address"]')
        assert await page.input_value('input[name="employer_name"]') == "东风汽车集团有限公司"  # kept
        await page.fill('input[name="employer_address"]', EMPLOYER_FORM["employer_address"])
        await page.fill('input[name="loc_province"]', "湖北省")
        await page.fill('input[name="loc_city"]', "武汉市")
        await page.check('input[name="partition_special"][value="no"]')
        await page.click("#submit-transfer")
        await page.wait_for_url(re.compile(r"/ui/transfers/\d+\?done=started"))
        assert "东风汽车集团有限公司团委" in await page.inner_text("main")
    finally:
        await ctx.close()
