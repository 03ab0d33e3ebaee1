"""Age rules for members and graduating members (DOMAIN.md §3). Pure; `today` is always a parameter.

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
