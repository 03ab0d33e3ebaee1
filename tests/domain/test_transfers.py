"""Transfer vocabulary (DOMAIN.md §4–§5): the grounds a node may return a request on (§III.4)."""

from __future__ import annotations

import pytest

from domain.transfers import FORBIDDEN_GROUND_MESSAGE, TransferStatus, return_ground_problem

FORBIDDEN = FORBIDDEN_GROUND_MESSAGE


@pytest.mark.parametrize(
    "case, code, text, problem",
    [
        ("allowed-code-with-text", "form_incomplete", "入团时间填写有误", None),
        ("allowed-code-without-text", "duplicate", "", None),
        ("wrong-target", "wrong_target", "应转入关山街道学社衔接临时团支部", None),
        ("not-this-member", "not_this_member", "  ", None),
        ("other-with-text", "other", "请补充说明", None),
        ("text-at-the-limit", "duplicate", "重" * 500, None),
        ("unknown-code", "bogus", "", "退回原因代码 'bogus' 无效"),
        ("forbidden-code-employee", "not_formal_employee", "", FORBIDDEN),
        ("forbidden-code-resident", "not_local_resident", "请补充说明", FORBIDDEN),
        ("forbidden-phrase-under-other", "other", "该同学非本地户籍", FORBIDDEN),
        ("forbidden-phrase-under-allowed-code", "form_incomplete", "不是本单位正式员工", FORBIDDEN),
        ("forbidden-phrase-no-establishment", "wrong_target", "本单位没有编制", FORBIDDEN),
        ("forbidden-phrase-hukou", "other", "户口不在本地", FORBIDDEN),
        ("other-without-text", "other", "", "选择“其他”时须填写退回说明"),
        ("other-blank-text", "other", "   ", "选择“其他”时须填写退回说明"),
        ("text-too-long", "duplicate", "重" * 501, "退回说明不超过500字"),
    ],
)
def test_return_ground_problem(case, code, text, problem):
    got = return_ground_problem(code, text)
    if problem is None:
        assert got is None, got
    else:
        assert got is not None and problem in got, got


def test_an_unknown_code_lists_only_the_allowed_codes():
    got = return_ground_problem("bogus", "")
    assert got is not None
    assert got.endswith("form_incomplete、wrong_target、not_this_member、duplicate、other")


@pytest.mark.parametrize(
    "status, is_open",
    [
        (TransferStatus.PENDING, True),
        (TransferStatus.RETURNED, True),
        (TransferStatus.AWAITING_ASSIGNMENT, True),
        (TransferStatus.COMPLETED, False),
        (TransferStatus.WITHDRAWN, False),
        (TransferStatus.EXPIRED, False),
    ],
)
def test_open_transfer_statuses(status, is_open):
    assert status.is_open is is_open


# §III.4 in free text: the paraphrases an admin might write, and their obvious variants, are
# refused under every reason code; text that names 户籍 or 单位 only to point at the right place is not.
REFUSED_PHRASINGS = [
    "外省户籍，不予接收",
    "户口不在我街道",
    "不是本单位在编人员",
    "非我单位员工",
    "没有编制",
    "本地户籍才能接收",
    "不是正式职工，无法接收",
    "外地户口不接收",
    "该生非本地户籍",
    "户籍不在本地",
    "不属于本单位员工",
    "外省户籍，不予接收，应转至原籍",  # a refusal stays one, whatever it points to
    "非 本 单 位 员 工",
    "只接收本地户口",
    "不是本社区居民",
    "该团员不是我单位的职工",
    "限本地户籍",
    "户口在外省",
    "外地人不予办理",
    "ｎｏｔ：非本单位正式员工",  # full-width letters are normalised (NFKC)
]
ACCEPTED_PHRASINGS = [
    "户籍地在洪山区，应转至洪山区对应街道",
    "户籍不在本区，应转至洪山区对应街道",
    "填写的户籍地址不完整",
    "工作单位名称有误",
    "单位没有团组织，应转至所在地街道临时团支部",
    "请补充居住地详细地址",
    "重复申请",
    "身份证号与姓名不符",
]


@pytest.mark.parametrize("code", ["other", "wrong_target", "form_incomplete"])
@pytest.mark.parametrize("text", REFUSED_PHRASINGS)
def test_forbidden_grounds_are_refused_however_worded(code, text):
    assert return_ground_problem(code, text) == FORBIDDEN_GROUND_MESSAGE


@pytest.mark.parametrize("text", ACCEPTED_PHRASINGS)
def test_grounds_that_point_at_the_right_place_are_accepted(text):
    assert return_ground_problem("wrong_target", text) is None


# Who may start what (§I preamble: the school, the receiving org or the member; §I.3: 转往特殊单位
# 团组织 only the school or the member).
from domain.transfers import Channel, TransferType, start_channel_problem  # noqa: E402


@pytest.mark.parametrize("ttype", list(TransferType))
@pytest.mark.parametrize("channel", list(Channel))
def test_start_channels(ttype, channel):
    refused = ttype is TransferType.SPECIAL_UNIT and channel is Channel.IN
    got = start_channel_problem(ttype, channel)
    assert (got is not None) is refused
    if refused:
        assert "《通知》一、3" in got
