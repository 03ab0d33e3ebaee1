"""The REST contract's request and response bodies (OpenAPI at /openapi.json)."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from domain.transfers import Channel, TransferType
from models.tables import MAX_ROW_ID

PartitionCode = Literal["national", "beijing", "guangdong", "fujian"]
StatusCode = Literal["pending", "returned", "awaiting_assignment", "completed", "withdrawn", "expired"]


class _In(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TokenRequest(_In):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=256)


class TokenResponse(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"


class MeOut(BaseModel):
    """GET /api/me: the logged-in account, and whether it may act for `?org=`."""

    username: str
    role: str
    display_name: str | None
    org_code: str | None  # an admin's or a service account's org
    org_name: str | None
    member_id: int | None  # a member's own record
    may_act_for: bool | None  # for ?org=: an admin or service account of that org or one above it


class OrgOut(BaseModel):
    code: str
    name: str
    kind: str
    partition: str
    branch_level: bool
    parent_code: str | None


class StartTransferRequest(_In):
    id_number: str = Field(min_length=1, max_length=32, description="身份证号")
    name: str = Field(min_length=1, max_length=100, description="姓名")
    type: TransferType
    channel: Channel
    target_org_code: str | None = Field(default=None, max_length=64, description="转入组织；省略时用系统建议")
    partition: PartitionCode | None = Field(
        default=None, description="转入组织是否属于北京/广东/福建：national 或具体分区"
    )
    form: dict[str, Any] = Field(default_factory=dict)


#: Rows of one POST /api/transfers/bulk.
BULK_MAX_ROWS = 500


class BulkStartRow(StartTransferRequest):
    """One row of POST /api/transfers/bulk: the body of POST /api/transfers and its key."""

    idempotency_key: str | None = Field(
        default=None, max_length=128, description="as the Idempotency-Key header of POST /api/transfers"
    )


class BulkStartRequest(_In):
    # The bounds are documented here and enforced by the route, whose refusal names the rule
    # (a pydantic length error would only say 格式不正确).
    rows: list[BulkStartRow] = Field(
        description=f"1 to {BULK_MAX_ROWS} start requests", json_schema_extra={"minItems": 1, "maxItems": BULK_MAX_ROWS}
    )
    dry_run: bool = Field(default=False, description="every check and the route of each row; nothing started")


class ValidateResponse(BaseModel):
    ok: bool
    route: RouteOut
    transfer_id: int | None = Field(
        default=None, description="set when this Idempotency-Key already started a transfer"
    )


class MemberOut(BaseModel):
    id: int
    name: str
    id_number: str


class RouteOut(BaseModel):
    org_code: str
    clause: str | None
    explanation: str | None


class NodeOut(BaseModel):
    seq: int
    org_code: str
    org_name: str
    status: Literal["waiting", "pending", "approved", "auto_approved", "returned"]
    deadline: datetime | None
    remind_at: datetime | None
    reminded_at: datetime | None
    decided_by: str | None
    decided_at: datetime | None
    reason_code: str | None
    comment: str | None


class HistoryOut(BaseModel):
    at: datetime
    action: str
    actor: str
    detail: dict[str, Any]


class TransferOut(BaseModel):
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


class CurrentNodeOut(BaseModel):
    org_code: str
    deadline: datetime | None
    remind_at: datetime | None
    overdue: bool
    days_waiting: int


class TransferSummary(BaseModel):
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


class TransferPage(BaseModel):
    items: list[TransferSummary]
    total: int
    page: int
    page_size: int


class ApproveRequest(_In):
    comment: str | None = Field(default=None, max_length=500)


class ReturnRequest(_In):
    reason_code: str = Field(min_length=1, max_length=32)
    reason_text: str = Field(default="", max_length=500)


class WithdrawRequest(_In):
    reason: str = Field(min_length=1, max_length=500)


class ResubmitRequest(_In):
    form: dict[str, Any]
    target_org_code: str | None = Field(default=None, max_length=64, description="新的转入组织；省略时不变")
    partition: PartitionCode | None = Field(
        default=None, description="转入组织是否属于北京/广东/福建的新回答；省略时沿用发起时的回答"
    )


class AssignBranchRequest(_In):
    branch_code: str = Field(min_length=1, max_length=64)


class BatchApproveRequest(_In):
    ids: list[Annotated[int, Field(ge=1, le=MAX_ROW_ID)]] = Field(min_length=1, max_length=200)


class BatchReturnRequest(_In):
    ids: list[Annotated[int, Field(ge=1, le=MAX_ROW_ID)]] = Field(min_length=1, max_length=200)
    reason_code: str = Field(min_length=1, max_length=32)
    reason_text: str = Field(default="", max_length=500)


class FieldErrorOut(BaseModel):
    field: str
    message: str


class BatchResult(BaseModel):
    id: int
    ok: bool
    status: str | None = None
    status_code: int | None = None
    errors: list[FieldErrorOut] = []


class BatchResponse(BaseModel):
    results: list[BatchResult]


class BulkStartResult(BaseModel):
    index: int = Field(description="the row's position in `rows`, from 0")
    ok: bool
    status_code: int = Field(description="201 started, 200 existing (or a dry run's pass), else the refusal's status")
    created: bool
    workflow_id: str | None = Field(description="the transfer's workflow (transfer-<member id>)")
    transfer_id: int | None = Field(
        description="known when this Idempotency-Key already started a transfer; "
        "a new transfer's id exists once its workflow has recorded it"
    )
    route: RouteOut | None = Field(
        description="the row's route; null for a refused row and for a member's open "
        "transfer found at the start (its route is that transfer's)"
    )
    errors: list[FieldErrorOut] = []


class BulkStartResponse(BaseModel):
    results: list[BulkStartResult]


# --- bulk uploads (POST /api/uploads) ------------------------------------------------------------

UploadStatusCode = Literal["running", "done"]
UploadRowStatusCode = Literal["invalid", "pending", "started", "existing", "failed"]


class UploadErrorOut(BaseModel):
    """One broken rule of an uploaded file, as the error report (`zhtj transfers import`) lists it."""

    line: int = Field(description="the spreadsheet row number (the header is line 1)")
    column: str = Field(description="the file's column (empty when not about one column)")
    rule: str
    message: str


class UploadCheckOut(BaseModel):
    """A dry run of an upload whose every row passed (a bad row is a 422 listing every error)."""

    ok: bool
    id: str = Field(description="the upload's id: the job this file would start, or has started")
    rows: int
    valid: int
    invalid: int
    errors: list[UploadErrorOut]


class UploadRowOut(BaseModel):
    line: int
    status: UploadRowStatusCode
    name: str
    id_number: str = Field(description="masked")
    status_code: int | None = Field(description="the start's: 201 started, 200 existing, else the refusal's")
    workflow_id: str | None
    transfer_id: int | None = Field(description="known once the transfer's workflow has recorded it")
    errors: list[UploadErrorOut]


class UploadRowPage(BaseModel):
    items: list[UploadRowOut]
    total: int
    page: int
    page_size: int


class UploadOut(BaseModel):
    id: str = Field(description="upload-<org>-<digest>: the same file uploaded for the same org has the same id")
    url: str
    errors_url: str
    org_code: str
    filename: str
    uploaded_by: str
    status: UploadStatusCode
    rows: int = Field(description="data rows read")
    valid: int = Field(description="rows to start")
    invalid: int = Field(description="rows refused before the start")
    started: int
    existing: int = Field(description="this upload's transfer found again, or the member's open one")
    failed: int = Field(description="starts refused")
    done: int = Field(description="valid rows with an outcome: the progress")
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None


class UploadDetailOut(UploadOut):
    outcomes: UploadRowPage = Field(description="a page of the rows, in line order")


# --- §6: retentions, marking members, registers ----------------------------------------------------

RetentionStatusCode = Literal["pending", "approved", "returned", "withdrawn"]
RegisterCode = Literal["abroad_study", "mobile", "delayed", "county_temp", "special_unit"]
ReleaseKindCode = Literal["abroad_study", "delayed", "mobile", "county_temp"]

#: Members of one POST /api/members/... call.
MEMBERS_MAX = 1000


class RetentionFormIn(_In):
    """The written application of §I.5 (dates YYYY-MM-DD, checked with the rules' Chinese messages)."""

    abroad_place: str = Field(max_length=300, description="境外学习研究地点")
    abroad_from: str = Field(max_length=32, description="出国（境）学习研究开始日期，YYYY-MM-DD")
    abroad_to: str = Field(max_length=32, description="出国（境）学习研究结束日期，YYYY-MM-DD")
    contact_name: str = Field(max_length=100, description="境内联系人")
    contact_phone: str = Field(max_length=30, description="境内联系人联系方式")


class RetentionApplyRequest(_In):
    id_number: str = Field(min_length=1, max_length=32, description="身份证号")
    name: str = Field(min_length=1, max_length=100, description="姓名")
    form: RetentionFormIn


class RetentionFormOut(BaseModel):
    abroad_place: str
    abroad_from: date
    abroad_to: date
    contact_name: str
    contact_phone: str


class RetentionSummary(BaseModel):
    id: int
    workflow_id: str
    status: RetentionStatusCode
    member: MemberOut
    school_code: str
    from_branch_code: str
    branch_code: str | None = Field(description="the 出国（境）学习研究团员团支部, once approved")
    abroad_place: str
    abroad_from: date
    abroad_to: date
    submitted_at: datetime
    deadline: datetime | None = Field(description="系统默认通过 at this instant when undecided")
    overdue: bool = Field(description="pending past the 10-day reminder")
    decided_at: datetime | None
    in_force: bool = Field(description="the retention holds the member now (approved, not released)")


class RetentionOut(BaseModel):
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
    registered_at: datetime | None = Field(description="entered in the abroad-study register")
    in_force: bool
    released_at: datetime | None = Field(description="the school ended the retention (back from abroad)")
    history: list[HistoryOut]


class RetentionPage(BaseModel):
    items: list[RetentionSummary]
    total: int
    page: int
    page_size: int


class MembersRequest(_In):
    # bounds enforced by the service, whose refusal names the rule (field `id_numbers`)
    id_numbers: list[Annotated[str, Field(max_length=32)]] = Field(
        description=f"1 to {MEMBERS_MAX} 身份证号", json_schema_extra={"minItems": 1, "maxItems": MEMBERS_MAX}
    )


class MarkDelayedRequest(MembersRequest):
    expected_graduation_year: int = Field(ge=2000, le=2100, description="延迟后的预计毕业年份")


class ReleaseRequest(MembersRequest):
    kind: ReleaseKindCode = Field(
        description="abroad_study: back from abroad; delayed: back among the graduating "
        "(mobile and county_temp end by a transfer out: refused)"
    )
    branch_code: str | None = Field(
        default=None, max_length=64, description="the school's branch to go back to; default the one they came from"
    )
    graduation_year: int | None = Field(default=None, ge=2000, le=2100, description="delayed: a new graduation year")


class MemberOutcomeOut(BaseModel):
    index: int = Field(description="the member's position in `id_numbers`, from 0")
    ok: bool
    status_code: int = Field(description="201 a holding started, 200 done or nothing to change, else the refusal's")
    errors: list[FieldErrorOut] = []
    member_id: int | None
    name: str | None
    id_number: str | None = Field(description="masked")
    branch_code: str | None = Field(description="the member's branch after the call")
    workflow_id: str | None = Field(description="the 流动 holding's workflow")
    changed: bool


class MemberOutcomes(BaseModel):
    results: list[MemberOutcomeOut]


class RegisterRowOut(BaseModel):
    member_id: int
    member_name: str
    id_number: str = Field(description="masked (whole in the XLSX export for the admins of the member's orgs)")
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


class RegisterOut(BaseModel):
    kind: RegisterCode
    name: str
    org_code: str
    org_name: str
    total: int
    items: list[RegisterRowOut]


class NotificationOut(BaseModel):
    """A notice of the message centre, with the reading account's own read time."""

    id: int
    kind: str = Field(description="node_pending, node_reminder, transfer_returned, assignment_needed, …")
    title: str
    text: str = Field(description="the notice in one line (title and body)")
    transfer_id: int | None
    org_code: str | None = Field(description="the org it was addressed to (one the admin handles); null: to the member")
    created_at: datetime
    read_at: datetime | None = Field(description="when this account read it (read state is per account)")


class NotificationPage(BaseModel):
    items: list[NotificationOut]
    unread: int = Field(description="every unread notice of the account, whatever the page")
    total: int = Field(description="of the list asked for (all, or with unread=true the unread ones)")
    page: int
    page_size: int


class NotificationsMarked(BaseModel):
    marked: int = Field(description="notices that were unread and are now read")
    unread: int


ValidateResponse.model_rebuild()
