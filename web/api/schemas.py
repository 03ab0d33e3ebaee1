"""The REST contract's request and response bodies (OpenAPI at /openapi.json)."""

from __future__ import annotations

from datetime import datetime
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


ValidateResponse.model_rebuild()
