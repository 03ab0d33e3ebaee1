"""Organisation kinds and partitions (DOMAIN.md §2). Pure data, no I/O."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class OrgKind(StrEnum):
    PROVINCE = "province"
    CITY = "city"
    COUNTY = "county"
    TOWNSHIP = "township"
    VILLAGE = "village"
    SCHOOL = "school"
    COLLEGE = "college"
    ENTERPRISE = "enterprise"
    BRANCH = "branch"
    TEMP_BRANCH = "temp_branch"
    MOBILE_BRANCH = "mobile_branch"
    ABROAD_STUDY_BRANCH = "abroad_study_branch"
    DELAYED_BRANCH = "delayed_branch"
    SPECIAL_UNIT_DB = "special_unit_db"


class Partition(StrEnum):
    NATIONAL = "national"
    BEIJING = "beijing"
    GUANGDONG = "guangdong"
    FUJIAN = "fujian"


@dataclass(frozen=True)
class KindRule:
    branch_level: bool  # holds members
    approves: bool  # approves transfers for branches below it


KIND_RULES: dict[OrgKind, KindRule] = {
    OrgKind.PROVINCE: KindRule(False, True),
    OrgKind.CITY: KindRule(False, True),
    OrgKind.COUNTY: KindRule(False, True),
    OrgKind.TOWNSHIP: KindRule(False, True),
    OrgKind.VILLAGE: KindRule(True, True),
    OrgKind.SCHOOL: KindRule(False, True),
    OrgKind.COLLEGE: KindRule(False, True),
    OrgKind.ENTERPRISE: KindRule(False, True),
    OrgKind.BRANCH: KindRule(True, False),
    OrgKind.TEMP_BRANCH: KindRule(True, False),
    OrgKind.MOBILE_BRANCH: KindRule(True, False),
    OrgKind.ABROAD_STUDY_BRANCH: KindRule(True, False),
    OrgKind.DELAYED_BRANCH: KindRule(True, False),
    OrgKind.SPECIAL_UNIT_DB: KindRule(True, False),
}

#: Kinds that hang under a school committee (DOMAIN.md §2 special kinds).
SCHOOL_SPECIAL_KINDS = frozenset({OrgKind.MOBILE_BRANCH, OrgKind.ABROAD_STUDY_BRANCH, OrgKind.DELAYED_BRANCH})

#: Which parent kinds each kind may hang under (None: may be a root).
ALLOWED_PARENTS: dict[OrgKind, frozenset[OrgKind] | None] = {
    OrgKind.PROVINCE: None,
    OrgKind.CITY: frozenset({OrgKind.PROVINCE}),
    OrgKind.COUNTY: frozenset({OrgKind.CITY, OrgKind.PROVINCE}),
    OrgKind.TOWNSHIP: frozenset({OrgKind.COUNTY, OrgKind.CITY}),
    OrgKind.VILLAGE: frozenset({OrgKind.TOWNSHIP}),
    OrgKind.SCHOOL: frozenset({OrgKind.PROVINCE, OrgKind.CITY, OrgKind.COUNTY}),
    OrgKind.COLLEGE: frozenset({OrgKind.SCHOOL}),
    OrgKind.ENTERPRISE: frozenset(
        {OrgKind.PROVINCE, OrgKind.CITY, OrgKind.COUNTY, OrgKind.TOWNSHIP, OrgKind.ENTERPRISE}
    ),
    OrgKind.BRANCH: frozenset(
        {
            OrgKind.SCHOOL,
            OrgKind.COLLEGE,
            OrgKind.ENTERPRISE,
            OrgKind.TOWNSHIP,
            OrgKind.COUNTY,
            OrgKind.CITY,
            OrgKind.PROVINCE,
        }
    ),
    OrgKind.TEMP_BRANCH: frozenset({OrgKind.TOWNSHIP, OrgKind.COUNTY}),
    OrgKind.MOBILE_BRANCH: frozenset({OrgKind.SCHOOL}),
    OrgKind.ABROAD_STUDY_BRANCH: frozenset({OrgKind.SCHOOL}),
    OrgKind.DELAYED_BRANCH: frozenset({OrgKind.SCHOOL}),
    OrgKind.SPECIAL_UNIT_DB: frozenset({OrgKind.PROVINCE}),
}


def rule_for(kind: OrgKind | str) -> KindRule:
    return KIND_RULES[OrgKind(kind)]


def parent_allowed(kind: OrgKind | str, parent_kind: OrgKind | str | None) -> bool:
    allowed = ALLOWED_PARENTS[OrgKind(kind)]
    if parent_kind is None:
        return allowed is None
    return allowed is not None and OrgKind(parent_kind) in allowed
