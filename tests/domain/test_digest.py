"""The daily digest's rule (domain.digest): which nodes are overdue and which the system approves
tomorrow, whose digest they are in, the text, and when the schedule fires."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from domain.digest import (
    BODY_MAX,
    OVERDUE_AFTER_DAYS,
    TITLE_MAX,
    Digest,
    NodeKind,
    PendingNode,
    digest_key,
    digest_of,
    digests_by_admin,
    is_due_tomorrow,
    is_overdue,
    render,
    schedule_timing,
)

TODAY = date(2026, 6, 20)


def node(
    ref: int,
    *,
    waited: int,
    deadline_in: int | None = None,
    org_id: int = 4,
    org_name: str = "珞南街道团工委",
    member: str = "张三",
    kind: NodeKind = NodeKind.TRANSFER,
) -> PendingNode:
    """A node that started `waited` days before TODAY, its deadline 15 days after its start."""
    started = TODAY - timedelta(days=waited)
    deadline = TODAY + timedelta(days=deadline_in) if deadline_in is not None else started + timedelta(days=15)
    return PendingNode(kind, ref, org_id, org_name, member, started, deadline)


def test_overdue_from_the_day_of_the_ten_day_reminder():
    assert OVERDUE_AFTER_DAYS == 10


@pytest.mark.parametrize(
    ("waited", "overdue"),
    [(-1, False), (0, False), (1, False), (9, False), (10, True), (11, True), (14, True), (15, True), (30, True)],
)
def test_overdue_by_calendar_days_pending(waited, overdue):
    assert is_overdue(node(1, waited=waited), TODAY) is overdue


@pytest.mark.parametrize(
    ("deadline_in", "due"),
    [(-1, False), (0, False), (1, True), (2, False), (15, False)],
)
def test_due_tomorrow_is_the_deadline_on_the_next_calendar_day(deadline_in, due):
    assert is_due_tomorrow(node(1, waited=3, deadline_in=deadline_in), TODAY) is due


@pytest.mark.parametrize(
    ("waited", "overdue", "due"),
    [
        (9, False, False),
        (10, True, False),
        (13, True, False),
        (14, True, True),  # the 15-day deadline is tomorrow: overdue and due tomorrow
        (15, True, False),  # deadline today: the system approves it today, still pending now
    ],
)
def test_a_fifteen_day_clock_through_the_days(waited, overdue, due):
    n = node(1, waited=waited)
    assert (is_overdue(n, TODAY), is_due_tomorrow(n, TODAY)) == (overdue, due)


def test_month_and_year_ends_count_calendar_days():
    n = PendingNode(NodeKind.TRANSFER, 1, 4, "x", "y", date(2026, 12, 22), date(2027, 1, 6))
    assert n.days_pending(date(2027, 1, 1)) == 10
    assert is_overdue(n, date(2027, 1, 1))
    assert not is_overdue(n, date(2026, 12, 31))
    assert is_due_tomorrow(n, date(2027, 1, 5))


def test_digest_orders_longest_waiting_first_and_tomorrow_by_org_and_member():
    a = node(1, waited=11, member="甲")
    b = node(2, waited=14, member="乙", org_name="武汉大学团委")
    c = node(3, waited=2, deadline_in=1, member="丙", org_name="武汉大学团委")
    d = node(4, waited=3, member="丁")
    got = digest_of([a, b, c, d], TODAY)
    assert [n.ref for n in got.overdue] == [2, 1]
    assert [n.ref for n in got.due_tomorrow] == [3, 2]  # same org: by member name (丙 < 乙)
    assert not got.empty
    assert digest_of([d], TODAY).empty


# province 1 → city 2 → county 3 → township 4; school 5 under the city; org 6 elsewhere
PARENTS = {1: None, 2: 1, 3: 2, 4: 3, 5: 2, 6: None}
ADMINS = {10: 1, 20: 2, 30: 4, 40: 5, 50: 3, 60: 6, 21: 2}
A = node(1, waited=12, org_id=4)  # overdue at the township
B = node(2, waited=2, deadline_in=1, org_id=5, org_name="武汉大学团委", kind=NodeKind.RETENTION)  # due tomorrow
C = node(3, waited=3, org_id=4)  # nothing to say yet
D = node(4, waited=14, org_id=5, org_name="武汉大学团委")  # overdue and due tomorrow


@pytest.mark.parametrize(
    ("user", "overdue", "due"),
    [
        (10, [4, 1], [2, 4]),  # the province acts for everything below it
        (20, [4, 1], [2, 4]),  # the city too
        (21, [4, 1], [2, 4]),  # each admin of an org gets their own digest
        (50, [1], []),  # the county: the township below it
        (30, [1], []),  # the township: its own node
        (40, [4], [2, 4]),  # the school: its retention application and its transfer node
    ],
)
def test_each_admin_gets_the_nodes_of_their_org_and_the_orgs_below(user, overdue, due):
    got = digests_by_admin(ADMINS, PARENTS, [A, B, C, D], TODAY)
    d = got[user]
    assert d.day == TODAY
    assert [n.ref for n in d.overdue] == overdue
    assert sorted(n.ref for n in d.due_tomorrow) == sorted(due)


def test_admins_with_nothing_to_say_get_no_digest():
    got = digests_by_admin(ADMINS, PARENTS, [A, B, C, D], TODAY)
    assert 60 not in got  # an org elsewhere
    assert digests_by_admin(ADMINS, PARENTS, [C], TODAY) == {}
    assert digests_by_admin(ADMINS, PARENTS, [], TODAY) == {}


def test_a_cycle_or_an_unknown_org_ends_the_walk_up():
    parents = {1: 2, 2: 1, 7: 99}
    got = digests_by_admin({10: 1, 20: 2}, parents, [node(1, waited=12, org_id=1), node(2, waited=12, org_id=7)], TODAY)
    assert [n.ref for n in got[10].overdue] == [1]
    assert [n.ref for n in got[20].overdue] == [1]


def test_the_key_is_one_per_admin_and_calendar_day():
    assert digest_key(7, date(2026, 6, 1)) == "digest/7/2026-06-01/0"
    assert digest_key(7, date(2026, 6, 1)) != digest_key(7, date(2026, 6, 2))


def test_render_names_counts_and_each_node():
    title, body = render(digest_of([A, B, D], TODAY))
    assert title == "每日待办（6月20日）：超过10天未审批2件，明日系统默认通过2件"
    assert "截至2026-06-20" in body
    assert "明日（2026-06-21）将由系统默认通过（2件）：" in body
    assert "超过10天未审批（2件）：" in body
    assert "· 张三的转接申请，待武汉大学团委审批，已等待14天" in body
    assert "· 张三的转接申请，待珞南街道团工委审批，已等待12天" in body
    assert "· 张三的出国（境）学习研究保留团组织关系申请，待武汉大学团委审批" in body
    assert body.index("明日") < body.index("超过10天未审批（")  # the more urgent first


@pytest.mark.parametrize(
    ("nodes", "title"),
    [
        ([A], "每日待办（6月20日）：超过10天未审批1件"),
        ([B], "每日待办（6月20日）：明日系统默认通过1件"),
    ],
)
def test_render_says_only_what_there_is(nodes, title):
    t, body = render(digest_of(nodes, TODAY))
    assert t == title
    assert ("超过10天未审批（" in body) is bool(digest_of(nodes, TODAY).overdue)
    assert ("系统默认通过（" in body) is bool(digest_of(nodes, TODAY).due_tomorrow)


@pytest.mark.parametrize(("overdue", "due"), [(500, 0), (0, 500), (300, 300), (3, 400), (400, 3)])
def test_a_long_digest_fits_the_columns_and_counts_what_it_leaves_out(overdue, due):
    nodes = [node(i, waited=12, member=f"团员{i:04d}") for i in range(overdue)]
    nodes += [node(10_000 + i, waited=2, deadline_in=1, member=f"团员{i:04d}") for i in range(due)]
    d = digest_of(nodes, TODAY)
    title, body = render(d)
    assert len(title) <= TITLE_MAX
    assert len(body) <= BODY_MAX
    assert body.endswith("请到操作中心及时审批。")
    listed = body.count("\n· ")
    left_out = sum(
        int(line[len("……另有") : -len("件未列出")]) for line in body.splitlines() if line.startswith("……另有")
    )
    assert listed + left_out == overdue + due
    assert listed >= 20
    if min(overdue, due) <= 3:  # a short section is listed whole
        assert left_out == max(overdue, due) - (listed - min(overdue, due))


def test_render_keeps_to_given_lengths():
    title, body = render(digest_of([A, B, D], TODAY), title_max=10, body_max=120)
    assert len(title) <= 10
    assert len(body) <= 120


def test_an_empty_digest_renders_as_nothing_to_do():
    assert render(Digest(TODAY))[0] == "每日待办（6月20日）：无待办"


SHANGHAI_MIDNIGHT = -8 * 3600  # 1970-01-01 00:00 in Asia/Shanghai, as a Unix time


@pytest.mark.parametrize(
    ("scale", "day_began_at", "every", "offset"),
    [
        # a real day: at 00:00 UTC, which is 08:00 in Shanghai
        (1, SHANGHAI_MIDNIGHT, timedelta(days=1), timedelta(0)),
        (1, 1_780_243_200.0, timedelta(days=1), timedelta(0)),  # 2026-06-01 00:00 Shanghai
        # a rehearsed day of a second: every second (schedules fire on whole seconds)
        (86400, 1_000.25, timedelta(seconds=1), timedelta(0)),
        (86400, 1_000.75, timedelta(seconds=1), timedelta(0)),
        # a rehearsed day of 100 seconds: its 08:00 is 33 seconds in
        (864, 1_000.0, timedelta(seconds=100), timedelta(seconds=33)),
        (864, 1_050.4, timedelta(seconds=100), timedelta(seconds=83)),
        # 86.4 seconds: every 86, so that no rehearsed day goes without a run
        (1000, 0.0, timedelta(seconds=86), timedelta(seconds=28)),
        # faster than a day a second: still one run a second
        (864_000, 1_000.0, timedelta(seconds=1), timedelta(0)),
        # slower than real time
        (0.5, SHANGHAI_MIDNIGHT, timedelta(days=2), timedelta(hours=8)),
    ],
)
def test_the_schedule_fires_once_each_calendar_day_at_eight(scale, day_began_at, every, offset):
    got_every, got_offset = schedule_timing(scale, day_began_at)
    assert (got_every, got_offset) == (every, offset)
    assert timedelta(0) <= got_offset < got_every
    assert got_every.microseconds == got_offset.microseconds == 0
