"""The message centre's reads and read marks (`service.notifications`) and who handles an org's
work (`permissions.acting_ids`: the org and the orgs below it without an admin account of their
own), on a small directory in the database."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import select, update

from domain.orgs import OrgKind
from domain.roles import Role
from models import Notification, NotificationRead, Org, User
from models.db import session_factory, session_scope
from service import notifications
from service.errors import ServiceError
from service.permissions import acting_ids, subtree_ids
from tests.factories import add_member, add_org, add_user

T0 = datetime(2026, 7, 1, 8, 0, tzinfo=UTC)


@pytest.fixture
async def tree(engine):
    """P (province) → C (county) → T (a township without an admin account) → TB (its temp branch)
    and V (a village with one) → VB; C → B (a branch). Admins: P, C (two), V. A member in TB."""
    async with session_scope(engine) as s:
        p = await add_org(s, "P", OrgKind.PROVINCE)
        c = await add_org(s, "C", OrgKind.COUNTY, parent=p)
        t = await add_org(s, "T", OrgKind.TOWNSHIP, parent=c)
        tb = await add_org(s, "TB", OrgKind.TEMP_BRANCH, parent=t)
        v = await add_org(s, "V", OrgKind.VILLAGE, parent=t)
        vb = await add_org(s, "VB", OrgKind.BRANCH, parent=v)
        b = await add_org(s, "B", OrgKind.BRANCH, parent=c)
        m = await add_member(s, tb)
        users = {
            "p": await add_user(s, "p", Role.ADMIN, org=p),
            "c1": await add_user(s, "c1", Role.ADMIN, org=c),
            "c2": await add_user(s, "c2", Role.ADMIN, org=c),
            "v": await add_user(s, "v", Role.ADMIN, org=v),
            "m": await add_user(s, "m", Role.MEMBER, member=m),
            "svc": await add_user(s, "svc", Role.SERVICE, org=c),
        }
        orgs = {o.code: o.id for o in (p, c, t, tb, v, vb, b)}
    return orgs, users, m.id


async def _notice(engine, org_id: int | None = None, *, member_id: int | None = None, n: int = 0) -> int:
    async with session_scope(engine) as s:
        row = Notification(
            key=f"test/{org_id}/{member_id}/{n}",
            kind="node_pending",
            recipient_org_id=org_id,
            member_id=member_id,
            title="有新的组织关系转接申请待审批",
            body=f"第{n}条",
            created_at=T0 + timedelta(minutes=n),
        )
        s.add(row)
        await s.flush()
        return row.id


async def _codes(engine, stmt) -> set[str]:
    async with session_factory(engine)() as s:
        return set((await s.execute(select(Org.code).where(Org.id.in_(stmt)))).scalars())


async def test_an_admin_handles_the_orgs_below_without_an_admin_of_their_own(engine, tree):
    orgs, _, _ = tree
    assert await _codes(engine, acting_ids(orgs["C"])) == {"C", "T", "TB", "B"}  # not V's, nor below it
    assert await _codes(engine, acting_ids(orgs["P"])) == {"P"}
    assert await _codes(engine, acting_ids(orgs["V"])) == {"V", "VB"}
    assert await _codes(engine, subtree_ids(orgs["C"])) == {"C", "T", "TB", "V", "VB", "B"}
    # an inactive admin account is no account: V's work falls to the county
    async with session_scope(engine) as s:
        await s.execute(update(User).where(User.username == "v").values(active=False))
    assert await _codes(engine, acting_ids(orgs["C"])) == {"C", "T", "TB", "V", "VB", "B"}


async def test_each_account_reads_the_notices_it_handles(engine, tree):
    orgs, users, member_id = tree
    to_branch = await _notice(engine, orgs["TB"])
    to_village = await _notice(engine, orgs["VB"], n=1)
    to_county = await _notice(engine, orgs["C"], n=2)
    to_member = await _notice(engine, member_id=member_id, n=3)

    async def ids(who: str) -> list[int]:
        page = await notifications.notice_page(engine, users[who])
        return [i["id"] for i in page.items]

    assert await ids("c1") == [to_county, to_branch]  # newest first
    assert await ids("c2") == [to_county, to_branch]
    assert await ids("v") == [to_village]
    assert await ids("p") == []  # a committee further up does not get the county's notices
    assert await ids("m") == [to_member]
    assert await ids("svc") == []
    page = await notifications.notice_page(engine, users["c1"])
    first = page.items[1]
    assert (first["org_code"], first["org_name"], first["transfer_id"]) == ("TB", "TB团组织", None)
    assert first["text"] == "有新的组织关系转接申请待审批：第0条" and first["read_at"] is None
    assert page.total == 2 and page.unread == 2


async def test_read_state_is_kept_per_account(engine, tree):
    orgs, users, _ = tree
    first = await _notice(engine, orgs["TB"])
    second = await _notice(engine, orgs["C"], n=1)
    c1, c2 = users["c1"], users["c2"]
    assert await notifications.mark_read(engine, c1, first) == 1
    assert await notifications.mark_read(engine, c1, first) == 0  # once
    assert await notifications.unread_count(engine, c1) == 1
    assert await notifications.unread_count(engine, c2) == 2
    unread = await notifications.notice_page(engine, c1, unread_only=True)
    assert [i["id"] for i in unread.items] == [second] and unread.total == unread.unread == 1
    read = next(i for i in (await notifications.notice_page(engine, c1)).items if i["id"] == first)
    assert read["read_at"] is not None
    async with session_factory(engine)() as s:
        assert (await s.get(Notification, first)).read_at is None
        assert len((await s.execute(select(NotificationRead))).scalars().all()) == 1
    with pytest.raises(ServiceError) as refused:
        await notifications.mark_read(engine, users["v"], first)
    assert refused.value.status == 404 and refused.value.problems[0].field == "id"
    with pytest.raises(ServiceError):
        await notifications.mark_read(engine, c1, 999_999)


async def test_the_badge_counts_at_most_its_cap_and_read_all_is_per_account(engine, tree):
    orgs, users, _ = tree
    for n in range(notifications.BADGE_CAP + 5):
        await _notice(engine, orgs["B"], n=n)
    c1, c2 = users["c1"], users["c2"]
    assert await notifications.unread_badge(engine, c1) == notifications.BADGE_CAP
    assert await notifications.unread_count(engine, c1) == notifications.BADGE_CAP + 5
    assert await notifications.mark_all_read(engine, c1) == notifications.BADGE_CAP + 5
    assert await notifications.mark_all_read(engine, c1) == 0
    assert await notifications.unread_badge(engine, c1) == 0
    assert await notifications.unread_badge(engine, c2) == notifications.BADGE_CAP
    page = await notifications.notice_page(engine, c2, page=6, page_size=20)
    assert len(page.items) == 5 and page.total == notifications.BADGE_CAP + 5
