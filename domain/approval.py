"""Approval chains (DOMAIN.md §5): which orgs decide a transfer, in which order. Pure.

National chain (the default): 办理转出 → the receiving side decides; 办理转入 → the sending side
decides; 个人发起 → the sending side, then the receiving side. The initiating org's own node is
recorded approved at submission. Type 8 adds the provincial committee (§I.3). A partition may
choose the four-node chain 转出团支部 → 其上级 → 转入团支部 → 其上级 (Guangdong's own system);
the receiving org's partition picks the chain. Each node names the org whose admins decide it:
a branch without approval authority is decided by its nearest ancestor committee that has it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from domain.directory import Directory, OrgInfo
from domain.orgs import OrgKind, Partition
from domain.transfers import Channel, NodeRole, TransferType


class ChainKind(StrEnum):
    NATIONAL = "national"
    FOUR_NODE = "four_node"


#: [decision] the per-partition chain policy; partitions not listed use the national chain.
PARTITION_CHAINS: dict[str, ChainKind] = {Partition.GUANGDONG: ChainKind.FOUR_NODE}


@dataclass(frozen=True)
class NodePlan:
    org_code: str
    org_name: str
    role: NodeRole
    approved_at_submission: bool = False


class ChainError(ValueError):
    """The directory cannot give this transfer a chain (e.g. no provincial committee above the target)."""


def chain_kind_for(target: OrgInfo) -> ChainKind:
    return PARTITION_CHAINS.get(target.partition, ChainKind.NATIONAL)


def _node(org: OrgInfo, role: NodeRole) -> NodePlan:
    return NodePlan(org.code, org.name, role)


def _side_nodes(directory: Directory, org: OrgInfo, kind: ChainKind, sending: bool) -> list[NodePlan]:
    role, superior_role = (
        (NodeRole.SENDING, NodeRole.SENDING_SUPERIOR) if sending else (NodeRole.RECEIVING, NodeRole.RECEIVING_SUPERIOR)
    )
    if kind is ChainKind.FOUR_NODE:
        parent = directory.parent(org)
        nodes = [_node(org, role)]
        if parent is not None:
            nodes.append(_node(directory.approver(parent), superior_role))
        return nodes
    return [_node(directory.approver(org), role)]


def approval_chain(
    directory: Directory,
    *,
    transfer_type: TransferType,
    channel: Channel,
    from_org: OrgInfo,
    target: OrgInfo,
    initiator_org_code: str | None = None,
) -> list[NodePlan]:
    """The nodes in order; those of the initiating org are marked approved at submission."""
    kind = chain_kind_for(target)
    sending = _side_nodes(directory, from_org, kind, sending=True)
    receiving = _side_nodes(directory, target, kind, sending=False)

    if channel is Channel.IN:
        nodes = receiving + sending
        initiator_side = receiving
    else:
        nodes = sending + receiving
        initiator_side = sending if channel is Channel.OUT else []

    if transfer_type is TransferType.SPECIAL_UNIT:
        province = directory.nearest(target, OrgKind.PROVINCE)
        if province is None:
            raise ChainError(f"{target.name} 之上没有省级团委，无法审批转往特殊单位团组织的申请")
        nodes = [n for n in nodes if n.org_code != province.code] + [_node(province, NodeRole.PROVINCIAL)]
        if channel is Channel.IN and initiator_org_code == province.code:
            initiator_side = [nodes[-1]]

    # The initiating org's nodes: those of its side that it is, or stands above.
    approved: set[str] = set()
    if initiator_side:
        init = directory.get(initiator_org_code) if initiator_org_code else None
        for n in initiator_side:
            org = directory[n.org_code]
            if (
                init is None
                or org.code == init.code
                or directory.is_ancestor(org.code, init)
                or directory.is_ancestor(init.code, org)
            ):
                approved.add(n.org_code)
                if init is None:
                    break
    out: list[NodePlan] = []
    for n in nodes:
        if out and out[-1].org_code == n.org_code:
            continue  # the same org twice in a row decides once
        out.append(NodePlan(n.org_code, n.org_name, n.role, n.org_code in approved))
    # Submission approves only a leading run of the chain; a node after a pending one waits.
    lead = True
    for i, n in enumerate(out):
        if not n.approved_at_submission:
            lead = False
        elif not lead:
            out[i] = NodePlan(n.org_code, n.org_name, n.role, False)
    if all(n.approved_at_submission for n in out):
        raise ChainError("审批链中没有需要审批的节点：转出与转入组织由同一组织审批")
    return out
