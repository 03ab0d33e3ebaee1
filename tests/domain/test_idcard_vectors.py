"""More 身份证号 vectors (GB 11643-1999, DOMAIN.md §3): checksums, real dates, lengths, formats."""

from __future__ import annotations

from datetime import date

import pytest

from domain import idcard

TODAY = date(2026, 7, 1)
#: The standard's weights and check characters, written out (not taken from the module).
STD_WEIGHTS = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2]
STD_CHECK = "10X98765432"


def std_check(first17: str) -> str:
    return STD_CHECK[sum(int(d) * w for d, w in zip(first17, STD_WEIGHTS)) % 11]


def test_module_weights_are_the_standards():
    assert list(idcard.WEIGHTS) == STD_WEIGHTS


@pytest.mark.parametrize(
    "raw, rules",
    [
        # the vectors
        ("11010519491231002X", []),
        ("440524188001010014", []),
        ("130402198207290622", ["checksum"]),
        ("130402198207290621", ["checksum"]),
        # a check character of X, and the same ID with other check characters
        ("42011120030709008X", []),
        ("420111200307090080", ["checksum"]),
        ("420111200307090089", ["checksum"]),
        # leap days: 2000-02-29 is real, 1900-02-29 is not (1900 is not a leap year)
        ("110105200002290013", []),
        ("110105190002290017", ["birth_date"]),
        # impossible dates (check characters correct, so only the date is wrong)
        ("110105200104310011", ["birth_date"]),  # April 31
        ("110105200101000018", ["birth_date"]),  # day 00
        ("110105200101320011", ["birth_date"]),  # day 32
        ("110105200100010011", ["birth_date"]),  # month 00
        ("110105000001010018", ["birth_date", "checksum"]),  # year 0000
        # lengths: the old 15-digit IDs are not accepted; 17 and 19 neither
        ("110105491231002", ["length"]),
        ("11010519491231002", ["length"]),
        ("11010519491231002X1", ["length"]),
        # formats
        ("11010519491231002Y", ["format"]),
        ("1101051949123100X2", ["format"]),
        ("11010519491231002Ｘ", ["format"]),  # full-width X
        ("110105-9491231002X", ["format"]),
        # blanks and case are normalised
        ("  11010519491231002x\t", []),
        ("110105 19491231 002X", []),
    ],
)
def test_vectors(raw, rules):
    assert [p.rule for p in idcard.problems(raw, today=TODAY)] == rules


@pytest.mark.parametrize(
    "id_number",
    ["11010519491231002X", "440524188001010014", "42011120030709008X", "110105200002290013"],
)
def test_valid_vectors_agree_with_the_standard(id_number):
    assert std_check(id_number[:17]) == id_number[17]
    assert idcard.check_character(id_number[:17]) == id_number[17]


def test_every_check_character_occurs():
    # sequences 000..999 of one birth date cover all 11 check characters; the module agrees throughout
    seen = set()
    for seq in range(1000):
        first17 = f"42011120030709{seq:03d}"
        assert idcard.check_character(first17) == std_check(first17)
        seen.add(std_check(first17))
    assert seen == set(STD_CHECK)


@pytest.mark.parametrize(
    "raw, born",
    [
        ("11010519491231002X", date(1949, 12, 31)),
        ("440524188001010014", date(1880, 1, 1)),
        ("110105200002290013", date(2000, 2, 29)),
    ],
)
def test_birth_date(raw, born):
    assert idcard.birth_date(raw) == born


def test_born_today_is_valid_born_tomorrow_is_not():
    today = idcard.make_id("420111", TODAY, 1)
    assert idcard.is_valid(today, today=TODAY)
    tomorrow = idcard.make_id("420111", date(2026, 7, 2), 1)
    assert [p.rule for p in idcard.problems(tomorrow, today=TODAY)] == ["birth_date"]


@pytest.mark.parametrize("bad", ["1234567890123456", "12345678901234567890", "4201112003070900"])
def test_check_character_needs_17_digits(bad):
    with pytest.raises(ValueError):
        idcard.check_character(bad)


@pytest.mark.parametrize(
    "area, seq",
    [("42011", 1), ("42011a", 1), ("420111", -1), ("420111", 1000)],
)
def test_make_id_refuses_bad_parts(area, seq):
    with pytest.raises(ValueError):
        idcard.make_id(area, date(2003, 7, 9), seq)


# Non-ASCII digits pass str.isdigit(); they must not make an ID (the same person twice) or crash.
def test_full_width_digits_refused():
    assert [p.rule for p in idcard.problems("１１０１０５１９４９１２３１００２X", today=TODAY)] == ["format"]


def test_superscript_digits_give_a_problem_not_an_exception():
    assert [p.rule for p in idcard.problems("²" * 17 + "1", today=TODAY)] == ["format"]
