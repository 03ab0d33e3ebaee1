"""Demo members (they depend on the seed): random people — name, unique 身份证号, birth date,
addresses, phone — placed in the directory's class branches, its delayed-graduation branch and a
few branches outside the schools."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from domain.idcard import make_id
from domain.orgs import OrgKind, Partition
from seed import names
from seed.data import BIRTH_FROM, BIRTH_TO, ENTRY_YEAR, GRADUATION_YEAR, HUBEI, HUBEI_CITIES, SCHOOLS
from seed.tree import OrgSeed


@dataclass(frozen=True)
class MemberSeed:
    id_number: str
    name: str
    branch_code: str
    school_code: str | None
    joined_on: date
    graduation_year: int
    hukou_address: str
    residence_address: str
    phone: str
    graduating: bool
    delayed_graduation: bool = False


@dataclass(frozen=True)
class _Area:
    area_code: str
    city: str
    county: str
    places: tuple[tuple[str, tuple[str, ...]], ...]  # (street/town, seeded villages there)


def _hubei_areas() -> tuple[list[_Area], list[_Area]]:
    """(counties in the directory, other Hubei counties), for 身份证号 area codes and 户籍地."""
    seeded = [
        _Area(area, c_name, k_name, tuple((w_name, tuple(v for _, v in villages)) for _, w_name, _, _, villages in tws))
        for _, c_name, _, counties in HUBEI_CITIES
        for _, k_name, area, _, tws in counties
    ]
    others = [
        _Area(code, city, county, tuple((s, ()) for s in streets))
        for code, city, county, streets in names.HUBEI_OTHER_AREAS
    ]
    return seeded, others


class _People:
    """Random people: name, unique 身份证号, birth date, address, phone."""

    def __init__(self, rng: random.Random) -> None:
        self.rng = rng
        self.used_ids: set[str] = set()
        self.seeded, self.others = _hubei_areas()
        self.surnames = [s for s, _ in names.SURNAMES]
        self.surname_weights = [w for _, w in names.SURNAMES]

    def name(self, male: bool) -> str:
        r = self.rng
        chars = names.MALE_CHARS if male else names.FEMALE_CHARS
        surname = r.choices(self.surnames, self.surname_weights)[0]
        given = r.choice(chars) if r.random() < 0.2 else r.choice(chars) + r.choice(chars)
        return surname + given

    def area(self) -> _Area:
        r = self.rng
        # Half the demo members come from counties in the directory, so routing demos find a
        # township temporary branch for their 户籍地.
        return r.choice(self.seeded) if r.random() < 0.5 else r.choice(self.others)

    def address(self, area: _Area) -> str:
        r = self.rng
        place, villages = r.choice(area.places)
        head = f"{HUBEI}{area.city}{area.county}{place}"
        if villages and r.random() < 0.4:
            return f"{head}{r.choice(villages)}{r.randint(1, 12)}组{r.randint(1, 60)}号"
        if place.endswith("镇"):
            return f"{head}{r.choice(names.VILLAGE_STEMS)}村{r.randint(1, 12)}组{r.randint(1, 60)}号"
        community = r.choice(names.COMMUNITY_STEMS) + r.choice(names.COMMUNITY_SUFFIXES)
        return f"{head}{community}{r.randint(1, 30)}栋{r.randint(1, 4)}单元{r.randint(1, 30)}{r.randint(1, 4):02d}室"

    def phone(self) -> str:
        return self.rng.choice(names.PHONE_PREFIXES) + f"{self.rng.randrange(10**8):08d}"

    def born(self) -> date:
        span = (BIRTH_TO - BIRTH_FROM).days
        return BIRTH_FROM + timedelta(days=self.rng.randint(0, span))

    def id_number(self, area: _Area, born: date, male: bool) -> str:
        # The 17th digit is odd for men, even for women (GB 11643-1999).
        while True:
            seq = self.rng.randrange(500) * 2 + (1 if male else 0)
            idn = make_id(area.area_code, born, seq)
            if idn not in self.used_ids:
                self.used_ids.add(idn)
                return idn

    def joined_on(self, born: date) -> date:
        """入团 at age 14–18."""
        try:
            at14 = born.replace(year=born.year + 14)
        except ValueError:  # 29 February
            at14 = born.replace(year=born.year + 14, day=28)
        return at14 + timedelta(days=self.rng.randint(0, 4 * 365))

    def person(self) -> dict[str, Any]:
        r = self.rng
        male = r.random() < 0.52
        area = self.area()
        born = self.born()
        hukou = self.address(area)
        residence = hukou if r.random() < 0.7 else self.address(self.area())
        return {
            "id_number": self.id_number(area, born, male),
            "name": self.name(male),
            "joined_on": self.joined_on(born),
            "hukou_address": hukou,
            "residence_address": residence,
            "phone": self.phone(),
        }


def build_members(rng: random.Random, orgs: Sequence[OrgSeed], count: int) -> list[MemberSeed]:
    """`count` members: about 97.5% graduating this year in the schools' class branches, about 1%
    delayed graduates in a delayed-graduation branch, about 1.5% outside the schools (young
    employees, members back home)."""
    people = _People(rng)
    school_codes = [s[0] for s in SCHOOLS]
    class_branches = [
        o
        for o in orgs
        if o.kind == OrgKind.BRANCH
        and not o.new_student
        and o.code.split("-")[0] in school_codes
        and f"-{ENTRY_YEAR}-" in o.code
    ]
    class_sizes = [rng.randint(28, 46) for _ in class_branches]
    delayed = [o for o in orgs if o.kind == OrgKind.DELAYED_BRANCH]
    # A few members outside the schools: young employees, members back home, already received.
    other = [
        o.code
        for o in orgs
        if o.code in ("DFM-HQ", "DFM-RD", "DFM-XY-ASM", "GAC-RD")
        or (o.kind in (OrgKind.VILLAGE, OrgKind.TEMP_BRANCH) and o.partition == Partition.NATIONAL and o.can_receive)
    ]

    n_other = round(count * 0.015) if count >= 100 else 0
    n_delayed = round(count * 0.01) if count >= 100 and delayed else 0
    n_class = count - n_other - n_delayed

    out: list[MemberSeed] = []
    for _ in range(n_class):
        branch = rng.choices(class_branches, class_sizes)[0]
        out.append(
            MemberSeed(
                branch_code=branch.code,
                school_code=branch.code.split("-")[0],
                graduation_year=GRADUATION_YEAR,
                graduating=True,
                **people.person(),
            )
        )
    for _ in range(n_delayed):
        branch = rng.choice(delayed)
        out.append(
            MemberSeed(
                branch_code=branch.code,
                school_code=branch.code.split("-")[0],
                graduation_year=GRADUATION_YEAR + 1,
                graduating=False,
                delayed_graduation=True,
                **people.person(),
            )
        )
    for _ in range(n_other):
        out.append(
            MemberSeed(
                branch_code=rng.choice(other),
                school_code=None,
                graduation_year=rng.choice((GRADUATION_YEAR - 2, GRADUATION_YEAR - 1)),
                graduating=False,
                **people.person(),
            )
        )
    return out
