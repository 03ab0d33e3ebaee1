"""The whole demo dataset (`build_demo_dataset`), pure: the same seed gives the same orgs,
members (names, 身份证号, addresses, phones) and users, byte for byte. The org tree does not
depend on the seed; members do."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass

from domain.roles import Role
from seed.data import DEFAULT_MEMBERS, DEFAULT_SEED, MEMBER_LOGINS, SCHOOLS, SERVICE_USERNAME
from seed.people import MemberSeed, build_members
from seed.tree import OrgSeed, build_org_tree


@dataclass(frozen=True)
class UserSeed:
    username: str
    role: Role
    display_name: str
    org_code: str | None = None
    member_id_number: str | None = None


@dataclass(frozen=True)
class DemoDataset:
    seed: int
    orgs: tuple[OrgSeed, ...]
    members: tuple[MemberSeed, ...]
    users: tuple[UserSeed, ...]

    def org(self, code: str) -> OrgSeed:
        for o in self.orgs:
            if o.code == code:
                return o
        raise KeyError(code)


def _member_logins(members: Sequence[MemberSeed]) -> list[MemberSeed]:
    """member1..member5: three graduating members of the first school, two of the second."""
    by_school: dict[str, list[MemberSeed]] = {s[0]: [] for s in SCHOOLS}
    for m in members:
        if m.graduating and m.school_code in by_school:
            by_school[m.school_code].append(m)
    lists = list(by_school.values())
    picked = lists[0][:3] + lists[1][:2]
    if len(picked) < MEMBER_LOGINS:  # tiny datasets: fill from whoever is left
        rest = [m for m in members if m not in picked]
        picked += rest[: MEMBER_LOGINS - len(picked)]
    return picked


def build_demo_dataset(seed: int = DEFAULT_SEED, members: int = DEFAULT_MEMBERS) -> DemoDataset:
    """The whole demo dataset, without touching a database. Same seed → identical data."""
    if members < 0:
        raise ValueError("members must be ≥ 0")
    rng = random.Random(seed)
    orgs = build_org_tree()
    member_rows = build_members(rng, orgs, members)
    users: list[UserSeed] = [
        UserSeed(username=o.code.lower(), role=Role.ADMIN, display_name=o.name[:100], org_code=o.code)
        for o in orgs
        if o.approval_authority
    ]
    for i, m in enumerate(_member_logins(member_rows), start=1):
        users.append(
            UserSeed(username=f"member{i}", role=Role.MEMBER, display_name=m.name, member_id_number=m.id_number)
        )
    # the school's student-information system: starts 转出 for WHU's graduates and reads them
    users.append(
        UserSeed(
            username=SERVICE_USERNAME,
            role=Role.SERVICE,
            display_name="武汉大学学生信息系统（服务账号）",
            org_code="WHU",
        )
    )
    return DemoDataset(seed=seed, orgs=tuple(orgs), members=tuple(member_rows), users=tuple(users))
