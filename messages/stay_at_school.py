"""Types crossing the boundary of the §6 workflows (abroad-study retention, holdings).

Plain pydantic models; safe inside the workflow sandbox (no SQLModel, no I/O).
"""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Any

from pydantic import BaseModel, Field

from domain.holdings import HoldingKind, HoldingPolicy, HoldingStatus, RetentionStatus
from domain.policy import TransferPolicy
from messages.transfers import Actor, HistoryEntry, NotificationSpec, OrgRef

__all__ = [
    "HOLDING_ID_PREFIX",
    "HOLDING_RECORDED_UPDATE",
    "HOLDING_RELEASE_UPDATE",
    "HOLDING_WORKFLOW",
    "RETENTION_ID_PREFIX",
    "BranchSpec",
    "HoldingEvent",
    "HoldingInput",
    "HoldingRelease",
    "HoldingView",
    "NotificationSpec",
    "RetentionApprove",
    "RetentionEvent",
    "RetentionForm",
    "RetentionInput",
    "RetentionReturn",
    "RetentionView",
    "RetentionWithdraw",
    "days_text",
    "holding_workflow_id",
    "retention_workflow_id",
]

# --- how the workflows are addressed from outside -------------------------------------------------

RETENTION_ID_PREFIX = "retention-"
HOLDING_ID_PREFIX = "holding-"
_HOLDING_ID_PART = {HoldingKind.MOBILE: "mobile", HoldingKind.COUNTY_TEMP: "county"}

#: The holding workflow's type and update names, for callers that drive it through the client
#: without importing workflows/ (the activities ending and starting holdings).
HOLDING_WORKFLOW = "HoldingWorkflow"
HOLDING_RECORDED_UPDATE = "recorded"
HOLDING_RELEASE_UPDATE = "release"


def retention_workflow_id(member_id: int, prefix: str = RETENTION_ID_PREFIX) -> str:
    """One open retention application per member: retention-<member id>."""
    return f"{prefix}{member_id}"


def holding_workflow_id(kind: HoldingKind | str, member_id: int, prefix: str = HOLDING_ID_PREFIX) -> str:
    """holding-mobile-<member id> or holding-county-<member id>."""
    return f"{prefix}{_HOLDING_ID_PART[HoldingKind(kind)]}-{member_id}"


class BranchSpec(BaseModel):
    """A school's special branch the activity finds or creates (kind, code, name, parent)."""

    code: str
    name: str
    kind: str  # domain.orgs.OrgKind value
    parent_code: str


# --- abroad-study retention (§I.5) ---------------------------------------------------------------


class RetentionForm(BaseModel):
    """The written application, already validated by domain.forms (AbroadStudyForm)."""

    abroad_place: str
    abroad_from: date
    abroad_to: date
    contact_name: str
    contact_phone: str


class RetentionInput(BaseModel):
    member_id: int
    member_name: str
    member_id_masked: str  # histories never hold a whole 身份证号
    school: OrgRef  # the deciding committee
    from_branch: OrgRef  # the member's branch when applying
    branch: BranchSpec  # the school's 出国（境）学习研究团员团支部 (created on approval if missing)
    form: RetentionForm
    policy: TransferPolicy = Field(default_factory=TransferPolicy)  # remind_after / auto_approve_after
    initiator: Actor
    request_id: str | None = None


class RetentionApprove(BaseModel):
    actor: Actor
    comment: str | None = None


class RetentionReturn(BaseModel):
    actor: Actor
    reason_code: str
    reason_text: str = ""


class RetentionWithdraw(BaseModel):
    actor: Actor
    reason: str


class RetentionView(BaseModel):
    workflow_id: str
    status: RetentionStatus
    member_id: int
    school: OrgRef
    from_branch: OrgRef
    branch: OrgRef | None = None  # set on approval
    form: RetentionForm
    submitted_at: datetime
    remind_at: datetime
    deadline: datetime
    reminded_at: datetime | None = None
    decided_at: datetime | None = None
    decided_by: str | None = None
    auto_approved: bool = False
    comment: str | None = None
    reason_code: str | None = None
    withdrawn_by: str | None = None  # "member" | "org"
    request_id: str | None = None
    history: list[HistoryEntry] = Field(default_factory=list)


class RetentionEvent(BaseModel):
    """One state change of an application, applied by one idempotent activity (key unique)."""

    key: str
    workflow_id: str
    run_id: str  # first execution's run id: one row per application
    action: str
    actor: str
    at: datetime
    status: RetentionStatus
    create: RetentionInput | None = None  # the first event creates the row
    remind_at: datetime | None = None
    deadline: datetime | None = None
    reminded_at: datetime | None = None
    decided_at: datetime | None = None
    decided_by: str | None = None
    comment: str | None = None
    reason_code: str | None = None
    approve_into: BranchSpec | None = None  # approval: find/create the branch and move the member
    notifications: list[NotificationSpec] = Field(default_factory=list)
    detail: dict[str, Any] = Field(default_factory=dict)


# --- holdings (§I.4 mobile, §I.1 county temp branch) ----------------------------------------------


class HoldingInput(BaseModel):
    kind: HoldingKind
    member_id: int
    member_name: str
    member_id_masked: str
    from_branch: OrgRef  # where the member was when the holding started
    branch: BranchSpec  # the holding branch (mobile: created and moved into at start if needed)
    notify_org: OrgRef  # whose admins are reminded: the school, or the county committee
    move_in: bool = False  # mobile: the start event moves the member into `branch` and marks them
    policy: HoldingPolicy = Field(default_factory=HoldingPolicy)
    started_at: datetime | None = None  # default: the workflow's start
    # mobile, marked since the graduation limit (§I.4 [decision]): what the workflow needs of the
    # calendar, measured by the service on the calendar clock when the school marks the member
    ends_on: date | None = None  # the day the months at school end (06-30 of the graduation year + 6 months)
    calendar_left: timedelta | None = None  # unscaled, marking → 00:00 of `ends_on`; waited ÷ time scale
    started_by: Actor
    request_id: str | None = None


class HoldingRelease(BaseModel):
    actor: Actor
    reason: str = ""
    transfer_workflow_id: str | None = None  # when a completed transfer moved the member out


class HoldingView(BaseModel):
    workflow_id: str
    kind: HoldingKind
    status: HoldingStatus
    member_id: int
    branch: OrgRef
    notify_org: OrgRef
    started_at: datetime
    due_at: datetime
    ends_on: date | None = None  # the calendar day the holding ends (mobile, since the graduation limit)
    reminders_sent: int = 0
    next_reminder_at: datetime | None = None
    overdue_at: datetime | None = None
    released_at: datetime | None = None
    released_by: str | None = None
    release_reason: str | None = None
    request_id: str | None = None
    history: list[HistoryEntry] = Field(default_factory=list)


class HoldingEvent(BaseModel):
    key: str
    workflow_id: str
    run_id: str
    action: str
    actor: str
    at: datetime
    status: HoldingStatus
    create: HoldingInput | None = None
    due_at: datetime | None = None
    started_at: datetime | None = None
    reminders_sent: int | None = None
    overdue_at: datetime | None = None
    released_at: datetime | None = None
    release_reason: str | None = None
    transfer_workflow_id: str | None = None
    notifications: list[NotificationSpec] = Field(default_factory=list)
    detail: dict[str, Any] = Field(default_factory=dict)


def days_text(d: timedelta) -> str:
    """'30天' for a reminder offset (unscaled)."""
    return f"{round(d / timedelta(days=1))}天"
