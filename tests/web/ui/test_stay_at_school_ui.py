"""DOMAIN.md §6 in a real browser (Debian's chromium): a member applies for the abroad-study
retention from 个人中心, the school finds the link from 办理转出, decides it in 保留申请, sees the
member in the register and its XLSX export; a 办理转出 for the member is refused (409) until the
school releases them in 学社衔接名册; the roster marks 流动 members chosen across pages after
07-25 (refused before) and 延迟毕业 members chosen with "select all matching".

The calendar is pinned with a rehearsal date (ZHTJ_REHEARSAL_START)."""

from __future__ import annotations

import io
import re
import time
from datetime import date

import openpyxl
import pytest
from sqlalchemy import select

from core.settings import reset_settings_cache
from domain import idcard
from domain.holdings import MOBILE_TOO_EARLY_MESSAGE
from models import Member, Org
from models.db import session_factory

EMPLOYER_FORM = {
    "employer_name": "东风汽车集团有限公司",
    "employer_address": "湖北省武汉市经济技术开发区东风大道特1号",
}


def pin(monkeypatch, day: date) -> None:
    monkeypatch.setenv("ZHTJ_REHEARSAL_START", day.isoformat())
    monkeypatch.setenv("ZHTJ_REHEARSAL_EPOCH", str(time.time()))
    reset_settings_cache()


@pytest.fixture(autouse=True)
def july_26(monkeypatch):
    pin(monkeypatch, date(2026, 7, 26))
    yield
    monkeypatch.delenv("ZHTJ_REHEARSAL_START")
    reset_settings_cache()


async def _fill_out_form(page, member) -> None:
    """办理转出 to 东风 for the member (the form of tests/web/ui/test_ui_flow.py)."""
    await page.fill('input[name="name"]', member.name)
    await page.fill('input[name="id_number"]', member.id_number)
    await page.select_option('select[name="type"]', "employed_with_org")
    await page.fill('input[name="employer_name"]', EMPLOYER_FORM["employer_name"])
    await page.fill('input[name="employer_address"]', EMPLOYER_FORM["employer_address"])
    await page.fill('input[name="loc_province"]', "湖北省")
    await page.fill('input[name="loc_city"]', "武汉市")
    await page.check('input[name="partition_special"][value="no"]')
    await page.fill("#org-q", "东风汽车集团有限公司团委")
    await page.locator('#target-org option[value="DFM"]').wait_for(state="attached")
    await page.select_option("#target-org", "DFM")


async def _members(served, where) -> list[Member]:
    async with session_factory(served.engine)() as s:
        return list(
            (
                await s.execute(
                    select(Member)
                    .join(Org, Org.id == Member.branch_id)
                    .where(where)
                    .order_by(Org.code, Member.name, Member.id)
                )
            ).scalars()
        )


async def test_retention_applied_decided_registered_and_a_transfer_refused_until_released(served, ui_factory):
    member = await served.member_of("member1")
    masked = idcard.mask(member.id_number)

    # 个人中心 → 申请保留团组织关系: the form knows who is applying
    me = await ui_factory()
    await me.login("member1")
    await me.page.wait_for_url("**/ui/me")
    page = me.page
    await page.click("#apply-retention")
    await page.wait_for_url("**/ui/me/retention")
    assert await page.input_value('input[name="id_number"]') == member.id_number
    assert await page.locator('input[name="name"]').get_attribute("readonly") is not None
    await page.fill('input[name="abroad_place"]', "英国伦敦 帝国理工学院")
    await page.fill('input[name="abroad_from"]', "2026-09-01")
    await page.fill('input[name="abroad_to"]', "2027-09-30")
    await page.fill('input[name="contact_name"]', "张建国")
    await page.fill('input[name="contact_phone"]', "12")
    await page.click("#submit-retention")
    await page.locator('[data-error-for="contact_phone"]').wait_for()  # refused beside the field
    await page.fill('input[name="contact_phone"]', "13907100001")
    await page.click("#submit-retention")
    await page.wait_for_url(re.compile(r"/ui/retentions/\d+\?done=submitted"))
    rid = int(re.search(r"/ui/retentions/(\d+)", page.url).group(1))
    assert await page.inner_text("#retention-status") == "待审批"
    assert await page.locator("#withdraw-form").count() == 1 and await page.locator("#approve-form").count() == 0
    await me.shot("retention-submitted")
    await me.goto("/ui/me")
    assert "待审批" in await page.inner_text("#my-retentions")
    assert await page.locator("#retention-holds").is_visible() and await page.locator("#apply-retention").count() == 0

    # the school: 办理转出 with 出国（境）学习研究 links to the application form
    school = await ui_factory()
    await school.login("whu")
    page = school.page
    await school.goto("/ui/transfers/new/out")
    await page.select_option('select[name="type"]', "abroad_study")
    await page.click("#retention-link")
    await page.wait_for_url("**/ui/retentions/new")
    assert await page.locator('input[name="id_number"]').get_attribute("readonly") is None

    # 保留申请: the school committee decides
    await school.goto("/ui/retentions")
    row = page.locator(f'tr[data-retention-id="{rid}"]')
    text = await row.inner_text()
    assert member.name in text and masked in text and member.id_number not in text
    await school.shot("retentions-pending")
    await row.locator("a.btn").click()
    await page.wait_for_url(f"**/ui/retentions/{rid}")
    await page.fill('#approve-form textarea[name="comment"]', "同意保留")
    await page.click('#approve-form button[type="submit"]')
    await page.wait_for_url(f"**/ui/retentions/{rid}?done=approved")
    assert await page.inner_text("#retention-status") == "已审批备案"
    assert "出国（境）学习研究团员团支部" in await page.inner_text("#retention-branch")
    await school.shot("retention-approved")

    # the register, and its export with the whole 身份证号 for the school
    await school.goto("/ui/registers?kind=abroad_study")
    table = await page.inner_text("table.register")
    assert member.name in table and masked in table and member.id_number not in table
    async with page.expect_download() as download:
        await page.click("#export-xlsx")
    path = await (await download.value).path()
    rows = [list(r) for r in openpyxl.load_workbook(io.BytesIO(path.read_bytes())).active.iter_rows(values_only=True)]
    assert rows[0][:3] == ["序号", "姓名", "身份证号"] and [r[1:3] for r in rows[1:]] == [
        [member.name, member.id_number]
    ]
    await school.goto("/ui/registers?kind=special_unit")
    assert "特殊单位专属库团员登记册" in await page.inner_text("nav.tabs")

    # a 办理转出 for the member is refused, naming the flow that holds them
    await school.goto("/ui/transfers/new/out")
    await _fill_out_form(page, member)
    await page.click("#submit-transfer")
    await page.locator("#problems").wait_for()
    assert "已保留在学校（出国（境）学习研究" in await page.inner_text("#problems")
    assert page.url.endswith("/ui/transfers/new/out")

    # 学社衔接名册: find the member, release them (back from abroad), with a confirmation
    await school.goto("/ui/roster")
    await page.fill('input[name="q"]', member.name)
    await page.click("#roster-search")
    await page.locator(f'tr[data-member-id="{member.id}"]').wait_for()
    assert "出国（境）学习研究保留" in await page.inner_text(f'tr[data-member-id="{member.id}"]')
    await page.check(f'tr[data-member-id="{member.id}"] input[name="member_id"]')
    await page.click("#action-release_abroad")
    await page.wait_for_url("**/ui/roster/confirm")
    assert member.name in await page.inner_text("#confirm-list")
    await school.shot("roster-confirm")
    await page.click("#confirm-apply")
    await page.wait_for_url("**/ui/roster/apply")
    assert "成功 1 人" in await page.inner_text("#result-summary")
    assert await page.locator('#result-list tr[data-ok="true"]').count() == 1
    await school.shot("roster-result")
    await school.goto(f"/ui/retentions/{rid}")
    assert await page.inner_text("#retention-status") == "已解除保留"

    # released: the transfer starts
    await school.goto("/ui/transfers/new/out")
    await _fill_out_form(page, member)
    await page.click("#submit-transfer")
    await page.wait_for_url(re.compile(r"/ui/transfers/\d+\?done=started"))


async def test_roster_marks_mobile_across_pages_after_0725_and_delayed_by_select_all(served, ui_factory, monkeypatch):
    graduates = await _members(served, Org.code.like("WHU-%-2022-%"))
    assert len(graduates) > 100  # more than two pages of 50
    first, second = graduates[0], graduates[60]

    school = await ui_factory()
    await school.login("whu")
    page = school.page

    async def choose(members: list[Member], action: str) -> None:
        """Page 1: tick the first; page 2: tick the second; back on page 1 the first is kept."""
        await school.goto("/ui/roster")
        await page.select_option('select[name="year"]', "2026")
        await page.click("#roster-search")
        await page.check(f'tr[data-member-id="{members[0].id}"] input[name="member_id"]')
        await page.click("#next-page")
        await page.locator(f'tr[data-member-id="{members[1].id}"]').wait_for()
        await page.check(f'tr[data-member-id="{members[1].id}"] input[name="member_id"]')
        await page.click("#prev-page")
        await page.locator(f'tr[data-member-id="{members[0].id}"]').wait_for()
        assert await page.is_checked(f'tr[data-member-id="{members[0].id}"] input[name="member_id"]')
        assert await page.inner_text("#selected-count") == "2"
        await page.click(f"#action-{action}")
        await page.wait_for_url("**/ui/roster/confirm")
        listed = await page.inner_text("#confirm-list")
        assert all(m.name in listed for m in members) and "2 人" in await page.inner_text("#confirm-apply")

    # before 07-25: refused with the notice's words, per member
    pin(monkeypatch, date(2026, 7, 24))
    await choose([first, second], "mobile")
    await page.click("#confirm-apply")
    await page.wait_for_url("**/ui/roster/apply")
    assert "未成功 2 人" in await page.inner_text("#result-summary")
    assert MOBILE_TOO_EARLY_MESSAGE in await page.inner_text("#result-list")

    pin(monkeypatch, date(2026, 7, 26))
    await choose([first, second], "mobile")
    await page.click("#confirm-apply")
    await page.wait_for_url("**/ui/roster/apply")
    assert "成功 2 人" in await page.inner_text(
        "#result-summary"
    ) and "毕业学生流动团员团支部" in await page.inner_text("#result-list")
    await page.click("#to-register")
    await page.wait_for_url("**/ui/registers?kind=mobile")
    table = await page.inner_text("table.register")
    assert first.name in table and second.name in table

    # "select all matching": a class branch marked 延迟毕业 at once
    branch = await _members(served, Org.code == "WHU-EM-2022-3")
    await school.goto("/ui/roster")
    await page.select_option('select[name="branch"]', "WHU-EM-2022-3")
    await page.click("#roster-search")
    await page.check("#all-matching")
    await page.click("#action-delayed")
    await page.wait_for_url("**/ui/roster/confirm")
    assert await page.locator("#confirm-list tbody tr").count() == len(branch)
    assert await page.input_value('input[name="graduation_year"]') == "2027"
    await page.click("#confirm-apply")
    await page.wait_for_url("**/ui/roster/apply")
    assert f"成功 {len(branch)} 人" in await page.inner_text("#result-summary")
    await school.goto("/ui/registers?kind=delayed")
    table = await page.inner_text("table.register")
    assert all(m.name in table for m in branch)
    await school.shot("register-delayed")

    # on a phone: the roster's rows are cards, still chosen and acted on
    phone = await ui_factory(viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True)
    await phone.login("whu")
    await phone.goto("/ui/roster")
    await phone.page.select_option('select[name="branch"]', "WHU-DLY")  # where they are now
    await phone.page.click("#roster-search")
    await phone.page.check(f'tr[data-member-id="{branch[0].id}"] input[name="member_id"]')
    assert await phone.page.locator("#action-release_delayed").is_visible()
    await phone.shot("roster-phone")
