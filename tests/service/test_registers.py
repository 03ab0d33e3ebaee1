"""The special registers (DOMAIN.md §6): scope (an org and everything below it), the overdue
flag, masked 身份证号, and the XLSX export with Chinese headers.

The rows are put in directly here (the workflows that write them are tested end to end in
tests/workflows/test_stay_at_school.py)."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import openpyxl
import pytest
from sqlalchemy import select

from domain import idcard
from domain.holdings import RegisterKind
from models import Member, Org
from models.db import session_factory, session_scope
from models.tables import AbroadRetention, Holding
from seed.demo import seed_demo
from service import register_export, registers, roster
from service.errors import ServiceError

NOW = datetime(2027, 3, 1, 4, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@pytest.fixture
async def db(engine):
    await seed_demo(engine, members=200)
    return engine


async def _org(engine, code: str) -> Org:
    async with session_factory(engine)() as s:
        return (await s.execute(select(Org).where(Org.code == code))).scalar_one()


async def _members(engine, prefix: str, n: int) -> list[Member]:
    async with session_factory(engine)() as s:
        return list(
            (
                await s.execute(
                    select(Member)
                    .join(Org, Org.id == Member.branch_id)
                    .where(Org.code.like(f"{prefix}%"))
                    .order_by(Member.id)
                    .limit(n)
                )
            ).scalars()
        )


async def _holding(
    engine,
    member: Member,
    kind: str,
    branch: str,
    notify: str,
    *,
    due: datetime,
    status: str = "active",
    reminders: int = 0,
) -> None:
    b, o = await _org(engine, branch), await _org(engine, notify)
    async with session_scope(engine) as s:
        s.add(
            Holding(
                workflow_id=f"holding-{kind}-{member.id}",
                run_id=f"run-{kind}-{member.id}",
                member_id=member.id,
                kind=kind,
                org_id=b.id,
                notify_org_id=o.id,
                from_branch_id=member.branch_id,
                status=status,
                started_at=due - 180 * DAY,
                due_at=due,
                reminders_sent=reminders,
                released_at=NOW - DAY if status == "released" else None,
            )
        )


async def test_holding_registers_by_scope_with_the_overdue_flag(db):
    w1, w2, w3 = await _members(db, "WHU-", 3)
    (h1,) = await _members(db, "HUST-", 1)
    c1, c2 = await _members(db, "HUST-EE-", 2)
    await _holding(db, w1, "mobile", "WHU-MOB", "WHU", due=NOW - DAY)  # end passed, workflow lagging
    await _holding(db, w2, "mobile", "WHU-MOB", "WHU", due=NOW + 20 * DAY, reminders=1)
    await _holding(db, w3, "mobile", "WHU-MOB", "WHU", due=NOW - 30 * DAY, status="released")
    await _holding(db, h1, "mobile", "HUST-MOB", "HUST", due=NOW - 3 * DAY, status="overdue", reminders=2)
    await _holding(db, c1, "county_temp", "HB-WH-JX-TMP", "HB-WH-JX", due=NOW + 100 * DAY)
    await _holding(db, c2, "county_temp", "HB-WH-JX-TMP", "HB-WH-JX", due=NOW - 2 * DAY, status="overdue")

    rows = await registers.mobile_register(db, "WHU", now=NOW)
    assert [(r.member_id, r.overdue, r.status_label) for r in rows] == [
        (w1.id, True, "已超期"),
        (w2.id, False, "保留中"),
    ]
    r = rows[1]
    assert r.id_number_masked == idcard.mask(w2.id_number) and r.id_number_masked != w2.id_number
    assert (r.org_code, r.responsible_org, r.reminders_sent) == ("WHU-MOB", "武汉大学团委", 1)
    assert r.due_on == (NOW + 20 * DAY).date() and r.kind == RegisterKind.MOBILE
    assert {r.member_id for r in await registers.mobile_register(db, "HB", now=NOW)} == {w1.id, w2.id, h1.id}
    assert [r.member_id for r in await registers.mobile_register(db, "HUST", now=NOW)] == [h1.id]
    assert [r.member_id for r in await registers.mobile_register(db, "WHU-MOB", now=NOW)] == [w1.id, w2.id]
    assert await registers.mobile_register(db, "DFM", now=NOW) == []
    assert {r.member_id for r in await registers.mobile_register(db, "WHU", now=NOW, include_released=True)} == {
        w1.id,
        w2.id,
        w3.id,
    }
    assert [r.member_id for r in await registers.mobile_register(db, "HB", now=NOW, overdue_only=True)] == [
        h1.id,
        w1.id,
    ]

    county = await registers.county_temp_register(db, "HB-WH", now=NOW)
    assert [(r.member_id, r.overdue) for r in county] == [(c2.id, True), (c1.id, False)]
    assert county[0].responsible_org == "共青团武汉市江夏区委员会" and county[0].org_code == "HB-WH-JX-TMP"
    assert await registers.county_temp_register(db, "HB-WH-HS", now=NOW) == []
    assert await registers.county_temp_register(db, "WHU", now=NOW) == []

    overdue = await registers.overdue_register(db, "HB", now=NOW)
    assert [(r.kind, r.member_id) for r in overdue] == [
        (RegisterKind.MOBILE, h1.id),
        (RegisterKind.COUNTY_TEMP, c2.id),
        (RegisterKind.MOBILE, w1.id),
    ]
    assert await registers.register(db, "county_temp", "HB-WH-JX", now=NOW) == county


async def test_abroad_study_register_lists_approved_applications(db):
    a, b = await _members(db, "WHU-LAW-", 2)
    school, abr = await _org(db, "WHU"), await _org(db, "WHU-ABR")
    async with session_scope(db) as s:
        for m, status, to in ((a, "approved", date(2027, 6, 30)), (b, "pending", date(2027, 6, 30))):
            s.add(
                AbroadRetention(
                    workflow_id=f"retention-{m.id}",
                    run_id=f"run-{m.id}",
                    member_id=m.id,
                    school_id=school.id,
                    from_branch_id=m.branch_id,
                    branch_id=abr.id if status == "approved" else None,
                    abroad_place="美国波士顿",
                    abroad_from=date(2026, 9, 1),
                    abroad_to=to,
                    contact_name="李红",
                    contact_phone="027-87654321",
                    status=status,
                    registered_at=NOW if status == "approved" else None,
                )
            )
        await s.execute(
            Member.__table__.update().where(Member.id == a.id).values(branch_id=abr.id, abroad_retention=True)
        )
    (r,) = await registers.abroad_study_register(db, "WHU", today=date(2027, 6, 30))
    assert (r.member_id, r.org_code, r.abroad_place, r.contact_phone, r.overdue) == (
        a.id,
        "WHU-ABR",
        "美国波士顿",
        "027-87654321",
        False,
    )
    assert r.started_on == NOW.date() and r.status_label == "已审批备案"
    (r,) = await registers.abroad_study_register(db, "WHU", today=date(2027, 7, 1))
    assert r.overdue  # the stay abroad the application gave is over
    assert await registers.abroad_study_register(db, "HUST") == []

    data = register_export.export_xlsx([r], RegisterKind.ABROAD_STUDY)
    ws = openpyxl.load_workbook(io.BytesIO(data)).active
    assert ws.title == "出国（境）学习研究团员登记册"
    header, row = [list(x) for x in ws.iter_rows(values_only=True)]
    assert header == register_export.headers("abroad_study")
    assert header == [
        "序号",
        "姓名",
        "身份证号",
        "学校团委",
        "所在团支部",
        "境外学习研究地点",
        "出国（境）开始日期",
        "出国（境）结束日期",
        "境内联系人",
        "境内联系人联系方式",
        "登记备案日期",
        "审批方式",
        "是否已过境外学习期限",
    ]
    assert row[:3] == [1, a.name, idcard.mask(a.id_number)]
    assert row[6] == datetime(2026, 9, 1) and row[11] == "学校团委审批" and row[12] == "是"
    assert a.id_number not in str(header + row)


async def test_delayed_register_and_every_export(db):
    rows = await registers.delayed_register(db, "WHU")
    assert rows and all(r.org_code == "WHU-DLY" and r.status_label == "延迟毕业" for r in rows)
    assert all(r.started_on is None for r in rows)  # seeded: no marking in the history
    assert await registers.delayed_register(db, "HUST") == []
    assert [r.member_id for r in await registers.delayed_register(db, "HB")] == [r.member_id for r in rows]
    for kind in RegisterKind:
        data = register_export.export_xlsx(rows if kind == RegisterKind.DELAYED else [], kind)
        values = [list(x) for x in openpyxl.load_workbook(io.BytesIO(data)).active.iter_rows(values_only=True)]
        assert values[0] == register_export.headers(kind) and values[0][:3] == ["序号", "姓名", "身份证号"]
        if kind == RegisterKind.DELAYED:
            assert [v[2] for v in values[1:]] == [r.id_number_masked for r in rows]
            assert all("*" in v[2] for v in values[1:])
        else:
            assert len(values) == 1
    with pytest.raises(ValueError):
        register_export.export_xlsx(rows, RegisterKind.MOBILE)


async def test_unknown_org_is_404(db):
    with pytest.raises(ServiceError) as info:
        await registers.mobile_register(db, "NOPE")
    assert info.value.status == 404


async def _user(engine, username: str):
    from models import User

    async with session_factory(engine)() as s:
        return (await s.execute(select(User).where(User.username == username))).scalar_one()


async def test_roster_search_filters_pages_and_select_all(db):
    whu = await _org(db, "WHU")
    f = roster.RosterFilter()
    page = await roster.roster_page(db, whu.id, f, page=1, page_size=10)
    assert page.total > 20 and page.pages == -(-page.total // 10) and len(page.items) == 10
    assert all("*" in i.id_number_masked for i in page.items)
    assert ("WHU-CS-2022-1", "武汉大学计算机学院2022级1班团支部") in page.branches and 2026 in page.years
    last = await roster.roster_page(db, whu.id, f, page=999, page_size=10)
    assert last.page == last.pages  # clamped

    m = page.items[0]
    by_name = await roster.roster_page(db, whu.id, roster.RosterFilter(q=m.name[1:]))
    assert m.member_id in [i.member_id for i in by_name.items]
    (member,) = [x for x in await _members(db, m.branch_code, 50) if x.id == m.member_id]
    by_id = await roster.roster_page(db, whu.id, roster.RosterFilter(q=member.id_number.lower()))
    assert [i.member_id for i in by_id.items] == [m.member_id]
    assert (
        await roster.roster_page(db, (await _org(db, "HUST")).id, roster.RosterFilter(q=member.id_number))
    ).total == 0

    in_branch = await roster.roster_page(db, whu.id, roster.RosterFilter(branch="WHU-CS"))
    assert in_branch.total and all(i.branch_code.startswith("WHU-CS-") for i in in_branch.items)
    delayed = await roster.roster_page(db, whu.id, roster.RosterFilter(year=2027))
    assert delayed.total and all(i.graduation_year == 2027 and "延迟毕业" in i.flags for i in delayed.items)

    ids, total = await roster.roster_member_ids(db, whu.id, roster.RosterFilter(branch="WHU-CS"), limit=3)
    assert total == in_branch.total and len(ids) == min(3, total)
    chosen = await roster.roster_members(db, whu.id, [*ids, 10**6])
    assert [i.member_id for i in chosen] == ids  # in the page's order; unknown ids left out
    assert await roster.roster_members(db, (await _org(db, "HUST")).id, ids) == []


async def test_whole_ids_follow_may_see_whole_id(db):
    (a,) = await _members(db, "WHU-CS-", 1)
    (h,) = await _members(db, "HUST-", 1)
    ids = [a.id, h.id]
    assert await registers.whole_ids(db, await _user(db, "whu"), ids) == {a.id: a.id_number}
    assert await registers.whole_ids(db, await _user(db, "hb"), ids) == {a.id: a.id_number, h.id: h.id_number}
    assert await registers.whole_ids(db, await _user(db, "dfm"), ids) == {}
    assert await registers.whole_ids(db, await _user(db, "sis-whu"), ids) == {}  # not an admin
    me = await _user(db, "member1")
    assert await registers.whole_ids(db, me, [me.member_id, h.id]) == {
        me.member_id: (await _member_row(db, me.member_id)).id_number
    }


async def _member_row(engine, member_id: int) -> Member:
    async with session_factory(engine)() as s:
        return await s.get(Member, member_id)


async def test_org_scope_answers_403_and_404(db):
    whu = await _user(db, "whu")
    assert (await registers.org_scope(db, whu, None))[1:] == ("WHU", "武汉大学团委")
    assert (await registers.org_scope(db, whu, "WHU-CS"))[1] == "WHU-CS"
    for user, org, status in ((whu, "HUST", 403), (whu, "NOPE", 404), (await _user(db, "member1"), None, 403)):
        with pytest.raises(ServiceError) as info:
            await registers.org_scope(db, user, org)
        assert info.value.status == status and info.value.problems[0].field == "org"
