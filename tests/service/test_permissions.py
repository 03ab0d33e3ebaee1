"""Who may decide, assign or withdraw: the one answer the decisions raise and the UI's action forms
show (`service.permissions`), on a directory built from literals."""

from __future__ import annotations

import pytest

from domain.directory import Directory, OrgInfo
from domain.roles import Role
from domain.transfers import Channel, TransferStatus
from models import User
from service.permissions import (
    Abilities,
    TransferFacts,
    abilities,
    admin_refusal,
    initiator_refusal,
    may_act_for,
    member_refusal,
)

DIRECTORY = Directory(
    [
        OrgInfo(code="HB", name="共青团湖北省委", kind="province", id=1),
        OrgInfo(code="WH", name="共青团武汉市委", kind="city", parent_code="HB", id=2),
        OrgInfo(code="WHU", name="武汉大学团委", kind="school", parent_code="WH", id=3),
        OrgInfo(code="WHU-B1", name="2022级1班团支部", kind="branch", parent_code="WHU", branch_level=True, id=4),
        OrgInfo(code="DFM", name="东风汽车集团有限公司团委", kind="enterprise", parent_code="WH", id=5),
    ]
)


def admin(org_id: int | None) -> User:
    return User(id=org_id or 99, username=f"admin{org_id}", password_hash="x", role=Role.ADMIN, org_id=org_id)


def member(member_id: int = 7) -> User:
    return User(id=50, username="m", password_hash="x", role=Role.MEMBER, member_id=member_id)


SERVICE = User(id=60, username="sis", password_hash="x", role=Role.SERVICE, org_id=3)


def test_an_admin_acts_for_their_org_and_the_orgs_below_it():
    assert admin_refusal(DIRECTORY, admin(3), "WHU") is None
    assert admin_refusal(DIRECTORY, admin(3), "WHU-B1") is None
    assert admin_refusal(DIRECTORY, admin(1), "DFM") is None
    above = admin_refusal(DIRECTORY, admin(3), "WH")
    assert above is not None and above.status == 403 and above.problems[0].message == "无权代表共青团武汉市委办理"
    unknown = admin_refusal(DIRECTORY, admin(3), "NOPE")
    assert unknown is not None and unknown.status == 404
    for nobody in (admin(None), member(), SERVICE):
        refusal = admin_refusal(DIRECTORY, nobody, "WHU")
        assert refusal is not None and refusal.problems[0].message == "只有组织管理员可以办理"


def test_may_act_for_counts_service_accounts_too():
    assert may_act_for(DIRECTORY, SERVICE, "WHU-B1") and may_act_for(DIRECTORY, admin(2), "WHU")
    assert not may_act_for(DIRECTORY, SERVICE, "DFM") and not may_act_for(DIRECTORY, member(), "WHU")


def test_the_initiator_of_a_self_started_transfer_is_the_member():
    kw = {"channel": Channel.SELF.value, "member_id": 7, "initiator_org_code": None}
    assert initiator_refusal(DIRECTORY, member(7), **kw) is None
    other, same = initiator_refusal(DIRECTORY, member(8), **kw), member_refusal(member(8), 7)
    assert other is not None and same is not None and other.problems == same.problems
    by_admin = initiator_refusal(DIRECTORY, admin(1), **kw)
    assert by_admin is not None and "只能由本人撤回" in by_admin.problems[0].message
    org = {"channel": Channel.OUT.value, "member_id": 7, "initiator_org_code": "WHU"}
    assert initiator_refusal(DIRECTORY, admin(2), **org) is None
    assert initiator_refusal(DIRECTORY, admin(5), **org) is not None
    by_member = initiator_refusal(DIRECTORY, member(7), **org)
    assert by_member is not None and "只能由发起组织撤回" in by_member.problems[0].message


def _facts(status: TransferStatus, channel: Channel = Channel.OUT, step: str | None = "DFM") -> TransferFacts:
    return TransferFacts(
        status=status.value,
        channel=channel.value,
        member_id=7,
        target_org_code="DFM",
        step_org_code=step,
        initiator_org_code="WHU" if channel != Channel.SELF else None,
    )


@pytest.mark.parametrize(
    ("user", "facts", "expected"),
    [
        (admin(5), _facts(TransferStatus.PENDING), Abilities(decide=True)),
        (admin(2), _facts(TransferStatus.PENDING), Abilities(decide=True, withdraw=True)),
        (admin(3), _facts(TransferStatus.PENDING), Abilities(withdraw=True)),
        (admin(3), _facts(TransferStatus.PENDING, step=None), Abilities(withdraw=True)),
        (admin(5), _facts(TransferStatus.AWAITING_ASSIGNMENT, step=None), Abilities(assign=True)),
        (admin(3), _facts(TransferStatus.RETURNED, step=None), Abilities(withdraw=True)),
        (admin(3), _facts(TransferStatus.COMPLETED, step=None), Abilities()),
        (member(7), _facts(TransferStatus.PENDING, Channel.SELF), Abilities(withdraw=True)),
        (member(8), _facts(TransferStatus.PENDING, Channel.SELF), Abilities()),
        (member(7), _facts(TransferStatus.PENDING), Abilities()),
        (admin(1), _facts(TransferStatus.PENDING, Channel.SELF), Abilities(decide=True)),
        (SERVICE, _facts(TransferStatus.PENDING), Abilities()),
    ],
)
def test_abilities_are_the_decisions_refusals(user, facts, expected):
    assert abilities(DIRECTORY, user, facts) == expected
