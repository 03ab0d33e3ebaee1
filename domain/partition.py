"""The system partition rule (A2 note 2, DOMAIN.md §2). Pure.

办理转出 and 个人发起 first ask "转入组织（新组织）是否属于北京／广东／福建". Yes + which → the org
picker shows only that province's orgs; no → every org except those three provinces. A target
outside the chosen partition is refused, both ways.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, model_validator

from domain.directory import OrgInfo
from domain.glossary import PARTITION_LABELS, PARTITION_QUESTION
from domain.orgs import Partition
from domain.transfers import Channel

SPECIAL_PARTITIONS = frozenset({Partition.BEIJING, Partition.GUANGDONG, Partition.FUJIAN})

#: The channels whose forms ask the partition question (A2 note 2: 办理转出 and 个人发起).
PARTITION_CHANNELS = frozenset({Channel.OUT, Channel.SELF})


class PartitionChoice(BaseModel):
    """The answer to the partition question: is_special, and which of the three when yes."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    is_special: bool
    which: Literal["beijing", "guangdong", "fujian"] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> PartitionChoice:
        if self.is_special and self.which is None:
            raise ValueError(f"{PARTITION_QUESTION}选择“是”时，须选择北京、广东或福建")
        if not self.is_special and self.which is not None:
            raise ValueError(f"{PARTITION_QUESTION}选择“否”时，不应选择具体省（市）")
        return self

    @classmethod
    def national(cls) -> PartitionChoice:
        return cls(is_special=False)

    @classmethod
    def special(cls, which: Partition | str) -> PartitionChoice:
        return cls(is_special=True, which=str(which))

    @classmethod
    def for_partition(cls, partition: Partition | str) -> PartitionChoice:
        """The answer that fits an org of this partition (e.g. when the receiving org starts it)."""
        p = Partition(partition)
        return cls.special(p) if p in SPECIAL_PARTITIONS else cls.national()

    @property
    def partition(self) -> Partition:
        return Partition(self.which) if self.is_special and self.which else Partition.NATIONAL

    @property
    def label(self) -> str:
        return PARTITION_LABELS[self.partition]


def partition_filter(choice: PartitionChoice) -> set[Partition]:
    """The partitions the org picker may show for this answer."""
    return {choice.partition}


def target_partition_problem(choice: PartitionChoice, target: OrgInfo) -> str | None:
    """Why `target` does not fit the answer (Chinese), or None."""
    if target.partition in {str(p) for p in partition_filter(choice)}:
        return None
    try:
        target_label = PARTITION_LABELS[Partition(target.partition)]
    except ValueError:
        target_label = str(target.partition)
    if choice.is_special:
        return (
            f"已选择转入组织属于{choice.label}，但“{target.name}”不是{choice.label}的团组织"
            f"（属于{target_label}）；请重新选择转入组织，或更正“{PARTITION_QUESTION}”（操作说明注意事项2）"
        )
    return (
        f"已选择转入组织不属于北京／广东／福建，但“{target.name}”属于{target_label}；"
        f"请在“{PARTITION_QUESTION}”中选择“是”并选择{target_label}（操作说明注意事项2）"
    )


def partition_answer_problem(asked: bool, choice: PartitionChoice | None, target: OrgInfo) -> str | None:
    """Why the answer to the partition question does not fit `target` (Chinese), or None.

    Where the question is asked (`asked`: 办理转出 and 个人发起, A2 note 2) it is mandatory for a
    target in 北京/广东/福建's partitions: their orgs can only be picked by answering “是” and
    naming the province. An answer that was given must fit the target on every channel."""
    if choice is not None:
        return target_partition_problem(choice, target)
    if asked and target.partition in {str(p) for p in SPECIAL_PARTITIONS}:
        label = PARTITION_LABELS[Partition(target.partition)]
        return (
            f"“{target.name}”属于{label}：办理转出和个人发起须回答“{PARTITION_QUESTION}”，"
            f"选择“是”并选择{label}（操作说明注意事项2）"
        )
    return None
