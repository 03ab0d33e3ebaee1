"""Who may be moved (DOMAIN.md §3, and who may use 学社衔接 after §7). Pure; `today` is always a parameter.

- A member is aged 14–28: **[decision]** (the brief) the age in whole years on `today` must be
  between 14 and 28 inclusive.
- A graduate is moved only if under 28 in the graduation month. **[decision]** Measured on the
  first day of the graduation month of the graduation year: the age that day must be < 28, i.e.
  the 28th birthday falls after that first day. (A member turning 28 on 07-01 is not moved in a
  July graduation; one turning 28 on 07-02 is.)
- Ages are whole years; **[decision]** someone born on 02-29 turns a year older on 03-01 in a
  common year (the birthday has not come while the day is before (month, day) of birth).
"""

from __future__ import annotations

from datetime import date

from domain import idcard
from domain.directory import Directory, OrgInfo
from domain.orgs import OrgKind

MEMBER_MIN_AGE = 14
MEMBER_MAX_AGE = 28
GRADUATE_AGE_LIMIT = 28  # must be under this in the graduation month
DEFAULT_GRADUATION_MONTH = 7


def age_on(birth: date, day: date) -> int:
    """Age in whole years on `day` (negative never: 0 before the first birthday)."""
    years = day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))
    return max(years, 0)


def _id_problem(id_number: str, today: date) -> str | None:
    found = idcard.problems(id_number, today=today)
    return found[0].message if found else None


def member_age_problem(id_number: str, today: date) -> str | None:
    """Why this 身份证号 cannot be a member's on `today` (bad ID, or not aged 14–28), else None."""
    bad = _id_problem(id_number, today)
    if bad:
        return bad
    age = age_on(idcard.birth_date(id_number), today)
    if age < MEMBER_MIN_AGE:
        return f"团员年龄应为{MEMBER_MIN_AGE}至{MEMBER_MAX_AGE}周岁，按身份证号计算该人员现年{age}周岁，未满{MEMBER_MIN_AGE}周岁"
    if age > MEMBER_MAX_AGE:
        return f"团员年龄应为{MEMBER_MIN_AGE}至{MEMBER_MAX_AGE}周岁，按身份证号计算该人员现年{age}周岁，已超过{MEMBER_MAX_AGE}周岁"
    return None


def graduation_month_start(graduation_year: int, graduation_month: int = DEFAULT_GRADUATION_MONTH) -> date:
    return date(graduation_year, graduation_month, 1)


def graduate_transfer_problem(
    id_number: str,
    graduation_year: int,
    graduation_month: int = DEFAULT_GRADUATION_MONTH,
    *,
    today: date,
) -> str | None:
    """Why a graduate with this 身份证号 is not moved (bad ID, or 28 by the graduation month), else None."""
    bad = _id_problem(id_number, today)
    if bad:
        return bad
    if not 1 <= graduation_month <= 12:
        return f"毕业月份{graduation_month}无效，应为1至12"
    born = idcard.birth_date(id_number)
    first = graduation_month_start(graduation_year, graduation_month)
    age = age_on(born, first)
    if age >= GRADUATE_AGE_LIMIT:
        return (
            f"毕业学生团员须在毕业当月未满{GRADUATE_AGE_LIMIT}周岁方可办理学社衔接转接；"
            f"该团员出生于{born.year}年{born.month}月{born.day}日，{first.year}年{first.month}月1日已满{age}周岁"
        )
    return None


# ---- who may use 学社衔接 ------------------------------------------------------------------------
#: [decision] (DOMAIN.md, after §7) A campaign year Y runs from 06-01 of Y to 05-31 of Y+1.
CAMPAIGN_START = (6, 1)

#: Branch kinds under a school that hold graduating students (ordinary, 流动, 出国（境）学习研究,
#: 延迟毕业 branches); a school's colleges and committees hold no members.
_SCHOOL_BRANCH_KINDS = frozenset(
    {OrgKind.BRANCH, OrgKind.MOBILE_BRANCH, OrgKind.ABROAD_STUDY_BRANCH, OrgKind.DELAYED_BRANCH}
)

NO_GRADUATION_YEAR_MESSAGE = (
    "该团员没有毕业年份，无法确认是否为毕业学生团员：请在团员名册（团员导入模板的 graduation_year 列）"
    "补充毕业年份并重新导入后再办理"
)


def campaign_year(today: date) -> int:
    """The campaign year `today` falls in (06-01 to the next 05-31)."""
    return today.year if (today.month, today.day) >= CAMPAIGN_START else today.year - 1


def xueshe_problem(directory: Directory, branch: OrgInfo, graduation_year: int | None, *, today: date) -> str | None:
    """Why a member of `branch` may not use 学社衔接 (Chinese, naming the rule), or None.

    [decision] (DOMAIN.md, after §7; notice §I, §I.1, §II.2) 学社衔接 is for graduating students:
    a member of a branch under a school whose graduation year is not after the current campaign
    year (an earlier graduate still at school is overdue, not ineligible), or a member held in a
    学社衔接临时团支部 (township or county level), who came through 学社衔接 and must be moved on."""
    kind = branch.kind_enum
    if kind == OrgKind.TEMP_BRANCH:
        return None
    if kind == OrgKind.SPECIAL_UNIT_DB:
        return (
            "该团员已转入特殊单位专属库集中管理（《通知》一、3），其团组织关系须按有关规定线下办理，"
            "不能再通过学社衔接转出"
        )
    if kind not in _SCHOOL_BRANCH_KINDS or directory.nearest(branch, OrgKind.SCHOOL) is None:
        return (
            f"学社衔接只办理毕业学生团员的团组织关系转接（《通知》一）：该团员所在的“{branch.name}”"
            "不是学校团组织下的团支部，也不是学社衔接临时团支部"
        )
    if graduation_year is None:
        return NO_GRADUATION_YEAR_MESSAGE
    year = campaign_year(today)
    if graduation_year > year:
        delayed = "（已标记延迟毕业）" if kind == OrgKind.DELAYED_BRANCH else ""
        return (
            f"该团员{graduation_year}年毕业{delayed}，不是{year}年（含往届）毕业学生团员：学社衔接只办理已到毕业年份的"
            f"学生团员（《通知》一），{graduation_year}年6月1日起方可办理"
        )
    return None
