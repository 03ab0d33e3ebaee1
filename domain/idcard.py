"""身份证号 (GB 11643-1999 citizen identity number) rules. Pure functions, no I/O.

An ID is 17 digits and a check character (0-9 or X). The check character is
"10X98765432"[sum(d_i * 2^(17-i) mod 11) mod 11]; digits 7-14 are a real birth date.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date

CHECK_CHARS = "10X98765432"
WEIGHTS = tuple(pow(2, 17 - i, 11) for i in range(17))  # 7,9,10,5,8,4,2,1,6,3,7,9,10,5,8,4,2

#: Anything that looks like an 18-character ID inside free text (used by log masking).
ID_LIKE = re.compile(r"(?<![0-9A-Za-z])(\d{6})(\d{8})(\d{3}[0-9Xx])(?![0-9A-Za-z])")


@dataclass(frozen=True)
class IdProblem:
    rule: str  # machine code
    message: str  # Chinese, shown to people


def _ascii_digits(s: str) -> bool:
    """Only 0-9: str.isdigit() also accepts full-width and superscript digits."""
    return s.isascii() and s.isdigit()


def check_character(first17: str) -> str:
    """The check character for 17 leading digits."""
    if len(first17) != 17 or not _ascii_digits(first17):
        raise ValueError("check_character needs exactly 17 digits")
    total = sum(int(d) * w for d, w in zip(first17, WEIGHTS, strict=True))
    return CHECK_CHARS[total % 11]


def normalize(raw: str) -> str:
    """Strip blanks and upper-case a trailing x; the stored form of an ID."""
    return raw.strip().replace(" ", "").upper()


def birth_date(id_number: str) -> date:
    """Birth date encoded in a (syntactically valid) ID; ValueError if it is not a real date."""
    s = normalize(id_number)
    return date(int(s[6:10]), int(s[10:12]), int(s[12:14]))


def problems(raw: str, *, today: date | None = None) -> list[IdProblem]:
    """Every rule the ID breaks (empty when valid)."""
    s = normalize(raw or "")
    if len(s) != 18:
        return [IdProblem("length", f"身份证号应为18位，实际为{len(s)}位")]
    if not _ascii_digits(s[:17]) or not (_ascii_digits(s[17]) or s[17] == "X"):
        return [IdProblem("format", "身份证号前17位须为数字，最后一位为数字或X")]
    out: list[IdProblem] = []
    try:
        born = birth_date(s)
    except ValueError:
        out.append(IdProblem("birth_date", f"身份证号中的出生日期{s[6:14]}不是有效日期"))
    else:
        if born > (today or date.today()):
            out.append(IdProblem("birth_date", f"身份证号中的出生日期{s[6:14]}晚于今天"))
    if check_character(s[:17]) != s[17]:
        out.append(IdProblem("checksum", "身份证号校验位不正确"))
    return out


def is_valid(raw: str, *, today: date | None = None) -> bool:
    return not problems(raw, today=today)


def mask(id_number: str) -> str:
    """420106********1234: first 6 and last 4 kept, the birth date and sequence hidden."""
    s = normalize(id_number)
    if len(s) < 10:
        return "*" * len(s)
    return s[:6] + "*" * (len(s) - 10) + s[-4:]


def mask_text(text: str) -> str:
    """Mask every 18-character ID found anywhere in a text."""
    return ID_LIKE.sub(lambda m: m.group(1) + "********" + m.group(3)[-4:], text)


def make_id(area_code: str, born: date, sequence: int) -> str:
    """Build a valid ID from a 6-digit area code, a birth date and a 3-digit sequence."""
    if len(area_code) != 6 or not _ascii_digits(area_code):
        raise ValueError("area code must be 6 digits")
    if not 0 <= sequence <= 999:
        raise ValueError("sequence must be 0..999")
    first17 = f"{area_code}{born:%Y%m%d}{sequence:03d}"
    return first17 + check_character(first17)
