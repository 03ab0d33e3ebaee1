"""消息 in a real browser on a phone (390 px): the menu's unread badge on every page, the list with
查看申请 / 标为已读 / 全部标为已读 (each account its own read state), the landing page's counts of
what waits, and 操作中心's scope: a county sees a township's request with 本组织及全部下级 and
narrows it to that township."""

from __future__ import annotations

from typing import Any

from domain.roles import Role
from domain.transfers import Channel, TransferType
from models.db import session_scope
from service import notifications
from service.intake import StartRequest, start_request
from tests.factories import add_user, org_by_code

PHONE = {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True}
PASSWORD = "correct-horse-2026"
DFM_JOB = {
    "employer_name": "东风汽车集团有限公司",
    "employer_address": "湖北省武汉市经济技术开发区东风大道",
    "location": {"province": "湖北省", "city": "武汉市"},
}
GUANSHAN = {
    "address": "湖北省武汉市洪山区关山街道光谷大道1号",
    "location": {"province": "湖北省", "city": "武汉市", "county": "洪山区", "township": "关山街道"},
}


async def _start(served, member, **kw: Any) -> int:
    app = served.app
    req = {
        "type": TransferType.EMPLOYED_WITH_ORG,
        "form": DFM_JOB,
        "target_org_code": "DFM",
        "partition": "national",
        **kw,
    }
    result, _ = await start_request(
        served.engine,
        await app.state.temporal_client(),
        await served.user("whu"),
        StartRequest(id_number=member.id_number, name=member.name, channel=Channel.OUT, **req),
        directories=app.state.directories,
        task_queue=app.state.settings.task_queue,
        id_prefix=app.state.settings.workflow_id_prefix,
    )
    return result.view.transfer_id


async def _fits_the_phone(page) -> None:
    assert await page.evaluate("document.documentElement.scrollWidth") <= 390
    box = await page.locator("#nav-messages").bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390


async def test_badge_and_message_list_on_a_phone(served, ui_factory):
    tid = await _start(served, await served.member_of("member2"))
    async with session_scope(served.engine) as s:
        await add_user(s, "dfm-two", Role.ADMIN, org=await org_by_code(s, "DFM"))
    unread = await notifications.unread_count(served.engine, await served.user("dfm"))
    assert unread >= 1

    phone = await ui_factory(**PHONE)
    page = phone.page
    await phone.login("dfm")
    await page.wait_for_url("**/ui/ops")
    assert await page.inner_text("#unread-badge") == str(unread)
    assert await page.inner_text("#count-pending .num") == "1"  # the landing page's counts
    assert await page.inner_text("#count-messages .num") == str(unread)
    assert await page.inner_text("#count-assign .num") == "0"
    await _fits_the_phone(page)
    await phone.shot("messages-badge-phone")

    await page.click("#nav-messages")
    await page.wait_for_url("**/ui/messages")
    await _fits_the_phone(page)
    item = page.locator("li.message.unread", has_text="有新的组织关系转接申请待审批")
    assert await item.count() == 1
    assert "待审批" in await item.locator(".tag.kind").inner_text()
    await phone.shot("messages-list-phone")
    await item.locator("button.open-notice").click()  # opens the request and marks it read
    await page.wait_for_url(f"**/ui/transfers/{tid}")
    after = unread - 1
    if after:
        assert await page.inner_text("#unread-badge") == str(after)
    else:
        assert await page.locator("#unread-badge").count() == 0

    await phone.goto("/ui/messages")
    opened = page.locator("li.message", has_text="有新的组织关系转接申请待审批")
    assert "read" in (await opened.get_attribute("class")).split()
    assert await opened.locator("button.mark-read").count() == 0
    if after:
        await page.click("#read-all")
        await page.wait_for_url("**/ui/messages?done=all")
        assert "已全部标为已读" in await page.inner_text("#flash")
    assert await page.locator("#unread-badge").count() == 0
    assert await page.locator("li.message.unread").count() == 0
    await phone.goto("/ui/messages?unread=1")
    assert await page.inner_text("#no-messages") == "没有未读消息。"

    # the org's other admin still has every notice unread
    other = await ui_factory(**PHONE)
    await other.login("dfm-two", PASSWORD)
    await other.page.wait_for_url("**/ui/ops")
    assert await other.page.inner_text("#unread-badge") == str(unread)
    await other.goto("/ui/messages")
    first = other.page.locator("li.message.unread").first
    await first.locator("button.mark-read").click()
    await other.page.wait_for_url("**/ui/messages")
    if unread > 1:
        assert await other.page.inner_text("#unread-badge") == str(unread - 1)
    else:
        assert await other.page.locator("#unread-badge").count() == 0


async def test_a_county_sees_its_townships_requests_with_the_whole_subtree(served, ui_factory):
    await _start(
        served,
        await served.member_of("member3"),
        type=TransferType.UNEMPLOYED,
        form=GUANSHAN,
        target_org_code=None,
    )
    phone = await ui_factory(**PHONE)
    page = phone.page
    await phone.login("hb-wh-hs")
    await page.wait_for_url("**/ui/ops")
    assert await page.locator("tr[data-transfer-id]").count() == 0  # the township has its own admin
    assert await page.inner_text("#count-pending .num") == "0"

    await page.select_option("#filter-subtree", "1")
    await page.click("#ops-filters button[type=submit]")
    await page.wait_for_url("**/ui/ops?*subtree=1*")
    rows = page.locator("tr[data-transfer-id]")
    assert await rows.count() == 1
    assert await rows.first.locator("td.node-org").inner_text() == "洪山区关山街道团工委"
    assert await page.inner_text("#count-pending .num") == "1"
    assert "含下级" in await page.inner_text("#count-pending .label")
    await _fits_the_phone(page)
    await phone.shot("ops-subtree-phone")

    options = await page.locator("#filter-org option").all_inner_texts()
    assert "洪山区关山街道团工委（1）" in options
    await page.select_option("#filter-org", "HB-WH-HS-GS")
    await page.click("#ops-filters button[type=submit]")
    await page.wait_for_url("**/ui/ops?*org=HB-WH-HS-GS*")
    assert await rows.count() == 1

    refused = await phone.goto("/ui/ops?org=DFM")  # not an org below the county's
    assert refused.status == 403
