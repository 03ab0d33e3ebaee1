"""The glossary labels every value of every domain vocabulary people see."""

from __future__ import annotations

from enum import StrEnum

import pytest

from domain import glossary as g
from domain.holdings import HoldingKind, HoldingStatus, RegisterKind, RetentionStatus
from domain.orgs import OrgKind, Partition
from domain.roles import Role
from domain.transfers import ActorKind, Channel, NodeRole, NodeStatus, ReturnReason, TransferStatus, TransferType


@pytest.mark.parametrize(
    "labels, vocabulary",
    [
        (g.ORG_KIND_LABELS, OrgKind),
        (g.PARTITION_LABELS, Partition),
        (g.USER_ROLE_LABELS, Role),
        (g.TRANSFER_TYPE_LABELS, TransferType),
        (g.CHANNEL_LABELS, Channel),
        (g.TRANSFER_STATUS_LABELS, TransferStatus),
        (g.NODE_STATUS_LABELS, NodeStatus),
        (g.NODE_ROLE_LABELS, NodeRole),
        (g.ACTOR_KIND_LABELS, ActorKind),
        (g.RETURN_REASON_LABELS, ReturnReason),
        (g.HOLDING_KIND_LABELS, HoldingKind),
        (g.HOLDING_STATUS_LABELS, HoldingStatus),
        (g.RETENTION_STATUS_LABELS, RetentionStatus),
        (g.REGISTER_LABELS, RegisterKind),
    ],
)
def test_every_value_has_one_label(labels: dict[str, str], vocabulary: type[StrEnum]):
    assert set(labels) == set(vocabulary)
    assert all(label.strip() for label in labels.values())


@pytest.mark.parametrize("role, label", [("admin", "组织管理员"), ("member", "团员"), ("service", "服务账号")])
def test_a_users_role_column_value_finds_its_label(role, label):
    assert g.USER_ROLE_LABELS[role] == label == g.USER_ROLE_LABELS[Role(role)]
