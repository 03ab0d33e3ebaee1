"""The demo org directory (fixed: it does not depend on the seed), parents before children."""

from __future__ import annotations

from domain.directory import OrgInfo
from domain.orgs import OrgKind, Partition, parent_allowed, rule_for
from seed.data import CLASSES_PER_COLLEGE, ENTRY_YEAR, GRADUATION_YEAR, HUBEI, HUBEI_CITIES, SCHOOLS

#: A demo org: the directory's own record of an org (no database id yet).
OrgSeed = OrgInfo


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
        rule = rule_for(kind)
        org = OrgSeed(
            code=code,
            name=name,
            kind=str(kind),
            parent_code=parent,
            partition=str(partition or (p.partition if p else Partition.NATIONAL)),
            address=address or (p.address if p else None),
            can_receive=can_receive,
            new_student=new_student,
            branch_level=rule.branch_level,
            approval_authority=rule.approves,
            **reg,
        )
        self.orgs.append(org)
        self._by_code[code] = org
        return org

    def county(self, code: str, parent: str, city: str, county: str, *, address: str) -> None:
        """A county-level committee (区/县团委) of a city."""
        self.add(code, f"共青团{city}{county}委员会", OrgKind.COUNTY, parent, county=county, address=address)

    def township(
        self, code: str, parent: str, county: str, township: str, *, address: str, can_receive: bool = True
    ) -> None:
        """A 街道 (团工委) or 镇 (团委) committee and its 学社衔接临时团支部 (`<code>-TMP`)."""
        committee = f"{county}{township}{'团工委' if township.endswith('街道') else '团委'}"
        self.add(code, committee, OrgKind.TOWNSHIP, parent, township=township, can_receive=can_receive, address=address)
        self.add(
            f"{code}-TMP", f"{county}{township}学社衔接临时团支部", OrgKind.TEMP_BRANCH, code, can_receive=can_receive
        )


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
            t.county(county_code, city_code, c_name, k_name, address=f"{HUBEI}{c_name}{k_name}{k_addr}")
            closed = [tw for tw in townships if not tw[3]]
            if closed:  # §I.1: a county-level temporary branch for townships that cannot receive
                t.add(f"{county_code}-TMP", f"{k_name}学社衔接临时团支部", K.TEMP_BRANCH, county_code)
            for w_code, w_name, w_addr, receives, villages in townships:
                tw_code = f"{county_code}-{w_code}"
                address = f"{HUBEI}{c_name}{k_name}{w_name}{w_addr}"
                t.township(tw_code, county_code, k_name, w_name, address=address, can_receive=receives)
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
    t.county("BJ-HD", "BJ", "北京市", "海淀区", address="北京市海淀区长春桥路17号")
    t.township("BJ-HD-ZGC", "BJ-HD", "海淀区", "中关村街道", address="北京市海淀区中关村街道中关村南路12号")
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
    t.county("GD-GZ-TH", "GD-GZ", "广州市", "天河区", address="广东省广州市天河区天府路1号")
    t.township("GD-GZ-TH-SP", "GD-GZ-TH", "天河区", "石牌街道", address="广东省广州市天河区石牌街道石牌东路20号")
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
    t.county("FJ-XM-SM", "FJ-XM", "厦门市", "思明区", address="福建省厦门市思明区市府大道1号")
    t.township("FJ-XM-SM-JL", "FJ-XM-SM", "思明区", "嘉莲街道", address="福建省厦门市思明区嘉莲街道莲岳路210号")
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
