"""service.bulk_start against service.intake.start_request: the same rows get the same answers.

Each bad row of the table is sent through the single path (a dry run and a real start) and in one
batch per caller (a dry run and a real start, good rows among them): the status and the field
errors (fields and Chinese messages) must be the same, and a refused row starts no workflow.
Real database, real Temporal dev server (no worker: a start only needs the server)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from typing import Any

import pytest
from sqlalchemy import select
from temporalio.service import RPCError, RPCStatusCode

from domain import idcard
from domain.transfers import Channel, TransferType
from messages.transfers import workflow_id_for
from models import Member, Org, User
from models.db import session_factory, session_scope
from models.directory import DIRECTORIES
from seed.demo import seed_demo
from service.bulk_start import BulkStartRow, bulk_start
from service.errors import ServiceError
from service.intake import StartRequest, start_request

EMPLOYED = {
    "employer_name": "东风汽车集团有限公司",
    "employer_address": "武汉市经开区",
    "location": {"province": "湖北省", "city": "武汉市"},
}
UNEMPLOYED = {
    "address": "关山街道1号",
    "location": {"province": "湖北省", "city": "武汉市", "county": "洪山区", "township": "关山街道"},
}


@dataclass
class World:
    engine: Any
    client: Any
    task_queue: str
    prefix: str
    whu: list[Member]  # WHU's graduates, one per case
    hust: Member
    old: Member  # 28 by the graduation month
    closed_temp: str  # a temporary branch that cannot receive
    users: dict[str, User]

    def kwargs(self) -> dict[str, Any]:
        return dict(directories=DIRECTORIES, task_queue=self.task_queue, id_prefix=self.prefix)


@pytest.fixture
async def world(engine, dev_env, task_queue) -> World:
    await seed_demo(engine, members=200)
    async with session_factory(engine)() as s:
        whu = list(
            (
                await s.execute(
                    select(Member)
                    .join(Org, Org.id == Member.branch_id)
                    .where(Org.code.like("WHU-%-2022-%"), Member.graduating.is_(True))
                    .order_by(Member.id)
                    .limit(40)
                )
            ).scalars()
        )
        hust = (
            await s.execute(
                select(Member)
                .join(Org, Org.id == Member.branch_id)
                .where(Org.code.like("HUST-%"))
                .order_by(Member.id)
                .limit(1)
            )
        ).scalar_one()
        closed = (
            await s.execute(
                select(Org.code)
                .where(Org.kind == "temp_branch", Org.can_receive.is_(False))
                .order_by(Org.code)
                .limit(1)
            )
        ).scalar_one()
        users = {
            u.username: u
            for u in (
                await s.execute(select(User).where(User.username.in_(["whu", "sis-whu", "member1", "dfm", "hb"])))
            ).scalars()
        }
    async with session_scope(engine) as s:  # a graduate who is 28 by 2026-07-01: not moved
        old = Member(
            id_number=idcard.make_id("420111", date(1998, 1, 1), 7),
            name="年长者",
            branch_id=whu[0].branch_id,
            graduation_year=2026,
            graduating=True,
        )
        s.add(old)
    return World(engine, dev_env.client, task_queue, f"transfer-{uuid.uuid4().hex[:8]}-", whu, hust, old, closed, users)


def out_row(m: Member, **change: Any) -> StartRequest:
    base = dict(
        id_number=m.id_number,
        name=m.name,
        type=TransferType.EMPLOYED_WITH_ORG,
        channel=Channel.OUT,
        form=EMPLOYED,
        target_org_code="DFM",
    )
    return StartRequest(**{**base, **change})


def bad_checksum(id_number: str) -> str:
    last = idcard.check_character(id_number[:17])
    return id_number[:17] + ("0" if last != "0" else "1")


#: (case, user, row from the world, expected status, a field it names)
CASES: list[tuple[str, str, Callable[[World, Member], StartRequest], int, str]] = [
    ("checksum", "whu", lambda w, m: out_row(m, id_number=bad_checksum(m.id_number)), 422, "id_number"),
    ("id length", "whu", lambda w, m: out_row(m, id_number="4201"), 422, "id_number"),
    ("name differs", "whu", lambda w, m: out_row(m, name=m.name + "某"), 422, "id_number"),
    (  # the same answer as for a member of another org: the caller learns nothing
        "no such member",
        "whu",
        lambda w, m: out_row(m, id_number=idcard.make_id("420111", date(2004, 2, 2), 999)),
        403,
        "channel",
    ),
    ("form missing", "whu", lambda w, m: out_row(m, form={"employer_address": "武汉市"}), 422, "form.employer_name"),
    ("several at once", "whu", lambda w, m: out_row(m, id_number="4201", form={}, partition="mars"), 422, "partition"),
    ("abroad study", "whu", lambda w, m: out_row(m, type=TransferType.ABROAD_STUDY, form={}), 422, "type"),
    ("unknown target", "whu", lambda w, m: out_row(m, target_org_code="NOPE"), 422, "target_org_code"),
    (
        "target of another type",
        "whu",
        lambda w, m: out_row(m, target_org_code="HB-WH-HS-GS-TMP"),
        422,
        "target_org_code",
    ),
    ("partition", "whu", lambda w, m: out_row(m, partition="beijing"), 422, "target_org_code"),
    (
        "target cannot receive",
        "whu",
        lambda w, m: out_row(m, type=TransferType.UNEMPLOYED, form=UNEMPLOYED, target_org_code=w.closed_temp),
        422,
        "target_org_code",
    ),
    (
        "no route",
        "whu",
        lambda w, m: out_row(
            m,
            type=TransferType.UNEMPLOYED,
            target_org_code=None,
            form={
                **UNEMPLOYED,
                "location": {"province": "西藏自治区", "city": "拉萨市", "county": "城关区", "township": "无名街道"},
            },
        ),
        422,
        "target_org_code",
    ),
    ("too old", "whu", lambda w, m: out_row(w.old), 422, "id_number"),
    ("not the org's member", "whu", lambda w, m: out_row(w.hust), 403, "channel"),
    ("转入 by the sending org", "whu", lambda w, m: out_row(m, channel=Channel.IN), 403, "channel"),
    ("service account, 转入", "sis-whu", lambda w, m: out_row(m, channel=Channel.IN), 403, "channel"),
    ("member, someone else's", "member1", lambda w, m: out_row(m, channel=Channel.SELF), 403, "channel"),
    ("member, 转出", "member1", lambda w, m: out_row(m, channel=Channel.OUT), 403, "channel"),
    ("another org's admin", "dfm", lambda w, m: out_row(m), 403, "channel"),
]


def _answer(e: ServiceError) -> tuple[int, list[tuple[str, str]]]:
    return e.status, [(p.field, p.message) for p in e.problems]


async def _single(w: World, user: User, req: StartRequest, *, dry_run: bool):
    try:
        await start_request(w.engine, None if dry_run else w.client, user, req, dry_run=dry_run, **w.kwargs())
    except ServiceError as e:
        return _answer(e)
    raise AssertionError("the single path accepted a bad row")


async def _not_started(w: World, member_id: int) -> None:
    handle = w.client.get_workflow_handle(workflow_id_for(member_id, w.prefix))
    with pytest.raises(RPCError) as e:
        await handle.describe()
    assert e.value.status == RPCStatusCode.NOT_FOUND


async def test_batch_and_single_paths_give_the_same_answers(world: World):
    w = world
    cases = [(name, user, build(w, w.whu[i]), status, fld) for i, (name, user, build, status, fld) in enumerate(CASES)]
    single = {name: await _single(w, w.users[user], req, dry_run=True) for name, user, req, *_ in cases}
    for name, _, _, status, fld in cases:  # each case is refused by the rule it is about
        assert single[name][0] == status and fld in [f for f, _ in single[name][1]], (name, single[name])
    # a real start through the single path refuses them the same way
    for name, user, req, *_ in cases[:3] + cases[-3:]:
        assert await _single(w, w.users[user], req, dry_run=False) == single[name], name

    # in batches (one per caller), each with a good row after the bad ones
    good = {"whu": out_row(w.whu[-1]), "sis-whu": out_row(w.whu[-2]), "dfm": None, "member1": None}
    for dry_run in (True, False):
        for user in {u for _, u, *_ in cases}:
            mine = [(name, req) for name, u, req, *_ in cases if u == user]
            rows = [BulkStartRow(req, idempotency_key=f"k-{i}") for i, (_, req) in enumerate(mine)]
            if good[user] is not None:
                rows.append(BulkStartRow(good[user], idempotency_key="good"))
            results = await bulk_start(
                w.engine, None if dry_run else w.client, w.users[user], rows, dry_run=dry_run, **w.kwargs()
            )
            assert [r.index for r in results] == list(range(len(rows)))
            for (name, _), r in zip(mine, results):
                assert not r.ok and not r.created and r.transfer_id is None, name
                assert (r.status_code, [(p.field, p.message) for p in r.errors]) == single[name], name
            if good[user] is not None:
                last = results[-1]
                single_route = (
                    await start_request(w.engine, None, w.users[user], good[user], dry_run=True, **w.kwargs())
                )[1]
                assert last.ok and last.route == single_route and not last.errors
                assert (last.status_code, last.created) == ((200, False) if dry_run else (201, True))
    for name, user, req, *_ in cases:
        member = next((m for m in [*w.whu, w.hust, w.old] if m.id_number == idcard.normalize(req.id_number)), None)
        if member is not None and member.id not in (w.whu[-1].id, w.whu[-2].id):
            await _not_started(w, member.id)


async def test_existing_and_seen_rows(world: World):
    """The member's open run answers `existing` (no transfer id yet: no worker recorded it); the
    same member again in the same batch too; nothing is started twice."""
    w = world
    whu = w.users["whu"]
    a, b = w.whu[0], w.whu[1]
    first = await bulk_start(w.engine, w.client, whu, [BulkStartRow(out_row(a), "a")], **w.kwargs())
    assert [(r.status_code, r.created, r.workflow_id) for r in first] == [(201, True, workflow_id_for(a.id, w.prefix))]
    again = await bulk_start(
        w.engine,
        w.client,
        whu,
        [
            BulkStartRow(out_row(a), "a"),  # the same key, its run not yet recorded in the database
            BulkStartRow(out_row(a, target_org_code="DFM-XY"), "other"),  # the member's open transfer
            BulkStartRow(out_row(b), "b"),
            BulkStartRow(out_row(b), "b-again"),  # the same member twice in one batch
        ],
        **w.kwargs(),
    )
    assert [(r.status_code, r.created, r.transfer_id) for r in again[:2]] == [(200, False, None), (200, False, None)]
    assert again[0].workflow_id == again[1].workflow_id == workflow_id_for(a.id, w.prefix)
    # the two rows of b race: one starts, the other finds it open
    assert sorted((r.status_code, r.created) for r in again[2:]) == [(200, False), (201, True)]
    assert again[2].workflow_id == again[3].workflow_id == workflow_id_for(b.id, w.prefix)
    # the single path finds the same open run (it waits for the record: no worker here, so only check dry runs)
    _, route = await start_request(w.engine, None, whu, out_row(a), dry_run=True, **w.kwargs())
    assert route.org_code == "DFM"
