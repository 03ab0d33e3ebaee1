"""Demo dataset (`zhtj seed demo`): a Hubei-flavoured org directory, graduating members, logins.

Two steps, so tests and other demos can use the data without a database:

- `build_demo_dataset(seed, members)` is pure: the same seed gives the same orgs, members
  (names, 身份证号, addresses, phones) and users, byte for byte. The org tree does not depend on
  the seed; members do.
- `write_demo_dataset(engine, dataset)` writes it in one transaction, upserting by org code,
  身份证号 and username, so running it again changes nothing.

Members (`members`, default 3000): about 97.5% graduating in 2026 in the 2022级 class branches
of 武汉大学 and 华中科技大学; about 1% delayed graduates in 武汉大学延迟毕业团支部
(delayed_graduation, graduating false, graduation year 2027); about 1.5% young employees or
members already back home (enterprise branches, villages, township temporary branches, no school).
All have Hubei 身份证号 and addresses (half in counties of the directory) and are 21–24 in 2026.

Upsert policy (re-running on a database that is in use must be safe):
- orgs: directory fields (name, kind, parent, partition, region, address, branch_level,
  approval_authority, new_student) are set from the dataset; `can_receive` is only set when the
  org is created (an admin may have changed it since).
- members: descriptive fields (name, joined_on, addresses, phone) are set; where a member *is*
  (branch, school, graduation year, flags) is only set when the member is created, because
  transfers own that state afterwards.
- users: role, org, member and display name are set; the password hash and `active` are only set
  when the account is created (an existing account keeps its password).
"""

from __future__ import annotations

import random
import unicodedata
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import Any

from sqlalchemy import bindparam, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from core.passwords import hash_password, verify_password
from domain.glossary import USER_ROLE_LABELS
from domain.idcard import make_id
from domain.orgs import OrgKind, Partition, parent_allowed, rule_for
from models.db import session_scope
from models.tables import Member, Org, User, utcnow
from seed import names

DEFAULT_SEED = 20260601
DEFAULT_MEMBERS = 3000
#: The one password of every demo account (printed by `zhtj seed demo`; change it in production).
DEMO_PASSWORD = "zhtj-demo-2026"
GRADUATION_YEAR = 2026
#: Birth dates giving an age of 21–24 in the 2026 graduation month.
BIRTH_FROM = date(2001, 9, 1)
BIRTH_TO = date(2005, 6, 30)
SERVICE_USERNAME = "sis-whu"

HUBEI = "湖北省"

# ---------------------------------------------------------------------------------------------
# The Hubei part of the directory: city → county → township (→ village/community).
# (code, name, address tail, counties); county: (code, name, area code, address tail, townships);
# township: (code, name, address tail, can_receive, villages); village: (code, name).
# ---------------------------------------------------------------------------------------------
_Village = tuple[str, str]
_Township = tuple[str, str, str, bool, tuple[_Village, ...]]
_County = tuple[str, str, str, str, tuple[_Township, ...]]
_City = tuple[str, str, str, tuple[_County, ...]]

HUBEI_CITIES: tuple[_City, ...] = (
    (
        "WH",
        "武汉市",
        "江岸区沿江大道188号",
        (
            (
                "HS",
                "洪山区",
                "420111",
                "珞狮南路519号",
                (
                    ("LN", "珞南街道", "珞狮路147号", True, (("ZDQ", "卓刀泉社区"),)),
                    ("GS", "关山街道", "关山大道355号", True, (("GSSQ", "关山社区"),)),
                    ("SZS", "狮子山街道", "狮子山街1号", True, ()),
                    ("HSJ", "洪山街道", "洪山路64号", True, ()),
                ),
            ),
            (
                "WC",
                "武昌区",
                "420106",
                "民主路500号",
                (
                    ("LJS", "珞珈山街道", "东湖南路8号", True, ()),
                    ("ZNL", "中南路街道", "中南二路12号", True, ()),
                    ("SGH", "水果湖街道", "东湖路181号", True, ()),
                ),
            ),
            (
                "JX",
                "江夏区",
                "420115",
                "文化大道99号",
                (
                    ("ZF", "纸坊街道", "纸坊大街300号", True, ()),
                    ("WLJ", "五里界街道", "五里界大道28号", True, (("TZL", "童周岭村"),)),
                    # §I.1: the township cannot receive now (secretary post vacant); the county's
                    # temporary branch takes its graduates.
                    ("FS", "法泗街道", "法泗大街16号", False, ()),
                ),
            ),
        ),
    ),
    (
        "YC",
        "宜昌市",
        "西陵区沿江大道52号",
        (
            (
                "XL",
                "西陵区",
                "420502",
                "西陵一路28号",
                (
                    ("XLJD", "西陵街道", "解放路46号", True, ()),
                    ("XY", "学院街道", "学院街19号", True, (("DS", "东山社区"),)),
                    ("YJ", "云集街道", "云集路22号", True, ()),
                ),
            ),
            (
                "YL",
                "夷陵区",
                "420506",
                "夷兴大道101号",
                (
                    ("XXT", "小溪塔街道", "平湖大道25号", True, ()),
                    ("LQ", "龙泉镇", "龙泉路8号", True, (("SY", "双堰村"),)),
                    ("YQL", "鸦鹊岭镇", "鸦鹊岭大道6号", True, ()),
                ),
            ),
        ),
    ),
    (
        "XY",
        "襄阳市",
        "樊城区人民广场1号",
        (
            (
                "XZ",
                "襄州区",
                "420607",
                "航空路266号",
                (
                    ("ZW", "张湾街道", "张湾大道18号", True, ()),
                    ("XW", "肖湾街道", "肖湾路33号", True, ()),
                    ("SG", "双沟镇", "双沟大道7号", True, (("YW", "鄢湾村"),)),
                ),
            ),
            (
                "FC",
                "樊城区",
                "420606",
                "长征路9号",
                (
                    ("HJ", "汉江街道", "汉江北路21号", True, ()),
                    ("PXM", "屏襄门街道", "屏襄门路5号", True, ()),
                ),
            ),
        ),
    ),
)

#: Schools: (code, name, city, county, township, address, colleges, has delayed branch).
SCHOOLS: tuple[tuple[str, str, str, str, str, str, tuple[tuple[str, str], ...], bool], ...] = (
    (
        "WHU",
        "武汉大学",
        "武汉市",
        "武昌区",
        "珞珈山街道",
        "湖北省武汉市武昌区八一路299号",
        (
            ("CS", "计算机学院"),
            ("EM", "经济与管理学院"),
            ("LIT", "文学院"),
            ("EIS", "电子信息学院"),
            ("LAW", "法学院"),
        ),
        True,
    ),
    # Its 延迟毕业团支部 is left out: DOMAIN §6 says it is created when first needed.
    (
        "HUST",
        "华中科技大学",
        "武汉市",
        "洪山区",
        "关山街道",
        "湖北省武汉市洪山区珞喻路1037号",
        (
            ("CS", "计算机科学与技术学院"),
            ("ME", "机械科学与工程学院"),
            ("EE", "电气与电子工程学院"),
            ("MG", "管理学院"),
            ("OE", "光学与电子信息学院"),
        ),
        False,
    ),
)
CLASSES_PER_COLLEGE = 8
ENTRY_YEAR = GRADUATION_YEAR - 4

#: An employer that has no league org (so it is not in the directory): DOMAIN §4 type 3 sends
#: its new employees to the temporary branch of the township it is in (关山街道, which receives).
EMPLOYER_WITHOUT_ORG: dict[str, Any] = {
    "name": "武汉珞喻云图软件有限公司",
    "address": "湖北省武汉市洪山区关山街道关山大道355号光谷软件园C6栋8楼",
    "location": {"province": HUBEI, "city": "武汉市", "county": "洪山区", "township": "关山街道"},
}
#: The same case where the township cannot receive now (法泗街道, can_receive false): from
#: September the county's (江夏区) temporary branch receives (§I.1).
EMPLOYER_WITHOUT_ORG_CLOSED_TOWNSHIP: dict[str, Any] = {
    "name": "武汉法泗农业科技发展有限公司",
    "address": "湖北省武汉市江夏区法泗街道法泗大街88号",
    "location": {"province": HUBEI, "city": "武汉市", "county": "江夏区", "township": "法泗街道"},
}

#: Org codes whose admins appear in the summary's login table.
SUMMARY_ADMIN_CODES: tuple[str, ...] = ("HB", "WHU", "WHU-CS", "HB-WH-HS-LN", "DFM")
MEMBER_LOGINS = 5
#: The usernames of the login table, in its order.
DEMO_LOGIN_USERNAMES: tuple[str, ...] = (
    *(c.lower() for c in SUMMARY_ADMIN_CODES),
    *(f"member{i}" for i in range(1, MEMBER_LOGINS + 1)),
    SERVICE_USERNAME,
)


# ---------------------------------------------------------------------------------------------
# Dataset types
# ---------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class OrgSeed:
    code: str
    name: str
    kind: str
    parent_code: str | None
    partition: str
    province: str | None
    city: str | None
    county: str | None
    township: str | None
    address: str | None
    can_receive: bool = True
    new_student: bool = False

    @property
    def branch_level(self) -> bool:
        return rule_for(self.kind).branch_level

    @property
    def approval_authority(self) -> bool:
        return rule_for(self.kind).approves


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
class UserSeed:
    username: str
    role: str  # admin | member | service
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


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: str
    org_code: str | None
    org_name: str | None
    display_name: str | None = None


@dataclass
class DemoSummary:
    seed: int
    orgs: int
    members: int
    users: int
    orgs_created: int = 0
    orgs_updated: int = 0
    members_created: int = 0
    members_updated: int = 0
    users_created: int = 0
    users_updated: int = 0
    orgs_by_kind: dict[str, int] = field(default_factory=dict)
    logins: list[DemoLogin] = field(default_factory=list)


# ---------------------------------------------------------------------------------------------
# Org tree (fixed, does not depend on the seed)
# ---------------------------------------------------------------------------------------------
class _Tree:
    def __init__(self) -> None:
        self.orgs: list[OrgSeed] = []
        self._by_code: dict[str, OrgSeed] = {}

    def add(
        self,
        code: str,
        name: str,
        kind: OrgKind,
        parent: str | None = None,
        *,
        partition: Partition | None = None,
        address: str | None = None,
        can_receive: bool = True,
        new_student: bool = False,
        **region: str,
    ) -> OrgSeed:
        p = self._by_code[parent] if parent else None
        if not parent_allowed(kind, p.kind if p else None):
            raise ValueError(f"demo tree: {kind} {code} may not hang under {p.kind if p else 'nothing'}")
        if code in self._by_code:
            raise ValueError(f"demo tree: duplicate code {code}")
        reg = {k: getattr(p, k) if p else None for k in ("province", "city", "county", "township")}
        unknown = set(region) - set(reg)
        if unknown:
            raise ValueError(f"demo tree: unknown region keys {unknown}")
        reg.update(region)
        org = OrgSeed(
            code=code,
            name=name,
            kind=str(kind),
            parent_code=parent,
            partition=str(partition or (p.partition if p else Partition.NATIONAL)),
            address=address or (p.address if p else None),
            can_receive=can_receive,
            new_student=new_student,
            **reg,
        )
        self.orgs.append(org)
        self._by_code[code] = org
        return org


def _township_names(county: str, township: str) -> tuple[str, str]:
    """(committee name, temporary branch name) of a 街道 (团工委) or 镇 (团委)."""
    committee = f"{county}{township}{'团工委' if township.endswith('街道') else '团委'}"
    return committee, f"{county}{township}学社衔接临时团支部"


def build_org_tree() -> list[OrgSeed]:
    """Every org of the demo directory, parents before children."""
    t = _Tree()
    K = OrgKind
    # Hubei: province, its special-unit database, cities, counties, townships, villages.
    t.add("HB", "共青团湖北省委员会", K.PROVINCE, province=HUBEI, address="湖北省武汉市武昌区洪山路64号")
    t.add("HB-SU", "共青团湖北省委员会特殊单位专属库", K.SPECIAL_UNIT_DB, "HB")
    for c_code, c_name, c_addr, counties in HUBEI_CITIES:
        city_code = f"HB-{c_code}"
        t.add(city_code, f"共青团{c_name}委员会", K.CITY, "HB", city=c_name, address=f"{HUBEI}{c_name}{c_addr}")
        for k_code, k_name, _area, k_addr, townships in counties:
            county_code = f"{city_code}-{k_code}"
            t.add(
                county_code,
                f"共青团{c_name}{k_name}委员会",
                K.COUNTY,
                city_code,
                county=k_name,
                address=f"{HUBEI}{c_name}{k_name}{k_addr}",
            )
            closed = [tw for tw in townships if not tw[3]]
            if closed:  # §I.1: a county-level temporary branch for townships that cannot receive
                t.add(f"{county_code}-TMP", f"{k_name}学社衔接临时团支部", K.TEMP_BRANCH, county_code)
            for w_code, w_name, w_addr, receives, villages in townships:
                tw_code = f"{county_code}-{w_code}"
                committee, temp = _township_names(k_name, w_name)
                t.add(
                    tw_code,
                    committee,
                    K.TOWNSHIP,
                    county_code,
                    township=w_name,
                    can_receive=receives,
                    address=f"{HUBEI}{c_name}{k_name}{w_name}{w_addr}",
                )
                t.add(f"{tw_code}-TMP", temp, K.TEMP_BRANCH, tw_code, can_receive=receives)
                for v_code, v_name in villages:
                    t.add(
                        f"{tw_code}-{v_code}",
                        f"{w_name}{v_name}团支部",
                        K.VILLAGE,
                        tw_code,
                        address=f"{HUBEI}{c_name}{k_name}{w_name}{v_name}",
                    )

    # Universities (under the provincial committee).
    for s_code, s_name, city, county, township, addr, colleges, has_delayed in SCHOOLS:
        t.add(s_code, f"{s_name}团委", K.SCHOOL, "HB", city=city, county=county, township=township, address=addr)
        for c_code, c_name in colleges:
            col = f"{s_code}-{c_code}"
            t.add(col, f"{s_name}{c_name}团委", K.COLLEGE, s_code)
            for n in range(1, CLASSES_PER_COLLEGE + 1):
                t.add(f"{col}-{ENTRY_YEAR}-{n}", f"{s_name}{c_name}{ENTRY_YEAR}级{n}班团支部", K.BRANCH, col)
        t.add(
            f"{s_code}-NEW-{GRADUATION_YEAR}",
            f"{s_name}{GRADUATION_YEAR}级新生团支部",
            K.BRANCH,
            s_code,
            new_student=True,
        )
        t.add(f"{s_code}-MOB", f"{s_name}毕业学生流动团员团支部", K.MOBILE_BRANCH, s_code)
        t.add(f"{s_code}-ABR", f"{s_name}出国（境）学习研究团员团支部", K.ABROAD_STUDY_BRANCH, s_code)
        if has_delayed:
            t.add(f"{s_code}-DLY", f"{s_name}延迟毕业团支部", K.DELAYED_BRANCH, s_code)

    # An enterprise league committee with branches and a subsidiary committee in Xiangyang.
    t.add(
        "DFM",
        "东风汽车集团有限公司团委",
        K.ENTERPRISE,
        "HB-WH",
        county="汉南区",
        township="沌口街道",
        address="湖北省武汉市经济技术开发区东风大道特1号",
    )
    t.add("DFM-HQ", "东风汽车集团有限公司总部机关团支部", K.BRANCH, "DFM")
    t.add(
        "DFM-RD", "东风汽车集团有限公司研发总院团支部", K.BRANCH, "DFM", address="湖北省武汉市经济技术开发区创业路58号"
    )
    t.add(
        "DFM-XY",
        "东风汽车集团有限公司襄阳基地团委",
        K.ENTERPRISE,
        "DFM",
        city="襄阳市",
        county="襄州区",
        township="张湾街道",
        address="湖北省襄阳市襄州区张湾街道汽车产业园1号",
    )
    t.add("DFM-XY-ASM", "东风汽车集团有限公司襄阳基地总装车间团支部", K.BRANCH, "DFM-XY")

    # The three provinces with their own partitions (DOMAIN §2, A2 note 2).
    bj = Partition.BEIJING
    t.add(
        "BJ",
        "共青团北京市委员会",
        K.PROVINCE,
        partition=bj,
        province="北京市",
        city="北京市",
        address="北京市东城区前门东大街10号",
    )
    # Beijing is a municipality: its districts are county-level and hang under the city
    # (province-level) committee directly; there is no prefecture-level city in between.
    t.add("BJ-HD", "共青团北京市海淀区委员会", K.COUNTY, "BJ", county="海淀区", address="北京市海淀区长春桥路17号")
    t.add(
        "BJ-HD-ZGC",
        "海淀区中关村街道团工委",
        K.TOWNSHIP,
        "BJ-HD",
        township="中关村街道",
        address="北京市海淀区中关村街道中关村南路12号",
    )
    t.add("BJ-HD-ZGC-TMP", "海淀区中关村街道学社衔接临时团支部", K.TEMP_BRANCH, "BJ-HD-ZGC")
    t.add(
        "PKU", "北京大学团委", K.SCHOOL, "BJ", county="海淀区", township="燕园街道", address="北京市海淀区颐和园路5号"
    )
    t.add(
        f"PKU-NEW-{GRADUATION_YEAR}", f"北京大学{GRADUATION_YEAR}级研究生新生团支部", K.BRANCH, "PKU", new_student=True
    )
    t.add("PKU-SS", "北京大学软件与微电子学院团委", K.COLLEGE, "PKU")
    t.add("PKU-SS-2025-1", "北京大学软件与微电子学院2025级硕士1班团支部", K.BRANCH, "PKU-SS")

    gd = Partition.GUANGDONG
    t.add(
        "GD",
        "共青团广东省委员会",
        K.PROVINCE,
        partition=gd,
        province="广东省",
        address="广东省广州市越秀区东风中路437号",
    )
    t.add("GD-GZ", "共青团广州市委员会", K.CITY, "GD", city="广州市", address="广东省广州市越秀区府前路1号")
    t.add(
        "GD-GZ-TH",
        "共青团广州市天河区委员会",
        K.COUNTY,
        "GD-GZ",
        county="天河区",
        address="广东省广州市天河区天府路1号",
    )
    t.add(
        "GD-GZ-TH-SP",
        "天河区石牌街道团工委",
        K.TOWNSHIP,
        "GD-GZ-TH",
        township="石牌街道",
        address="广东省广州市天河区石牌街道石牌东路20号",
    )
    t.add("GD-GZ-TH-SP-TMP", "天河区石牌街道学社衔接临时团支部", K.TEMP_BRANCH, "GD-GZ-TH-SP")
    t.add(
        "GAC",
        "广州汽车集团股份有限公司团委",
        K.ENTERPRISE,
        "GD-GZ",
        county="天河区",
        township="珠江新城街道",
        address="广东省广州市天河区珠江新城兴国路23号",
    )
    t.add(
        "GAC-RD",
        "广州汽车集团股份有限公司汽车工程研究院团支部",
        K.BRANCH,
        "GAC",
        address="广东省广州市番禺区金山大道东668号",
    )

    fj = Partition.FUJIAN
    t.add(
        "FJ", "共青团福建省委员会", K.PROVINCE, partition=fj, province="福建省", address="福建省福州市鼓楼区湖东路128号"
    )
    t.add("FJ-XM", "共青团厦门市委员会", K.CITY, "FJ", city="厦门市", address="福建省厦门市思明区湖滨北路61号")
    t.add(
        "FJ-XM-SM",
        "共青团厦门市思明区委员会",
        K.COUNTY,
        "FJ-XM",
        county="思明区",
        address="福建省厦门市思明区市府大道1号",
    )
    t.add(
        "FJ-XM-SM-JL",
        "思明区嘉莲街道团工委",
        K.TOWNSHIP,
        "FJ-XM-SM",
        township="嘉莲街道",
        address="福建省厦门市思明区嘉莲街道莲岳路210号",
    )
    t.add("FJ-XM-SM-JL-TMP", "思明区嘉莲街道学社衔接临时团支部", K.TEMP_BRANCH, "FJ-XM-SM-JL")
    t.add(
        "XMU",
        "厦门大学团委",
        K.SCHOOL,
        "FJ",
        city="厦门市",
        county="思明区",
        township="厦港街道",
        address="福建省厦门市思明区思明南路422号",
    )
    t.add(
        f"XMU-NEW-{GRADUATION_YEAR}", f"厦门大学{GRADUATION_YEAR}级研究生新生团支部", K.BRANCH, "XMU", new_student=True
    )
    return t.orgs


# ---------------------------------------------------------------------------------------------
# Members (depend on the seed)
# ---------------------------------------------------------------------------------------------
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


def _build_members(rng: random.Random, orgs: Sequence[OrgSeed], count: int) -> list[MemberSeed]:
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
    member_rows = _build_members(rng, orgs, members)
    users: list[UserSeed] = [
        UserSeed(username=o.code.lower(), role="admin", display_name=o.name[:100], org_code=o.code)
        for o in orgs
        if o.approval_authority
    ]
    for i, m in enumerate(_member_logins(member_rows), start=1):
        users.append(UserSeed(username=f"member{i}", role="member", display_name=m.name, member_id_number=m.id_number))
    # the school's student-information system: starts 转出 for WHU's graduates and reads them
    users.append(
        UserSeed(
            username=SERVICE_USERNAME, role="service", display_name="武汉大学学生信息系统（服务账号）", org_code="WHU"
        )
    )
    return DemoDataset(seed=seed, orgs=tuple(orgs), members=tuple(member_rows), users=tuple(users))


# ---------------------------------------------------------------------------------------------
# Writing
# ---------------------------------------------------------------------------------------------
_ORG_SYNC = (
    "name",
    "kind",
    "parent_id",
    "partition",
    "province",
    "city",
    "county",
    "township",
    "address",
    "branch_level",
    "approval_authority",
    "new_student",
)
_MEMBER_SYNC = ("name", "joined_on", "hukou_address", "residence_address", "phone")
_USER_SYNC = ("role", "org_id", "member_id", "display_name")
_CHUNK = 500


def _chunks(seq: Sequence[Any], n: int = _CHUNK) -> Iterable[Sequence[Any]]:
    for i in range(0, len(seq), n):
        yield seq[i : i + n]


def _depth(orgs: Sequence[OrgSeed]) -> dict[str, int]:
    depth: dict[str, int] = {}
    for o in orgs:  # parents come first
        depth[o.code] = 0 if o.parent_code is None else depth[o.parent_code] + 1
    return depth


async def _update_many(
    session: AsyncSession, table: Any, key: str, fields: Sequence[str], rows: list[dict[str, Any]]
) -> None:
    """UPDATE table SET fields WHERE key = … for every row (one executemany)."""
    if not rows:
        return
    stmt = update(table).where(table.c[key] == bindparam(f"b_{key}")).values({f: bindparam(f"b_{f}") for f in fields})
    await session.execute(stmt, [{f"b_{k}": v for k, v in r.items()} for r in rows])


async def _existing(
    session: AsyncSession, table: Any, key: str, keys: Sequence[Any], cols: Sequence[str]
) -> dict[Any, dict[str, Any]]:
    out: dict[Any, dict[str, Any]] = {}
    columns = [table.c[key], table.c.id, *(table.c[c] for c in cols if c not in (key, "id"))]
    for part in _chunks(list(keys)):
        for row in (await session.execute(select(*columns).where(table.c[key].in_(part)))).mappings():
            out[row[key]] = dict(row)
    return out


async def _write_orgs(session: AsyncSession, orgs: Sequence[OrgSeed], summary: DemoSummary) -> dict[str, int]:
    table = Org.__table__
    now = utcnow()
    existing = await _existing(session, table, "code", [o.code for o in orgs], _ORG_SYNC)
    ids: dict[str, int] = {code: row["id"] for code, row in existing.items()}
    depth = _depth(orgs)
    for level in range(max(depth.values(), default=-1) + 1):
        level_orgs = [o for o in orgs if depth[o.code] == level]
        new_rows, changed = [], []
        for o in level_orgs:
            want = {
                "name": o.name,
                "kind": o.kind,
                "parent_id": ids[o.parent_code] if o.parent_code else None,
                "partition": o.partition,
                "province": o.province,
                "city": o.city,
                "county": o.county,
                "township": o.township,
                "address": o.address,
                "branch_level": o.branch_level,
                "approval_authority": o.approval_authority,
                "new_student": o.new_student,
            }
            have = existing.get(o.code)
            if have is None:
                new_rows.append(
                    {"code": o.code, **want, "can_receive": o.can_receive, "created_at": now, "updated_at": now}
                )
            elif any(have[k] != v for k, v in want.items()):
                changed.append({"code": o.code, **want, "updated_at": now})
        if new_rows:
            await session.execute(insert(table), new_rows)
            fresh = await _existing(session, table, "code", [r["code"] for r in new_rows], ())
            ids.update({code: row["id"] for code, row in fresh.items()})
        await _update_many(session, table, "code", (*_ORG_SYNC, "updated_at"), changed)
        summary.orgs_created += len(new_rows)
        summary.orgs_updated += len(changed)
    return ids


async def _write_members(
    session: AsyncSession, members: Sequence[MemberSeed], org_ids: dict[str, int], summary: DemoSummary
) -> None:
    table = Member.__table__
    now = utcnow()
    existing = await _existing(session, table, "id_number", [m.id_number for m in members], _MEMBER_SYNC)
    new_rows, changed = [], []
    for m in members:
        want = {
            "name": m.name,
            "joined_on": m.joined_on,
            "hukou_address": m.hukou_address,
            "residence_address": m.residence_address,
            "phone": m.phone,
        }
        have = existing.get(m.id_number)
        if have is None:
            new_rows.append(
                {
                    "id_number": m.id_number,
                    **want,
                    "branch_id": org_ids[m.branch_code],
                    "school_id": org_ids[m.school_code] if m.school_code else None,
                    "graduation_year": m.graduation_year,
                    "graduating": m.graduating,
                    "delayed_graduation": m.delayed_graduation,
                    "mobile": False,
                    "abroad_retention": False,
                    "in_special_unit_db": False,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        elif any(have[k] != v for k, v in want.items()):
            changed.append({"id_number": m.id_number, **want, "updated_at": now})
    for part in _chunks(new_rows, 1000):
        await session.execute(insert(table), list(part))
    await _update_many(session, table, "id_number", (*_MEMBER_SYNC, "updated_at"), changed)
    summary.members_created += len(new_rows)
    summary.members_updated += len(changed)


async def _write_users(
    session: AsyncSession, users: Sequence[UserSeed], org_ids: dict[str, int], summary: DemoSummary
) -> dict[str, int]:
    table = User.__table__
    member_ids = {
        k: v["id"]
        for k, v in (
            await _existing(
                session, Member.__table__, "id_number", [u.member_id_number for u in users if u.member_id_number], ()
            )
        ).items()
    }
    existing = await _existing(session, table, "username", [u.username for u in users], _USER_SYNC)
    password_hash: str | None = None
    now = utcnow()
    new_rows, changed = [], []
    for u in users:
        want = {
            "role": u.role,
            "org_id": org_ids[u.org_code] if u.org_code else None,
            "member_id": member_ids[u.member_id_number] if u.member_id_number else None,
            "display_name": u.display_name,
        }
        have = existing.get(u.username)
        if have is None:
            if password_hash is None:  # Argon2 is slow on purpose: hash once, share it
                password_hash = hash_password(DEMO_PASSWORD)
            new_rows.append(
                {"username": u.username, **want, "password_hash": password_hash, "active": True, "created_at": now}
            )
        elif any(have[k] != v for k, v in want.items()):
            changed.append({"username": u.username, **want})
    if new_rows:
        await session.execute(insert(table), new_rows)
    await _update_many(session, table, "username", _USER_SYNC, changed)
    summary.users_created += len(new_rows)
    summary.users_updated += len(changed)
    return member_ids


async def write_demo_dataset(engine: AsyncEngine, dataset: DemoDataset) -> DemoSummary:
    """Upsert the dataset in one transaction (see the module docstring for what is updated)."""
    by_kind: dict[str, int] = {}
    for o in dataset.orgs:
        by_kind[o.kind] = by_kind.get(o.kind, 0) + 1
    summary = DemoSummary(
        seed=dataset.seed,
        orgs=len(dataset.orgs),
        members=len(dataset.members),
        users=len(dataset.users),
        orgs_by_kind=by_kind,
    )
    async with session_scope(engine) as session:
        org_ids = await _write_orgs(session, dataset.orgs, summary)
        await _write_members(session, dataset.members, org_ids, summary)
        await _write_users(session, dataset.users, org_ids, summary)
    summary.logins = await demo_logins(engine)
    return summary


async def seed_demo(engine: AsyncEngine, *, seed: int = DEFAULT_SEED, members: int = DEFAULT_MEMBERS) -> DemoSummary:
    """Build the demo dataset for `seed` and upsert it (idempotent)."""
    return await write_demo_dataset(engine, build_demo_dataset(seed, members))


async def orgs_table_empty(engine: AsyncEngine) -> bool:
    async with engine.connect() as conn:
        return (await conn.execute(select(func.count()).select_from(Org.__table__))).scalar_one() == 0


# ---------------------------------------------------------------------------------------------
# The login table (printed by `zhtj seed demo` and `zhtj dev`)
# ---------------------------------------------------------------------------------------------
async def demo_logins(engine: AsyncEngine) -> list[DemoLogin]:
    """The login-table accounts as the database has them now: only active ones that still use
    DEMO_PASSWORD (an account whose password was changed is left out), in table order."""
    u, o, m = User.__table__, Org.__table__, Member.__table__
    branch = Org.__table__.alias("branch")
    stmt = (
        select(
            u.c.username,
            u.c.role,
            u.c.password_hash,
            u.c.display_name,
            u.c.active,
            o.c.code,
            o.c.name,
            branch.c.code.label("b_code"),
            branch.c.name.label("b_name"),
        )
        .select_from(u)
        .outerjoin(o, o.c.id == u.c.org_id)
        .outerjoin(m, m.c.id == u.c.member_id)
        .outerjoin(branch, branch.c.id == m.c.branch_id)
        .where(u.c.username.in_(DEMO_LOGIN_USERNAMES))
    )
    async with engine.connect() as conn:
        rows = {r.username: r for r in (await conn.execute(stmt))}
    verified: dict[str, bool] = {}  # Argon2 is slow: verify each distinct hash once
    out: list[DemoLogin] = []
    for name in DEMO_LOGIN_USERNAMES:
        r = rows.get(name)
        if r is None or not r.active:
            continue
        if r.password_hash not in verified:
            verified[r.password_hash] = verify_password(r.password_hash, DEMO_PASSWORD)
        if not verified[r.password_hash]:
            continue
        code, org_name = (r.code, r.name) if r.code else (r.b_code, r.b_name)
        out.append(DemoLogin(r.username, DEMO_PASSWORD, r.role, code, org_name, r.display_name))
    return out


def _width(text: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in "WF" else 1 for ch in text)


def format_login_lines(logins: Sequence[DemoLogin]) -> list[str]:
    """An aligned text table (header, rule, one line per login); empty when there are none."""
    if not logins:
        return []
    header = ["username", "password", "role", "org"]
    rows = [
        [
            lg.username,
            lg.password,
            f"{lg.role} {USER_ROLE_LABELS.get(lg.role, '')}".strip(),
            (f"{lg.org_name} ({lg.org_code})" if lg.org_code else "-")
            + (f" — {lg.display_name}" if lg.role == "member" and lg.display_name else ""),
        ]
        for lg in logins
    ]
    widths = [max(_width(r[i]) for r in [header, *rows]) for i in range(len(header))]

    def line(cells: list[str]) -> str:
        return "  ".join(c + " " * (w - _width(c)) for c, w in zip(cells, widths)).rstrip()

    return [line(header), "  ".join("-" * w for w in widths), *(line(r) for r in rows)]


async def demo_login_lines(
    engine: AsyncEngine,
    *,
    seed_when_empty: Callable[[AsyncEngine], Awaitable[Any]] | None = None,
) -> list[str]:
    """For `zhtj dev`: seed with `seed_when_empty(engine)` when the org directory is empty, then
    the login table of the demo accounts found in the database (empty when there are none)."""
    if seed_when_empty is not None and await orgs_table_empty(engine):
        await seed_when_empty(engine)
    return format_login_lines(await demo_logins(engine))
