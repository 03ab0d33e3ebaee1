"""Typed bodies of the zhtj-transfer REST API, as a client sees them.

These mirror `web.api.schemas` (the server's contract; OpenAPI at /openapi.json) but depend on
nothing of the server: a service that only talks to the API needs httpx and pydantic, not the
domain, the database or Temporal. `tests/starter/test_client.py` checks that both stay in step
(same fields, same enum values).

Response models ignore fields they do not know, so a newer server does not break an older client;
request models refuse unknown fields, as the server does.
"""

# The mirror is deliberate (a client installable without the server) and its parity with the
# server's schemas is tested, so the duplicate-code check does not count it as a copy.
# pylint: disable=duplicate-code
from __future__ import annotations

from datetime import date, datetime
from enum import StrEnum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field


class TransferType(StrEnum):
    """The eight 学社衔接 transfer types (API codes)."""

    FURTHER_STUDY = "further_study"  # 1 升学
    EMPLOYED_WITH_ORG = "employed_with_org"  # 2 已落实工作单位（工作单位有团组织）
    EMPLOYED_WITHOUT_ORG = "employed_without_org"  # 3 已落实工作单位（工作单位无团组织）
    ABROAD_OFFICIAL = "abroad_official"  # 4 出国（因公出国／境）
    ABROAD_STUDY = "abroad_study"  # 5 出国（境）学习研究 (kept at school: not started by the API)
    ABROAD_PRIVATE = "abroad_private"  # 6 出国（因私出国／境）
    UNEMPLOYED = "unemployed"  # 7 未就业
    SPECIAL_UNIT = "special_unit"  # 8 转往特殊单位团组织


class Channel(StrEnum):
    OUT = "out"  # 办理转出
    IN = "in"  # 办理转入
    SELF = "self"  # 个人发起


PartitionCode = Literal["national", "beijing", "guangdong", "fujian"]
StatusCode = Literal["pending", "returned", "awaiting_assignment", "completed", "withdrawn", "expired"]
NodeStatusCode = Literal["waiting", "pending", "approved", "auto_approved", "returned"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class _Out(BaseModel):
    model_config = ConfigDict(extra="ignore")


# ---- requests ----------------------------------------------------------------------------------
class TokenRequest(_In):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class StartTransferRequest(_In):
    """POST /api/transfers and /api/transfers/validate. `form` holds the type's form keys
    (nested `location` object: province, city, county, township)."""

    id_number: str = Field(min_length=1, max_length=32, description="身份证号")
    name: str = Field(min_length=1, max_length=100, description="姓名")
    type: TransferType
    channel: Channel
    target_org_code: str | None = Field(default=None, max_length=64)
    partition: PartitionCode | None = None
    form: dict[str, Any] = Field(default_factory=dict)


class BulkStartRow(StartTransferRequest):
    """One row of POST /api/transfers/bulk: a start request and its own Idempotency-Key."""

    idempotency_key: str | None = Field(default=None, max_length=128)


#: Rows of one POST /api/transfers/bulk.
BULK_MAX_ROWS = 500


class BulkStartRequest(_In):
    rows: list[BulkStartRow] = Field(min_length=1, max_length=BULK_MAX_ROWS)
    dry_run: bool = False


class ApproveRequest(_In):
    comment: str | None = Field(default=None, max_length=500)


class ReturnRequest(_In):
    reason_code: str = Field(min_length=1, max_length=32)
    reason_text: str = Field(default="", max_length=500)


class WithdrawRequest(_In):
    reason: str = Field(min_length=1, max_length=500)


class ResubmitRequest(_In):
    form: dict[str, Any]
    target_org_code: str | None = Field(default=None, max_length=64)
    partition: PartitionCode | None = None


class AssignBranchRequest(_In):
    branch_code: str = Field(min_length=1, max_length=64)


class BatchApproveRequest(_In):
    ids: list[int] = Field(min_length=1, max_length=200)


class BatchReturnRequest(_In):
    ids: list[int] = Field(min_length=1, max_length=200)
    reason_code: str = Field(min_length=1, max_length=32)
    reason_text: str = Field(default="", max_length=500)


# ---- responses ---------------------------------------------------------------------------------
class TokenResponse(_Out):
    access_token: str
    token_type: Literal["bearer"] = "bearer"


class MeOut(_Out):
    username: str
    role: str
    display_name: str | None
    org_code: str | None
    org_name: str | None
    member_id: int | None
    may_act_for: bool | None


class OrgOut(_Out):
    code: str
    name: str
    kind: str
    partition: str
    branch_level: bool
    parent_code: str | None


class RouteOut(_Out):
    org_code: str
    clause: str | None
    explanation: str | None


class ValidateResponse(_Out):
    ok: bool
    route: RouteOut
    transfer_id: int | None = None  # this Idempotency-Key already started that transfer


class MemberOut(_Out):
    id: int
    name: str
    id_number: str  # masked (420106********1234) unless the caller may see it whole


class NodeOut(_Out):
    seq: int
    org_code: str
    org_name: str
    status: NodeStatusCode
    deadline: datetime | None
    remind_at: datetime | None
    reminded_at: datetime | None
    decided_by: str | None
    decided_at: datetime | None
    reason_code: str | None
    comment: str | None


class HistoryOut(_Out):
    at: datetime
    action: str
    actor: str
    detail: dict[str, Any]


class TransferOut(_Out):
    id: int
    workflow_id: str
    status: StatusCode
    type: TransferType
    channel: Channel
    member: MemberOut
    from_org_code: str
    target_org_code: str
    form: dict[str, Any]
    route: RouteOut
    round: int
    nodes: list[NodeOut]
    branch_code: str | None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None
    history: list[HistoryOut]


class CurrentNodeOut(_Out):
    org_code: str
    deadline: datetime | None
    remind_at: datetime | None
    overdue: bool
    days_waiting: int


class TransferSummary(_Out):
    id: int
    status: StatusCode
    type: TransferType
    channel: Channel
    member: MemberOut
    from_org_code: str
    target_org_code: str
    current_node: CurrentNodeOut | None
    created_at: datetime
    updated_at: datetime


class TransferPage(_Out):
    items: list[TransferSummary]
    total: int
    page: int
    page_size: int


class FieldErrorOut(_Out):
    field: str
    message: str


class BatchResult(_Out):
    id: int
    ok: bool
    status: str | None = None
    status_code: int | None = None
    errors: list[FieldErrorOut] = []


class BatchResponse(_Out):
    results: list[BatchResult]


class BulkStartResult(_Out):
    """One row's outcome. status_code: 201 started, 200 existing (this key's transfer or the
    member's open one; also a dry run's pass), else the refusal's status with `errors`."""

    index: int
    ok: bool
    status_code: int
    created: bool
    workflow_id: str | None
    transfer_id: int | None  # known when the key started a transfer before; a new one's once recorded
    route: RouteOut | None
    errors: list[FieldErrorOut] = []


class BulkStartResponse(_Out):
    results: list[BulkStartResult]


# ---- bulk uploads (POST /api/uploads) -----------------------------------------------------------
UploadStatusCode = Literal["running", "done"]
UploadRowStatusCode = Literal["invalid", "pending", "started", "existing", "failed"]


class UploadErrorOut(_Out):
    line: int
    column: str
    rule: str
    message: str


class UploadCheckOut(_Out):
    ok: bool
    id: str
    rows: int
    valid: int
    invalid: int
    errors: list[UploadErrorOut]


class UploadRowOut(_Out):
    line: int
    status: UploadRowStatusCode
    name: str
    id_number: str  # masked
    status_code: int | None
    workflow_id: str | None
    transfer_id: int | None
    errors: list[UploadErrorOut]


class UploadRowPage(_Out):
    items: list[UploadRowOut]
    total: int
    page: int
    page_size: int


class UploadOut(_Out):
    id: str
    url: str
    errors_url: str
    org_code: str
    filename: str
    uploaded_by: str
    status: UploadStatusCode
    rows: int
    valid: int
    invalid: int
    started: int
    existing: int
    failed: int
    done: int
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


class UploadDetailOut(UploadOut):
    outcomes: UploadRowPage


# ---- §6: retentions, marking members, registers -------------------------------------------------
RetentionStatusCode = Literal["pending", "approved", "returned", "withdrawn"]
RegisterCode = Literal["abroad_study", "mobile", "delayed", "county_temp", "special_unit"]
ReleaseKindCode = Literal["abroad_study", "delayed", "mobile", "county_temp"]
MEMBERS_MAX = 1000


class RetentionFormIn(_In):
    """POST /api/retentions's `form` (§I.5): dates YYYY-MM-DD."""

    abroad_place: str = Field(max_length=300)
    abroad_from: str = Field(max_length=32)
    abroad_to: str = Field(max_length=32)
    contact_name: str = Field(max_length=100)
    contact_phone: str = Field(max_length=30)


class RetentionApplyRequest(_In):
    id_number: str = Field(min_length=1, max_length=32)
    name: str = Field(min_length=1, max_length=100)
    form: RetentionFormIn


class RetentionFormOut(_Out):
    abroad_place: str
    abroad_from: date
    abroad_to: date
    contact_name: str
    contact_phone: str


class RetentionSummary(_Out):
    id: int
    workflow_id: str
    status: RetentionStatusCode
    member: MemberOut
    school_code: str
    from_branch_code: str
    branch_code: str | None
    abroad_place: str
    abroad_from: date
    abroad_to: date
    submitted_at: datetime
    deadline: datetime | None
    overdue: bool
    decided_at: datetime | None
    in_force: bool


class RetentionOut(_Out):
    id: int
    workflow_id: str
    status: RetentionStatusCode
    member: MemberOut
    school_code: str
    from_branch_code: str
    branch_code: str | None
    form: RetentionFormOut
    submitted_at: datetime
    remind_at: datetime | None
    deadline: datetime | None
    reminded_at: datetime | None
    decided_at: datetime | None
    decided_by: str | None
    auto_approved: bool
    comment: str | None
    reason_code: str | None
    initiated_by: str | None
    registered_at: datetime | None
    in_force: bool
    released_at: datetime | None
    history: list[HistoryOut]


class RetentionPage(_Out):
    items: list[RetentionSummary]
    total: int
    page: int
    page_size: int


class MembersRequest(_In):
    """POST /api/members/mark-mobile: 1 to MEMBERS_MAX 身份证号."""

    id_numbers: list[str]


class MarkDelayedRequest(MembersRequest):
    expected_graduation_year: int = Field(ge=2000, le=2100)


class ReleaseRequest(MembersRequest):
    kind: ReleaseKindCode
    branch_code: str | None = Field(default=None, max_length=64)
    graduation_year: int | None = Field(default=None, ge=2000, le=2100)


class MemberOutcomeOut(_Out):
    index: int
    ok: bool
    status_code: int
    errors: list[FieldErrorOut] = []
    member_id: int | None
    name: str | None
    id_number: str | None  # masked
    branch_code: str | None
    workflow_id: str | None
    changed: bool


class MemberOutcomes(_Out):
    results: list[MemberOutcomeOut]


class RegisterRowOut(_Out):
    member_id: int
    member_name: str
    id_number: str  # masked
    responsible_org: str
    org_code: str
    org_name: str
    started_on: date | None
    due_on: date | None
    status: str
    status_label: str
    overdue: bool
    phone: str | None
    graduation_year: int | None
    reminders_sent: int | None
    released_on: date | None
    abroad_place: str | None
    abroad_from: date | None
    abroad_to: date | None
    contact_name: str | None
    contact_phone: str | None
    auto_approved: bool | None
    workflow_id: str | None
    from_org: str | None
    unit_kind: str | None
    joined_unit_on: date | None
    transfer_id: int | None


class RegisterOut(_Out):
    kind: RegisterCode
    name: str
    org_code: str
    org_name: str
    total: int
    items: list[RegisterRowOut]


class NotificationOut(_Out):
    """A notice of the message centre, with the reading account's own read time."""

    id: int
    kind: str
    title: str
    text: str
    transfer_id: int | None
    org_code: str | None
    created_at: datetime
    read_at: datetime | None


class NotificationPage(_Out):
    items: list[NotificationOut]
    unread: int
    total: int
    page: int
    page_size: int


class NotificationsMarked(_Out):
    marked: int
    unread: int


class Problem(_Out):
    """An error body (application/problem+json, RFC 9457) with the field errors in Chinese."""

    type: str = "about:blank"
    title: str = ""
    status: int = 0
    detail: str = ""
    errors: list[FieldErrorOut] = []


__all__ = [
    "BULK_MAX_ROWS",
    "MEMBERS_MAX",
    "ApproveRequest",
    "AssignBranchRequest",
    "BatchApproveRequest",
    "BatchResponse",
    "BatchResult",
    "BatchReturnRequest",
    "BulkStartRequest",
    "BulkStartResponse",
    "BulkStartResult",
    "BulkStartRow",
    "Channel",
    "CurrentNodeOut",
    "FieldErrorOut",
    "HistoryOut",
    "MarkDelayedRequest",
    "MeOut",
    "MemberOut",
    "MemberOutcomeOut",
    "MemberOutcomes",
    "MembersRequest",
    "NodeOut",
    "NotificationOut",
    "NotificationPage",
    "NotificationsMarked",
    "OrgOut",
    "PartitionCode",
    "Problem",
    "RegisterCode",
    "RegisterOut",
    "RegisterRowOut",
    "ReleaseKindCode",
    "ReleaseRequest",
    "ResubmitRequest",
    "RetentionApplyRequest",
    "RetentionFormIn",
    "RetentionFormOut",
    "RetentionOut",
    "RetentionPage",
    "RetentionStatusCode",
    "RetentionSummary",
    "ReturnRequest",
    "RouteOut",
    "StartTransferRequest",
    "StatusCode",
    "TokenRequest",
    "TokenResponse",
    "TransferOut",
    "TransferPage",
    "TransferSummary",
    "TransferType",
    "UploadCheckOut",
    "UploadDetailOut",
    "UploadErrorOut",
    "UploadOut",
    "UploadRowOut",
    "UploadRowPage",
    "UploadRowStatusCode",
    "UploadStatusCode",
    "ValidateResponse",
    "WithdrawRequest",
]
