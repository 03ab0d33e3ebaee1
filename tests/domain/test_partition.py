"""The 北京/广东/福建 partition rule (A2 note 2)."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from domain.directory import OrgInfo
from domain.orgs import Partition
from domain.partition import PartitionChoice, partition_filter, target_partition_problem

HUBEI_TEMP = OrgInfo("HB-TMP", "关山街道学社衔接临时团支部", "temp_branch", partition="national")
BJ_TEMP = OrgInfo("BJ-TMP", "中关村街道学社衔接临时团支部", "temp_branch", partition="beijing")
GD_TEMP = OrgInfo("GD-TMP", "石牌街道学社衔接临时团支部", "temp_branch", partition="guangdong")
FJ_TEMP = OrgInfo("FJ-TMP", "嘉莲街道学社衔接临时团支部", "temp_branch", partition="fujian")


@pytest.mark.parametrize(
    "choice, allowed",
    [
        (PartitionChoice(is_special=False), {Partition.NATIONAL}),
        (PartitionChoice(is_special=True, which="beijing"), {Partition.BEIJING}),
        (PartitionChoice.special("guangdong"), {Partition.GUANGDONG}),
        (PartitionChoice.special(Partition.FUJIAN), {Partition.FUJIAN}),
    ],
)
def test_partition_filter(choice, allowed):
    assert partition_filter(choice) == allowed


@pytest.mark.parametrize(
    "data",
    [
        {"is_special": True},  # yes but which?
        {"is_special": True, "which": None},
        {"is_special": False, "which": "beijing"},  # no but names one
        {"is_special": True, "which": "national"},
        {"is_special": True, "which": "shanghai"},
        {"is_special": False, "extra": 1},
    ],
)
def test_inconsistent_choices_refused(data):
    with pytest.raises(ValidationError):
        PartitionChoice.model_validate(data)


@pytest.mark.parametrize(
    "choice, target, fragment",
    [
        (PartitionChoice.national(), HUBEI_TEMP, None),
        (PartitionChoice.special("beijing"), BJ_TEMP, None),
        (PartitionChoice.special("guangdong"), GD_TEMP, None),
        (PartitionChoice.special("fujian"), FJ_TEMP, None),
        # chose 北京 but the target is national
        (
            PartitionChoice.special("beijing"),
            HUBEI_TEMP,
            "已选择转入组织属于北京，但“关山街道学社衔接临时团支部”不是北京的团组织",
        ),
        # chose 否 but the target is in 广东
        (PartitionChoice.national(), GD_TEMP, "请在“转入组织（新组织）是否属于北京／广东／福建”中选择“是”并选择广东"),
        # chose 广东 but the target is in 福建
        (PartitionChoice.special("guangdong"), FJ_TEMP, "属于福建"),
    ],
)
def test_target_partition_problem(choice, target, fragment):
    got = target_partition_problem(choice, target)
    if fragment is None:
        assert got is None
    else:
        assert got is not None and fragment in got, got


@pytest.mark.parametrize(
    "partition, special", [("national", False), ("beijing", True), ("guangdong", True), ("fujian", True)]
)
def test_choice_for_an_orgs_partition(partition, special):
    choice = PartitionChoice.for_partition(partition)
    assert choice.is_special is special and choice.partition == partition


def test_choice_round_trips_through_json():
    c = PartitionChoice.special("fujian")
    assert PartitionChoice.model_validate_json(c.model_dump_json()) == c
    assert c.label == "福建"


# A2 note 2: where the question is asked (办理转出, 个人发起) it is mandatory for a target in one of
# the three partitions; a given answer must fit the target wherever it was given.
from domain.partition import partition_answer_problem  # noqa: E402


@pytest.mark.parametrize(
    "asked, choice, target, fragment",
    [
        (True, None, GD_TEMP, "须回答"),
        (True, None, BJ_TEMP, "北京"),
        (True, None, HUBEI_TEMP, None),  # outside the three partitions an unanswered question is no problem
        (False, None, GD_TEMP, None),  # 办理转入 does not ask
        (True, PartitionChoice.special("guangdong"), GD_TEMP, None),
        (True, PartitionChoice.national(), GD_TEMP, "属于广东"),
        (False, PartitionChoice.special("fujian"), GD_TEMP, "不是福建"),
    ],
)
def test_partition_answer_problem(asked, choice, target, fragment):
    got = partition_answer_problem(asked, choice, target)
    if fragment is None:
        assert got is None
    else:
        assert got is not None and fragment in got, got
