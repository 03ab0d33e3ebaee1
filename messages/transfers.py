"""Types crossing the TransferWorkflow boundary: input, decisions, events, live status.

Plain pydantic models of domain values; safe inside the workflow sandbox (no SQLModel, no I/O).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field

from domain.policy import TransferPolicy
from domain.transfers import ActorKind, Channel, NodeRole, NodeStatus, TransferStatus, TransferType

#: The default prefix of transfer workflow ids (`Settings.workflow_id_prefix`, ZHTJ_WORKFLOW_ID_PREFIX).
WORKFLOW_ID_PREFIX = "transfer-"


def workflow_id_for(member_id: int, prefix: str = WORKFLOW_ID_PREFIX) -> str:
    """One open transfer per member: its workflow id is <prefix><member id>."""
    return f"{prefix}{member_id}"


class Actor(BaseModel):
    """Who acts. The caller has checked the permission against the database before the update;
    `org_code` is the org the actor acts for (the node's org, the initiating or receiving org)."""

    kind: ActorKind
    username: str
    org_code: str | None = None
    member_id: int | None = None
    display_name: str | None = None

    @property
    def label(self) -> str:
        return self.display_name or self.username


SYSTEM_ACTOR = Actor(kind=ActorKind.SYSTEM, username="system", display_name="系统")


class OrgRef(BaseModel):
    code: str
    name: str


class NodeSpec(BaseModel):
    org_code: str
    org_name: str
    role: NodeRole
    approved_at_submission: bool = False


class Route(BaseModel):
    clause: str | None = None
    explanation: str | None = None
    org_code: str | None = None  # the proposed target (set on a dry run; the transfer's target otherwise)


class TransferInput(BaseModel):
    member_id: int
    member_name: str
    member_id_masked: str  # 420106********1234: the workflow history never holds a whole 身份证号
    type: TransferType
    channel: Channel
    from_org: OrgRef
    target: OrgRef
    target_branch_level: bool
    form: dict[str, Any] = Field(default_factory=dict)
    route: Route = Field(default_factory=Route)
    nodes: list[NodeSpec]
    policy: TransferPolicy = Field(default_factory=TransferPolicy)
    initiator: Actor
    request_id: str | None = None
    #: the answer to 转入组织是否属于北京/广东/福建 (national, beijing, guangdong, fujian), None when
    #: it was not asked (办理转入) or not given for a target outside those partitions
    partition: str | None = None


# --- decisions (updates) ---------------------------------------------------------------------


class ApproveInput(BaseModel):
    round: int
    seq: int
    actor: Actor
    comment: str | None = None


class ReturnInput(BaseModel):
    round: int
    seq: int
    actor: Actor
    reason_code: str
    reason_text: str = ""


class WithdrawInput(BaseModel):
    actor: Actor
    reason: str


class ResubmitInput(BaseModel):
    actor: Actor
    form: dict[str, Any]
    target: OrgRef | None = None
    target_branch_level: bool | None = None
    route: Route | None = None
    nodes: list[NodeSpec] | None = None  # the service recomputes the chain when the target changes
    partition: str | None = None  # a new answer to the partition question (None: keep the one given)


class AssignBranchInput(BaseModel):
    actor: Actor
    branch: OrgRef


# --- live state (query) and persisted events ---------------------------------------------------


class NodeState(BaseModel):
    round: int
    seq: int
    org_code: str
    org_name: str
    role: NodeRole
    status: NodeStatus = NodeStatus.WAITING
    started_at: datetime | None = None
    remind_at: datetime | None = None
    deadline: datetime | None = None
    reminded_at: datetime | None = None
    decided_at: datetime | None = None
    decided_by: str | None = None
    reason_code: str | None = None
    comment: str | None = None


class HistoryEntry(BaseModel):
    at: datetime
    action: str
    actor: str
    detail: dict[str, Any] = Field(default_factory=dict)


class TransferView(BaseModel):
    """What the `status` query returns and the workflow's result; the updates answer with it too,
    without the timeline (`history` empty: the query and the database's detail carry it)."""

    workflow_id: str
    transfer_id: int | None = None  # the database row's id (the API's transfer id)
    status: TransferStatus
    type: TransferType
    channel: Channel
    member_id: int
    from_org: OrgRef
    target: OrgRef
    round: int
    current_seq: int | None = None
    nodes: list[NodeState]
    branch: OrgRef | None = None
    form: dict[str, Any] = Field(default_factory=dict)
    route: Route = Field(default_factory=Route)
    partition: str | None = None
    withdrawn_by: str | None = None  # "org" | "member"
    request_id: str | None = None
    initiator: Actor | None = None
    history: list[HistoryEntry] = Field(default_factory=list)
    next_reminder_at: datetime | None = None


class NotificationSpec(BaseModel):
    kind: str
    org_code: str | None = None  # to the org's admins
    to_member: bool = False
    title: str
    body: str = ""
    #: an org whose contact (联系电话, 联系地址) the activity writing the notice appends to `body`
    #: from the orgs table, when that has it: the workflow knows an org's code and name only
    contact_org: str | None = None


class CompletionFollowUp(BaseModel):
    """What changes for the member's holdings once a transfer completed (§I.1, §I.4)."""

    workflow_id: str
    run_id: str
    member_id: int
    branch_code: str
    completed_at: datetime


class TransferEvent(BaseModel):
    """One state change, persisted by one idempotent activity in one transaction.

    `key` is unique per workflow run and event number, so a retried activity writes nothing twice.
    """

    key: str
    workflow_id: str
    run_id: str  # the first execution's run id: one transfer row per run
    transfer_id: int | None = None  # the row, once the first event created it
    action: str
    actor: str
    at: datetime
    status: TransferStatus
    current_node_org_code: str | None = None
    steps: list[NodeState] = Field(default_factory=list)
    notifications: list[NotificationSpec] = Field(default_factory=list)
    detail: dict[str, Any] = Field(default_factory=dict)
    create: TransferInput | None = None  # the first event creates the transfer row
    form: dict[str, Any] | None = None  # resubmission: the corrected form
    target: OrgRef | None = None
    route: Route | None = None
    complete_branch: OrgRef | None = None  # completion: move the member here
    follow_up: CompletionFollowUp | None = None  # completion: then end/start the member's holdings
