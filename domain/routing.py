"""Routing (DOMAIN.md §4): which org a graduate's relationship goes to, and which clause says so. Pure.

`route(...)` proposes a target and explains it in Chinese, citing the clause of the notice
(``§I.1 工作单位无团组织 → 工作单位所在地乡镇街道学社衔接临时团支部：…``). When no target can be
found it says why in `problems`. 升学 before the new-student org exists and 出国（境）学习研究 keep
the member at school (`stays_at_school`). The initiator may pick another org instead;
`check_override(...)` refuses one of the wrong kind, outside the chosen partition, or closed.

[decision]s where the notice is silent:
- Names match after dropping 共青团/中国共产主义青年团 and 委员会/团工委/团委/团总支 and NFKC
  normalisation: a school is found by its exact name, an employer by its exact name, else by
  every enterprise committee whose name contains it, else by those of the longest name (of at
  least 4 characters) that the employer's name contains; several candidates are narrowed by the
  partition chosen, then by the form's `location` (province, city, county); still several → a
  problem asking the initiator to pick.
- The admitting school's new-student org is any `new_student` branch below it that can receive
  (the first by code when there are several; the others may be picked instead).
- A township "cannot receive" (§I.1) when it or its temp branch has `can_receive` false, or it
  has no temp branch. Then, from 09-01 (Shanghai) of the graduation year (or of `today`'s year when
  not given), the temp branch directly under its county receives, clause §I.1 — for types 3, 6
  and 7 alike (§I.1 says 下同); before 09-01 it is a problem.
- Type 8 goes to the 特殊单位专属库 of the member's own province (nearest province committee above
  `from_org`, else the province committee whose `province` region is `from_org`'s).
- The partition rule is not applied to type 5 (the member stays at their own school).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from domain.deadlines import county_temp_branch_allowed
from domain.directory import Directory, OrgInfo
from domain.glossary import ORG_KIND_LABELS, TRANSFER_TYPE_LABELS, UNIT_KIND_LABELS
from domain.orgs import OrgKind
from domain.partition import PartitionChoice, partition_filter, target_partition_problem
from domain.transfers import TransferType

T = TransferType
K = OrgKind

#: The clause of the notice that decides each type (a county temp branch is always §I.1).
TYPE_CLAUSES: dict[TransferType, str] = {
    T.FURTHER_STUDY: "§I.2",
    T.EMPLOYED_WITH_ORG: "§I.1",
    T.EMPLOYED_WITHOUT_ORG: "§I.1",
    T.ABROAD_OFFICIAL: "§I.6",
    T.ABROAD_STUDY: "§I.5",
    T.ABROAD_PRIVATE: "§I.6",
    T.UNEMPLOYED: "§I.4",
    T.SPECIAL_UNIT: "§I.3",
}

#: What each type's target must be, in words (refusals of an override quote it).
FITTING_TARGETS: dict[TransferType, str] = {
    T.FURTHER_STUDY: "录取学校的团组织（新生团支部、学校团委或院系团委）",
    T.EMPLOYED_WITH_ORG: "工作单位团组织（企事业单位团委或其下属团支部）",
    T.EMPLOYED_WITHOUT_ORG: "学社衔接临时团支部",
    T.ABROAD_OFFICIAL: "派出单位团组织（企事业单位团委或其下属团支部）",
    T.ABROAD_STUDY: "原就读学校的出国（境）学习研究团员团支部",
    T.ABROAD_PRIVATE: "学社衔接临时团支部",
    T.UNEMPLOYED: "学社衔接临时团支部或村/社区团组织",
    T.SPECIAL_UNIT: "特殊单位专属库",
}


@dataclass(frozen=True)
class RouteProposal:
    target: OrgInfo | None
    clause: str  # "§I.1"
    explanation: str  # Chinese, cites the clause and names the target
    stays_at_school: bool = False
    needs_provincial_node: bool = False
    problems: list[str] = field(default_factory=list)  # why no target could be proposed

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def target_code(self) -> str | None:
        return self.target.code if self.target else None


# ---- reading the form ------------------------------------------------------------------------
def _get(form: Any, key: str) -> Any:
    if form is None:
        return None
    value = form.get(key) if isinstance(form, dict) else getattr(form, key, None)
    return value.strip() if isinstance(value, str) else value


@dataclass(frozen=True)
class _Loc:
    province: str | None = None
    city: str | None = None
    county: str | None = None
    township: str | None = None

    def text(self) -> str:
        return "".join(p for p in (self.province, self.city, self.county, self.township) if p)


def _location(form: Any) -> _Loc:
    loc = _get(form, "location")
    return _Loc(*(_get(loc, k) or None for k in ("province", "city", "county", "township")))


# ---- finding orgs ----------------------------------------------------------------------------
_PREFIXES = ("中国共产主义青年团", "共青团")
_SUFFIXES = ("委员会", "团工委", "团委", "团总支")


def bare_name(name: str) -> str:
    """An org or unit name without the league's prefixes and suffixes, for matching."""
    s = unicodedata.normalize("NFKC", name or "").replace(" ", "").strip()
    for p in _PREFIXES:
        if s.startswith(p) and len(s) > len(p):
            s = s[len(p) :]
            break
    for suf in _SUFFIXES:
        if s.endswith(suf) and len(s) > len(suf):
            s = s[: -len(suf)]
            break
    return s


def _names(orgs: Iterable[OrgInfo]) -> str:
    return "、".join(o.name for o in orgs)


def _pick(
    candidates: list[OrgInfo], choice: PartitionChoice | None, loc: _Loc, what: str
) -> tuple[OrgInfo | None, list[str]]:
    """One candidate, narrowed by the partition chosen and the location; or the problem."""
    if not candidates:
        return None, []
    if choice is not None:
        inside = [c for c in candidates if c.partition in partition_filter(choice)]
        if not inside:
            return None, [target_partition_problem(choice, candidates[0]) or ""]
        candidates = inside
    for key in ("province", "city", "county"):
        want = getattr(loc, key)
        narrowed = [c for c in candidates if want and getattr(c, key) == want]
        if narrowed:
            candidates = narrowed
    if len(candidates) == 1:
        return candidates[0], []
    return None, [f"找到多个符合的{what}：{_names(candidates)}；请直接选择转入组织"]


def _longest(orgs: list[OrgInfo]) -> list[OrgInfo]:
    """Those with the longest bare name (the most specific unit an employer name contains)."""
    if not orgs:
        return []
    top = max(len(bare_name(o.name)) for o in orgs)
    return [o for o in orgs if len(bare_name(o.name)) == top]


def _children(directory: Directory, org: OrgInfo, kind: OrgKind) -> list[OrgInfo]:
    return [c for c in directory.children(org) if c.kind == kind]


def _province_of(directory: Directory, org: OrgInfo) -> OrgInfo | None:
    found = directory.nearest(org, K.PROVINCE)
    if found is None and org.province:
        same = directory.find(kind=K.PROVINCE, province=org.province)
        found = same[0] if len(same) == 1 else None
    return found


def _arrow(clause: str, reason: str, destination: str, target: OrgInfo | None) -> str:
    return f"{clause} {reason} → {destination}" + (f"：{target.name}" if target else "")


# ---- the rules per type ------------------------------------------------------------------------
@dataclass(frozen=True)
class _Ctx:
    directory: Directory
    ttype: TransferType
    form: Any
    from_org: OrgInfo
    today: date
    choice: PartitionChoice | None
    employer_org_code: str | None
    admitting_school_code: str | None
    graduation_year: int | None


def _further_study(c: _Ctx) -> RouteProposal:
    clause, d = "§I.2", c.directory
    school_name = _get(c.form, "school_name") or ""
    if c.admitting_school_code:
        school = d.get(c.admitting_school_code)
        if school is None or school.kind != K.SCHOOL:
            return RouteProposal(
                None,
                clause,
                f"{clause} 升学",
                problems=[f"编码为“{c.admitting_school_code}”的组织不存在或不是学校团委"],
            )
        problems: list[str] = []
        if c.choice is not None and (p := target_partition_problem(c.choice, school)):
            problems.append(p)
    else:
        want = bare_name(school_name)
        cands = [o for o in d if o.kind == K.SCHOOL and bare_name(o.name) == want]
        school, problems = _pick(cands, c.choice, _location(c.form), "录取学校团组织")
    if problems:
        return RouteProposal(None, clause, f"{clause} 升学 → 录取学校新生团组织", problems=problems)
    below = d.descendants(school) if school else []
    new_orgs = sorted(
        (o for o in below if o.kind == K.BRANCH and o.new_student and o.can_receive), key=lambda o: o.code
    )
    if not new_orgs:
        missing = (
            f"录取学校“{school.name}”尚未创建新生团组织"
            if school
            else f"录取学校“{school_name}”的团组织尚未在系统中建立"
        )
        return RouteProposal(
            None,
            clause,
            f"{clause} 升学：{missing}，团组织关系暂时保留在原就读学校原团组织，待录取学校新生团组织创建后再转接",
            stays_at_school=True,
        )
    target = new_orgs[0]
    more = f"（该校共有{len(new_orgs)}个新生团组织，可另选）" if len(new_orgs) > 1 else ""
    return RouteProposal(target, clause, _arrow(clause, "升学", "录取学校新生团组织", target) + more)


def _employer(c: _Ctx) -> RouteProposal:
    official = c.ttype is T.ABROAD_OFFICIAL
    clause = TYPE_CLAUSES[c.ttype]
    reason, dest = (
        ("因公出国（境）", "出国（境）前转至派出单位团组织") if official else ("工作单位有团组织", "工作单位团组织")
    )
    head = _arrow(clause, reason, dest, None)
    d, employer = c.directory, _get(c.form, "employer_name") or ""
    if c.employer_org_code:
        org = d.get(c.employer_org_code)
        if org is None:
            return RouteProposal(None, clause, head, problems=[f"编码为“{c.employer_org_code}”的组织不存在"])
        if not _is_employer_org(d, org):
            return RouteProposal(
                None, clause, head, problems=[f"“{org.name}”是{_kind_label(org)}，不是{FITTING_TARGETS[c.ttype]}"]
            )
        problems = [p] if c.choice is not None and (p := target_partition_problem(c.choice, org)) else []
    else:
        want = bare_name(employer)
        enterprises = [o for o in d if o.kind == K.ENTERPRISE]
        cands = (
            [o for o in enterprises if bare_name(o.name) == want]
            or [o for o in enterprises if want and want in bare_name(o.name)]
            or _longest([o for o in enterprises if len(bare_name(o.name)) >= 4 and bare_name(o.name) in want])
        )
        org, problems = _pick(cands, c.choice, _location(c.form), "工作单位团组织")
        if org is None and not problems:
            hint = (
                "请直接选择派出单位团组织"
                if official
                else f"如工作单位尚未建立团组织，请改选“{TRANSFER_TYPE_LABELS[T.EMPLOYED_WITHOUT_ORG]}”，或直接选择工作单位团组织"
            )
            problems = [f"未找到名称为“{employer}”的企事业单位团组织；{hint}"]
    if problems or org is None:
        return RouteProposal(None, clause, head, problems=problems)
    return RouteProposal(org, clause, _arrow(clause, reason, dest, org))


def _temp_branch(c: _Ctx) -> RouteProposal:
    """Types 3, 6, 7: the temp branch of the location's township; the county's from 09-01 (§I.1)."""
    d, loc = c.directory, _location(c.form)
    clause = TYPE_CLAUSES[c.ttype]
    reason, dest = {
        T.EMPLOYED_WITHOUT_ORG: ("工作单位无团组织", "工作单位所在地乡镇街道学社衔接临时团支部"),
        T.ABROAD_PRIVATE: ("因私出国（境）", "户籍地或本人、父母居住地乡镇街道学社衔接临时团支部"),
        T.UNEMPLOYED: ("未就业", "户籍地、生源地或本人、父母居住地乡镇街道学社衔接临时团支部"),
    }[c.ttype]
    head = _arrow(clause, reason, dest, None)
    if not loc.township:
        return RouteProposal(None, clause, head, problems=["去向所在地须填写到乡镇街道"])
    townships = d.find(kind=K.TOWNSHIP, **vars(loc))
    if not townships:
        return RouteProposal(None, clause, head, problems=[f"未找到“{loc.text()}”的乡镇街道团组织"])
    if len(townships) > 1:
        return RouteProposal(
            None,
            clause,
            head,
            problems=[f"“{loc.text()}”对应多个乡镇街道团组织：{_names(townships)}；请补充县区或直接选择转入组织"],
        )
    township = townships[0]
    temps = _children(d, township, K.TEMP_BRANCH)
    open_temps = [t for t in temps if t.can_receive]
    village_hint = "（条件允许时也可直接转至当地村或社区团组织）" if c.ttype is T.UNEMPLOYED else ""
    if township.can_receive and open_temps:
        target = open_temps[0]
        return RouteProposal(target, clause, _arrow(clause, reason, dest, target) + village_hint)

    why = f"{township.name}尚未建立学社衔接临时团支部" if not temps else f"{township.name}暂不能接收"
    year = c.graduation_year or c.today.year
    head = f"{head}；{why}"
    if not county_temp_branch_allowed(c.today, year):
        return RouteProposal(
            None,
            "§I.1",
            head,
            problems=[
                f"{why}；按《通知》一、1，乡镇街道团组织接收确有困难的，从9月份起由县级团组织建立的学社衔接临时团支部接收，"
                f"{year}年9月1日前无法转入。请9月1日后再发起，或另选可接收的组织"
            ],
        )
    county = d.nearest(township, K.COUNTY)
    county_temps = [t for t in _children(d, county, K.TEMP_BRANCH) if t.can_receive] if county else []
    if not county_temps:
        where = county.name if county else "所在县区"
        return RouteProposal(None, "§I.1", head, problems=[f"{why}，且{where}尚未建立可接收的县级学社衔接临时团支部"])
    target = county_temps[0]
    return RouteProposal(
        target,
        "§I.1",
        f"{head} → §I.1 从9月份起由县级团组织建立的学社衔接临时团支部接收：{target.name}"
        "（县级团组织应当在一年内将其团组织关系转出）",
    )


def _abroad_study(c: _Ctx) -> RouteProposal:
    clause, d = "§I.5", c.directory
    head = "§I.5 出国（境）学习研究 → 保留在原就读学校，编入出国（境）学习研究团员团支部"
    school = d.nearest(c.from_org, K.SCHOOL)
    if school is None:
        return RouteProposal(
            None,
            clause,
            head,
            stays_at_school=True,
            problems=[f"“{c.from_org.name}”不属于学校团组织，无法将团组织关系保留在原就读学校"],
        )
    branches = [b for b in _children(d, school, K.ABROAD_STUDY_BRANCH) if b.can_receive]
    if not branches:
        return RouteProposal(
            None,
            clause,
            head,
            stays_at_school=True,
            problems=[f"{school.name}尚未建立可接收的出国（境）学习研究团员团支部，请学校团委先创建"],
        )
    target = branches[0]
    return RouteProposal(
        target,
        clause,
        f"{head}：{target.name}（须提交保留团组织关系的书面申请，经学校团委审批后登记造册备案）",
        stays_at_school=True,
    )


def _special_unit(c: _Ctx) -> RouteProposal:
    clause, d = "§I.3", c.directory
    unit = _get(c.form, "unit_kind")
    reason = "到涉密单位工作（参照参军入伍处理）" if unit == "classified" else UNIT_KIND_LABELS["military"]
    dest = "经省级团委审核后进入特殊单位专属库"
    offline = "；毕业学生团员须按有关规定同时办理线下团组织关系转接手续"
    head = _arrow(clause, reason, dest, None)
    province = _province_of(d, c.from_org)
    if province is None:
        return RouteProposal(
            None,
            clause,
            head + offline,
            needs_provincial_node=True,
            problems=[f"未找到“{c.from_org.name}”所属的省级团委"],
        )
    dbs = [o for o in _children(d, province, K.SPECIAL_UNIT_DB) if o.can_receive]
    if not dbs:
        return RouteProposal(
            None,
            clause,
            head + offline,
            needs_provincial_node=True,
            problems=[f"{province.name}尚未建立特殊单位专属库"],
        )
    target = dbs[0]
    return RouteProposal(target, clause, _arrow(clause, reason, dest, target) + offline, needs_provincial_node=True)


_RULES = {
    T.FURTHER_STUDY: _further_study,
    T.EMPLOYED_WITH_ORG: _employer,
    T.EMPLOYED_WITHOUT_ORG: _temp_branch,
    T.ABROAD_OFFICIAL: _employer,
    T.ABROAD_STUDY: _abroad_study,
    T.ABROAD_PRIVATE: _temp_branch,
    T.UNEMPLOYED: _temp_branch,
    T.SPECIAL_UNIT: _special_unit,
}


def _target_problems(
    ttype: TransferType, target: OrgInfo, partition_choice: PartitionChoice | None, from_org: OrgInfo | None
) -> list[str]:
    """What refuses any target, proposed or picked: outside the chosen partition (not for type 5,
    which stays at the member's own school), closed, or the member's current org."""
    out: list[str] = []
    if (
        partition_choice is not None
        and ttype is not T.ABROAD_STUDY
        and (p := target_partition_problem(partition_choice, target))
    ):
        out.append(p)
    if not target.can_receive:
        out.append(f"“{target.name}”当前暂不能接收转入")
    if from_org is not None and target.code == from_org.code:
        out.append(f"转入组织“{target.name}”与当前所在团组织相同")
    return out


def route(
    directory: Directory,
    transfer_type: TransferType | str,
    form: Any,
    *,
    from_org: OrgInfo,
    today: date,
    partition_choice: PartitionChoice | None = None,
    employer_org_code: str | None = None,
    admitting_school_code: str | None = None,
    graduation_year: int | None = None,
) -> RouteProposal:
    """Propose the target of a transfer and cite the clause that chose it.

    `form` is the validated form model or its dict; `from_org` the member's current branch;
    `today` a Shanghai date; `partition_choice` the answer to the partition question (None when
    it was not asked, e.g. 办理转入); `graduation_year` dates the §I.1 September rule.
    """
    ttype = TransferType(transfer_type)
    ctx = _Ctx(
        directory,
        ttype,
        form,
        from_org,
        today,
        partition_choice,
        employer_org_code,
        admitting_school_code,
        graduation_year,
    )
    proposal = _RULES[ttype](ctx)
    target = proposal.target
    if target is None:
        return proposal
    late = _target_problems(ttype, target, partition_choice, from_org)
    if late:
        return RouteProposal(
            None,
            proposal.clause,
            proposal.explanation,
            proposal.stays_at_school,
            proposal.needs_provincial_node,
            [*proposal.problems, *late],
        )
    return proposal


# ---- the initiator's own choice ------------------------------------------------------------------
def _kind_label(org: OrgInfo) -> str:
    try:
        return ORG_KIND_LABELS[OrgKind(org.kind)]
    except ValueError:
        return org.kind


def _is_county_temp_branch(directory: Directory, org: OrgInfo) -> bool:
    parent = directory.get(org.parent_code) if org.parent_code else None
    return org.kind == K.TEMP_BRANCH and parent is not None and parent.kind == K.COUNTY


def _is_employer_org(directory: Directory, org: OrgInfo) -> bool:
    if org.kind == K.ENTERPRISE:
        return True
    return org.kind == K.BRANCH and directory.nearest(org, K.ENTERPRISE) is not None


def _fits(directory: Directory, ttype: TransferType, target: OrgInfo) -> bool:
    kind = target.kind
    if ttype is T.FURTHER_STUDY:
        return kind in (K.SCHOOL, K.COLLEGE) or (kind == K.BRANCH and target.new_student)
    if ttype in (T.EMPLOYED_WITH_ORG, T.ABROAD_OFFICIAL):
        return _is_employer_org(directory, target)
    if ttype in (T.EMPLOYED_WITHOUT_ORG, T.ABROAD_PRIVATE):
        return kind == K.TEMP_BRANCH
    if ttype is T.UNEMPLOYED:
        return kind in (K.TEMP_BRANCH, K.VILLAGE)
    if ttype is T.ABROAD_STUDY:
        return kind == K.ABROAD_STUDY_BRANCH
    return kind == K.SPECIAL_UNIT_DB


def check_override(
    directory: Directory,
    transfer_type: TransferType | str,
    target: OrgInfo,
    *,
    partition_choice: PartitionChoice | None,
    today: date,
    from_org: OrgInfo | None = None,
    graduation_year: int | None = None,
) -> list[str]:
    """Why the initiator's own choice of target is refused (Chinese reasons; empty when it fits).

    The same calendar rule as routing's: a county-level 学社衔接临时团支部 receives only from 09-01
    of the graduation year (or of `today`'s year) (§I.1, 从9月份起)."""
    ttype = TransferType(transfer_type)
    out: list[str] = []
    year = graduation_year or today.year
    if _is_county_temp_branch(directory, target) and not county_temp_branch_allowed(today, year):
        out.append(
            f"“{target.name}”是县级团组织建立的学社衔接临时团支部；按《通知》一、1，从9月份起方由其接收"
            f"乡镇街道团组织接收确有困难的团员，{year}年9月1日前不能转入。请另选乡镇街道学社衔接临时团支部，或9月1日后再发起"
        )
    if not _fits(directory, ttype, target):
        out.append(
            f"转接类型“{TRANSFER_TYPE_LABELS[ttype]}”应转入{FITTING_TARGETS[ttype]}，"
            f"“{target.name}”是{_kind_label(target)}"
        )
    elif ttype is T.ABROAD_STUDY and from_org is not None:
        school = directory.nearest(from_org, K.SCHOOL)
        if school is None or target.parent_code != school.code:
            out.append(f"“{target.name}”不是原就读学校的出国（境）学习研究团员团支部")
    elif ttype is T.SPECIAL_UNIT and directory.nearest(target, K.PROVINCE) is None:
        out.append(f"“{target.name}”之上没有省级团委，无法审批")
    out.extend(_target_problems(ttype, target, partition_choice, from_org))
    return out
