"""Pure cell parsers shared by the org and member importers (no I/O)."""

from __future__ import annotations

import re
from datetime import date
from zoneinfo import ZoneInfo

from core.clock import calendar

SHANGHAI = ZoneInfo("Asia/Shanghai")

TRUE_WORDS = frozenset({"true", "是", "1", "yes", "y"})
FALSE_WORDS = frozenset({"false", "否", "0", "no", "n"})
BOOL_HINT = "true/false（也可填 是/否、1/0）"

ISO_DATE = re.compile(r"^(\d{4})-(\d{2})-(\d{2})$")
#: "1.10105E+17": what Excel shows (and saves to CSV) for a long number typed as a number.
SCIENTIFIC = re.compile(r"^[+-]?\d+(\.\d+)?[eE][+-]?\d+$")


def today_shanghai() -> date:
    """Today on the one calendar clock (`core.clock`): the date the import's age rules read."""
    return calendar().today()


def parse_bool(text: str) -> bool | None:
    """true/false, 是/否, 1/0, yes/no (case-insensitive); None when it is none of them."""
    t = text.strip().lower()
    if t in TRUE_WORDS:
        return True
    if t in FALSE_WORDS:
        return False
    return None


def parse_iso_date(text: str) -> date | None:
    """A YYYY-MM-DD date; None when the text is not one or names no real day."""
    m = ISO_DATE.match(text.strip())
    if not m:
        return None
    try:
        return date(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    except ValueError:
        return None


def parse_int(text: str) -> int | None:
    t = text.strip()
    if re.fullmatch(r"[+-]?\d+", t):
        return int(t)
    return None


def looks_scientific(text: str) -> bool:
    return bool(SCIENTIFIC.match(text.strip()))


def clip(text: str, n: int = 30) -> str:
    """A cell value quoted in a message, shortened."""
    return text if len(text) <= n else text[: n - 1] + "…"
