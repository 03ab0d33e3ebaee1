"""The UI session cookie (signature, expiry, CSRF) and the forms' member lookup, without a browser."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import select

from models import Member, User
from models.db import session_factory
from seed.demo import seed_demo
from service.errors import ServiceError
from service.lookup import NOT_FOUND, lookup_member, regions
from web.ui import session as sess

KEY = "k" * 40


def test_a_session_round_trips_and_refuses_tampering_and_expiry():
    s = sess.new_session(7, 3600)
    token = sess.encode(s, KEY)
    assert sess.decode(token, KEY) == s
    assert sess.decode(token, "another key") is None
    payload, sig = token.split(".")
    forged = sess.encode(sess.UISession(uid=1, csrf=s.csrf, iat=s.iat, exp=s.exp), "guess").split(".")[0]
    assert sess.decode(f"{forged}.{sig}", KEY) is None
    assert sess.decode(token + "x", KEY) is None
    assert sess.decode("", KEY) is None and sess.decode("a.b.c", KEY) is None
    assert sess.decode(token, KEY, now=time.time() + 3601) is None


def test_csrf_tokens_are_compared_to_the_session():
    s = sess.new_session(None, 60)
    assert sess.csrf_ok(s, s.csrf)
    assert not sess.csrf_ok(s, None) and not sess.csrf_ok(s, "")
    # a token one character off (never the same character, so the check cannot pass by chance)
    off_by_one = s.csrf[:-1] + ("A" if s.csrf[-1] != "A" else "B")
    assert off_by_one != s.csrf and not sess.csrf_ok(s, off_by_one)
    assert not sess.csrf_ok(None, s.csrf)
    assert sess.new_session(None, 60).csrf != s.csrf


async def _user(engine, username: str) -> User:
    async with session_factory(engine)() as db:
        return (await db.execute(select(User).where(User.username == username))).scalar_one()


async def test_lookup_by_exact_name_and_id(engine):
    await seed_demo(engine, members=120)
    admin, m1_user, m2_user = [await _user(engine, u) for u in ("dfm", "member1", "member2")]
    async with session_factory(engine)() as db:
        m1 = await db.get(Member, m1_user.member_id)
        m2 = await db.get(Member, m2_user.member_id)

    found = await lookup_member(engine, admin, m1.name, m1.id_number.lower())  # any admin, by the pair
    assert found.name == m1.name and found.id_number_masked.count("*") == 8
    assert found.branch_name and m1.id_number not in str(found.as_dict())

    with pytest.raises(ServiceError) as wrong:
        await lookup_member(engine, admin, m2.name, m1.id_number)
    assert wrong.value.status == 404 and wrong.value.problems[0].message == NOT_FOUND

    assert (await lookup_member(engine, m1_user, m1.name, m1.id_number)).name == m1.name
    with pytest.raises(ServiceError) as other:  # a member looks up only themself
        await lookup_member(engine, m1_user, m2.name, m2.id_number)
    assert other.value.status == 403

    with pytest.raises(ServiceError) as bad:
        await lookup_member(engine, admin, "", "12345")
    assert bad.value.status == 422 and {p.field for p in bad.value.problems} == {"name", "id_number"}

    assert "湖北省" in await regions(engine, "province")
    assert "洪山区" in await regions(engine, "county", province="湖北省", city="武汉市")
