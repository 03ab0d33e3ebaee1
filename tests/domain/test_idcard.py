from datetime import date

import pytest

from domain import idcard


@pytest.mark.parametrize(
    "raw, rules",
    [
        ("11010519491231002X", []),
        ("11010519491231002x", []),  # lower-case x is the same ID
        (" 440524188001010014 ", []),
        ("130402198207290622", ["checksum"]),
        ("4401052001022900", ["length"]),  # 16 characters
        ("4401052001022900123", ["length"]),  # 19
        ("", ["length"]),
        ("44010520010229001A", ["format"]),
        ("X40105200102290011", ["format"]),
        ("440105200102290017", ["birth_date"]),  # 2001-02-29 does not exist (checksum correct)
        ("440105200113010017", ["birth_date"]),  # month 13
        ("440105200113010015", ["birth_date", "checksum"]),
    ],
)
def test_problems(raw, rules):
    assert [p.rule for p in idcard.problems(raw, today=date(2026, 11, 26))] == rules


def test_birth_date_in_future_refused():
    first17 = "42010620300101001"
    future = first17 + idcard.check_character(first17)
    assert [p.rule for p in idcard.problems(future, today=date(2026, 11, 26))] == ["birth_date"]


def test_problem_messages_are_chinese_and_name_the_rule():
    (p,) = idcard.problems("130402198207290622")
    assert "校验位" in p.message


@pytest.mark.parametrize("seq", [0, 1, 17, 999])
def test_make_id_round_trips(seq):
    made = idcard.make_id("420111", date(2003, 7, 9), seq)
    assert idcard.is_valid(made)
    assert idcard.birth_date(made) == date(2003, 7, 9)


@pytest.mark.parametrize(
    "raw, masked",
    [
        ("11010519491231002X", "110105********002X"),
        ("420106200301011234", "420106********1234"),
        ("123", "***"),
    ],
)
def test_mask(raw, masked):
    assert idcard.mask(raw) == masked


@pytest.mark.parametrize(
    "text, expected",
    [
        ("member 11010519491231002X moved", "member 110105********002X moved"),
        ("a=440524188001010014,b=11010519491231002x", "a=440524********0014,b=110105********002x"),
        ("order 12345678901234567890 stays", "order 12345678901234567890 stays"),  # 20 digits: not an ID
        ("phone 13800138000", "phone 13800138000"),
        ("中文11010519491231002X中文", "中文110105********002X中文"),
    ],
)
def test_mask_text(text, expected):
    assert idcard.mask_text(text) == expected
