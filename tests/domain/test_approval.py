"""Approval chains (DOMAIN.md §5): one row per case, each asserting the nodes in order — the org
that decides, its role, and whether the initiating org's submission approved it."""

from __future__ import annotations

from dataclasses import fields
from functools import lru_cache

import pytest

from domain.approval import ChainError, approval_chain
from domain.directory import Directory, OrgInfo
from domain.orgs import OrgKind
from domain.transfers import Channel, NodeRole, TransferType
from seed.demo import build_org_tree

T = TransferType
S, SS, R, RS, P = (
    NodeRole.SENDING,
    NodeRole.SENDING_SUPERIOR,
    NodeRole.RECEIVING,
    NodeRole.RECEIVING_SUPERIOR,
    NodeRole.PROVINCIAL,
)
_FIELDS = [f.name for f in fields(OrgInfo) if f.name != "id"]


@lru_cache(maxsize=1)
def demo() -> Directory:
    return Directory(OrgInfo(**{n: getattr(o, n) for n in _FIELDS}) for o in build_org_tree())


#: (case, type, channel, member's branch, target, initiating org) → [(org, role, approved at submission)]
CASES: list[tuple[str, TransferType, Channel, str, str, str | None, list[tuple[str, NodeRole, bool]]]] = [
    (
        "转出 by the school: its college decides for the branch, approved at submission",
        T.EMPLOYED_WITH_ORG,
        Channel.OUT,
        "WHU-CS-2022-1",
        "DFM",
        "WHU",
        [("WHU-CS", S, True), ("DFM", R, False)],
    ),
    (
        "转出 by the college itself",
        T.EMPLOYED_WITH_ORG,
        Channel.OUT,
        "WHU-CS-2022-1",
        "DFM",
        "WHU-CS",
        [("WHU-CS", S, True), ("DFM", R, False)],
    ),
    (
        "个人发起: the sending side, then the receiving side; the township decides for its temp branch",
        T.UNEMPLOYED,
        Channel.SELF,
        "WHU-CS-2022-2",
        "HB-WH-HS-GS-TMP",
        None,
        [("WHU-CS", S, False), ("HB-WH-HS-GS", R, False)],
    ),
    (
        "转入 by the receiving org: it goes first, approved at submission",
        T.EMPLOYED_WITH_ORG,
        Channel.IN,
        "WHU-CS-2022-1",
        "DFM",
        "DFM",
        [("DFM", R, True), ("WHU-CS", S, False)],
    ),
    (
        "转入 into a branch by the committee above it",
        T.EMPLOYED_WITH_ORG,
        Channel.IN,
        "WHU-CS-2022-1",
        "DFM-RD",
        "DFM",
        [("DFM", R, True), ("WHU-CS", S, False)],
    ),
    (
        "转入 by an org above the receiving one",
        T.EMPLOYED_WITH_ORG,
        Channel.IN,
        "WHU-CS-2022-1",
        "DFM",
        "HB-WH",
        [("DFM", R, True), ("WHU-CS", S, False)],
    ),
    (
        "a target in another province (Beijing keeps the national chain)",
        T.UNEMPLOYED,
        Channel.OUT,
        "WHU-CS-2022-1",
        "BJ-HD-ZGC-TMP",
        "WHU",
        [("WHU-CS", S, True), ("BJ-HD-ZGC", R, False)],
    ),
    (
        "a village branch with approval authority decides itself",
        T.UNEMPLOYED,
        Channel.OUT,
        "WHU-CS-2022-1",
        "HB-WH-HS-LN-ZDQ",
        "WHU",
        [("WHU-CS", S, True), ("HB-WH-HS-LN-ZDQ", R, False)],
    ),
    (
        "升学 from another province's school into a new-student branch: the school decides",
        T.FURTHER_STUDY,
        Channel.OUT,
        "PKU-SS-2025-1",
        "WHU-NEW-2026",
        "PKU",
        [("PKU-SS", S, True), ("WHU", R, False)],
    ),
    (
        "type 8 转出: the provincial committee decides for the special-unit database",
        T.SPECIAL_UNIT,
        Channel.OUT,
        "HUST-CS-2022-1",
        "HB-SU",
        "HUST",
        [("HUST-CS", S, True), ("HB", P, False)],
    ),
    (
        "type 8 个人发起",
        T.SPECIAL_UNIT,
        Channel.SELF,
        "HUST-CS-2022-1",
        "HB-SU",
        None,
        [("HUST-CS", S, False), ("HB", P, False)],
    ),
    (
        "type 8 转入 by the province: its node comes last, after a pending one, so it waits",
        T.SPECIAL_UNIT,
        Channel.IN,
        "HUST-CS-2022-1",
        "HB-SU",
        "HB",
        [("HUST-CS", S, False), ("HB", P, False)],
    ),
    (
        "a Guangdong target: four nodes, the initiator's side approved at submission",
        T.EMPLOYED_WITH_ORG,
        Channel.OUT,
        "WHU-CS-2022-1",
        "GAC-RD",
        "WHU",
        [("WHU-CS-2022-1", S, True), ("WHU-CS", SS, True), ("GAC-RD", R, False), ("GAC", RS, False)],
    ),
    (
        "a Guangdong target, 个人发起",
        T.EMPLOYED_WITH_ORG,
        Channel.SELF,
        "WHU-CS-2022-1",
        "GAC-RD",
        None,
        [("WHU-CS-2022-1", S, False), ("WHU-CS", SS, False), ("GAC-RD", R, False), ("GAC", RS, False)],
    ),
    (
        "a Guangdong target, 转入 by the receiving committee",
        T.EMPLOYED_WITH_ORG,
        Channel.IN,
        "WHU-CS-2022-1",
        "GAC-RD",
        "GAC",
        [("GAC-RD", R, True), ("GAC", RS, True), ("WHU-CS-2022-1", S, False), ("WHU-CS", SS, False)],
    ),
    (
        "the same org on both sides decides once",
        T.FURTHER_STUDY,
        Channel.SELF,
        "WHU-CS-2022-1",
        "WHU-CS-2022-2",
        None,
        [("WHU-CS", S, False)],
    ),
]


@pytest.mark.parametrize(
    "transfer_type, channel, from_code, target_code, initiator, expected",
    [pytest.param(*case[1:], id=case[0]) for case in CASES],
)
def test_chain(transfer_type, channel, from_code, target_code, initiator, expected):
    d = demo()
    chain = approval_chain(
        d,
        transfer_type=transfer_type,
        channel=channel,
        from_org=d[from_code],
        target=d[target_code],
        initiator_org_code=initiator,
    )
    assert [(n.org_code, n.role, n.approved_at_submission) for n in chain] == expected
    assert all(n.org_name == d[n.org_code].name for n in chain)


def test_a_chain_the_initiator_alone_would_decide_is_refused():
    d = demo()
    with pytest.raises(ChainError, match="同一组织"):
        approval_chain(
            d,
            transfer_type=T.FURTHER_STUDY,
            channel=Channel.OUT,
            from_org=d["WHU-CS-2022-1"],
            target=d["WHU-CS-2022-2"],
            initiator_org_code="WHU-CS",
        )


def test_type_8_needs_a_provincial_committee_above_the_target():
    d = Directory(
        [
            OrgInfo("S", "某学校团委", OrgKind.SCHOOL, approval_authority=True),
            OrgInfo("S-1", "某班团支部", OrgKind.BRANCH, "S", branch_level=True),
            OrgInfo("U", "某特殊单位团组织", OrgKind.SPECIAL_UNIT_DB, branch_level=True),
        ]
    )
    with pytest.raises(ChainError, match="省级团委"):
        approval_chain(d, transfer_type=T.SPECIAL_UNIT, channel=Channel.SELF, from_org=d["S-1"], target=d["U"])
