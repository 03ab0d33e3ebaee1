"""SQLModel tables: the database projection that pages and lists read.

Transfer state rows (transfers, approval steps, notifications, audit) are written only by a
transfer workflow's activities, each idempotent on a unique key (workflow id + step).
Never import this module from workflow code.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, Dialect, Index, Table, Text, TypeDecorator, UniqueConstraint
from sqlmodel import Field, SQLModel

#: Row ids are PostgreSQL `integer`s: a larger number can name no row (and would fail the query).
MAX_ROW_ID = 2**31 - 1


def utcnow() -> datetime:
    return datetime.now(UTC)


def row_id(value: int | None) -> int:
    """The id of a row the database holds. SQLModel types every primary key as optional (it is
    None before the insert); a row read back, flushed or returned by an insert has one."""
    if value is None:
        raise ValueError("the row has no id: it is not in the database yet")
    return value


def table_of(model: type[SQLModel]) -> Table:
    """A table model's Core table, for statements that want rows rather than objects."""
    table: Table = model.__table__  # type: ignore[attr-defined]  # set by SQLModel, undeclared to type checkers
    return table


class UTCDateTime(TypeDecorator[datetime]):
    """`timestamp with time zone` that always reads back aware UTC: PostgreSQL returns aware
    values, SQLite naive ones (it keeps no zone), so every caller would otherwise have to mend
    them. Written as UTC, so SQLite's stored wall clock is UTC whatever zone the value had."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is not None:
            return value.astimezone(UTC)
        return value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is not None and value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value


def _ts(**kw: Any) -> Any:
    """A timezone-aware timestamp column."""
    nullable = kw.pop("nullable", False)
    index = kw.pop("index", False)
    return Field(sa_column=Column(UTCDateTime(), nullable=nullable, index=index), **kw)


class Org(SQLModel, table=True):
    __tablename__ = "orgs"
    __table_args__ = (
        Index("ix_orgs_partition_kind", "partition", "kind"),
        Index("ix_orgs_region", "province", "city", "county", "township"),
    )

    id: int | None = Field(default=None, primary_key=True)
    code: str = Field(max_length=64, unique=True, index=True)
    name: str = Field(max_length=200, index=True)
    kind: str = Field(max_length=32, index=True)
    parent_id: int | None = Field(default=None, foreign_key="orgs.id", index=True)
    partition: str = Field(default="national", max_length=16)
    province: str | None = Field(default=None, max_length=64)
    city: str | None = Field(default=None, max_length=64)
    county: str | None = Field(default=None, max_length=64)
    township: str | None = Field(default=None, max_length=64)
    address: str | None = Field(default=None, max_length=300)
    contact_phone: str | None = Field(default=None, max_length=32)
    contact_address: str | None = Field(default=None, max_length=300)
    branch_level: bool = Field(default=False)
    approval_authority: bool = Field(default=False)
    can_receive: bool = Field(default=True)
    new_student: bool = Field(default=False)
    created_at: datetime = _ts(default_factory=utcnow)
    updated_at: datetime = _ts(default_factory=utcnow)


class Member(SQLModel, table=True):
    __tablename__ = "members"

    id: int | None = Field(default=None, primary_key=True)
    id_number: str = Field(max_length=18, unique=True, index=True)
    name: str = Field(max_length=100, index=True)
    branch_id: int = Field(foreign_key="orgs.id", index=True)
    school_id: int | None = Field(default=None, foreign_key="orgs.id", index=True)
    joined_on: date | None = None
    graduation_year: int | None = Field(default=None, index=True)
    hukou_address: str | None = Field(default=None, max_length=300)
    residence_address: str | None = Field(default=None, max_length=300)
    phone: str | None = Field(default=None, max_length=32)
    email: str | None = Field(default=None, max_length=254)  # mail from delivery (activities/delivery.py)
    graduating: bool = Field(default=False)
    delayed_graduation: bool = Field(default=False)
    mobile: bool = Field(default=False)
    abroad_retention: bool = Field(default=False)
    in_special_unit_db: bool = Field(default=False)
    created_at: datetime = _ts(default_factory=utcnow)
    updated_at: datetime = _ts(default_factory=utcnow)


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: int | None = Field(default=None, primary_key=True)
    username: str = Field(max_length=64, unique=True, index=True)
    password_hash: str = Field(max_length=256)
    role: str = Field(max_length=16)  # a domain.roles.Role value: admin | member | service
    org_id: int | None = Field(default=None, foreign_key="orgs.id", index=True)
    member_id: int | None = Field(default=None, foreign_key="members.id", index=True)
    display_name: str | None = Field(default=None, max_length=100)
    email: str | None = Field(default=None, max_length=254)  # an admin's mail for their org's notices
    active: bool = Field(default=True)
    created_at: datetime = _ts(default_factory=utcnow)


class Transfer(SQLModel, table=True):
    __tablename__ = "transfers"
    __table_args__ = (
        Index("ix_transfers_status_created", "status", "created_at"),
        Index("ix_transfers_member_status", "member_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    workflow_id: str = Field(max_length=128, index=True)  # transfer-<member id>: one open at a time
    run_id: str = Field(max_length=64, unique=True)  # first execution run id: one row per transfer
    request_id: str | None = Field(default=None, max_length=128, unique=True)
    member_id: int = Field(foreign_key="members.id", index=True)
    type: str = Field(max_length=32, index=True)
    channel: str = Field(max_length=8)
    status: str = Field(max_length=32)
    from_org_id: int = Field(foreign_key="orgs.id", index=True)
    target_org_id: int = Field(foreign_key="orgs.id", index=True)
    branch_id: int | None = Field(default=None, foreign_key="orgs.id")
    current_node_org_id: int | None = Field(default=None, foreign_key="orgs.id", index=True)
    form: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    route_clause: str | None = Field(default=None, max_length=32)
    route_explanation: str | None = Field(default=None, max_length=500)
    initiated_by: str | None = Field(default=None, max_length=64)
    created_at: datetime = _ts(default_factory=utcnow, index=True)
    updated_at: datetime = _ts(default_factory=utcnow)
    completed_at: datetime | None = _ts(default=None, nullable=True)


class ApprovalStep(SQLModel, table=True):
    __tablename__ = "approval_steps"
    __table_args__ = (
        UniqueConstraint("transfer_id", "round", "seq", name="uq_approval_steps_transfer_round_seq"),
        Index("ix_approval_steps_org_status_deadline", "org_id", "status", "deadline"),
    )

    id: int | None = Field(default=None, primary_key=True)
    transfer_id: int = Field(foreign_key="transfers.id", index=True)
    round: int = Field(default=1)  # a resubmission starts a new round with fresh clocks
    seq: int
    org_id: int = Field(foreign_key="orgs.id")
    status: str = Field(max_length=16)  # waiting | pending | approved | auto_approved | returned
    started_at: datetime | None = _ts(default=None, nullable=True)
    remind_at: datetime | None = _ts(default=None, nullable=True)
    deadline: datetime | None = _ts(default=None, nullable=True)
    reminded_at: datetime | None = _ts(default=None, nullable=True)
    decided_at: datetime | None = _ts(default=None, nullable=True)
    decided_by: str | None = Field(default=None, max_length=64)
    reason_code: str | None = Field(default=None, max_length=32)
    comment: str | None = Field(default=None, max_length=1000)


class Notification(SQLModel, table=True):
    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_org_read", "recipient_org_id", "read_at"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=200, unique=True)  # idempotency: workflow id + step
    kind: str = Field(max_length=32)
    recipient_org_id: int | None = Field(default=None, foreign_key="orgs.id")
    recipient_user_id: int | None = Field(default=None, foreign_key="users.id", index=True)
    member_id: int | None = Field(default=None, foreign_key="members.id", index=True)
    transfer_id: int | None = Field(default=None, foreign_key="transfers.id", index=True)
    title: str = Field(max_length=200)
    body: str = Field(default="", max_length=2000)
    created_at: datetime = _ts(default_factory=utcnow)
    read_at: datetime | None = _ts(default=None, nullable=True)


class MembershipHistory(SQLModel, table=True):
    __tablename__ = "membership_history"

    id: int | None = Field(default=None, primary_key=True)
    member_id: int = Field(foreign_key="members.id", index=True)
    from_branch_id: int | None = Field(default=None, foreign_key="orgs.id")
    to_branch_id: int = Field(foreign_key="orgs.id")
    transfer_id: int | None = Field(default=None, foreign_key="transfers.id")
    reason: str = Field(max_length=64)
    at: datetime = _ts(default_factory=utcnow)


class AuditLog(SQLModel, table=True):
    """Append-only: database triggers refuse UPDATE and DELETE (see the first migration)."""

    __tablename__ = "audit_log"
    __table_args__ = (Index("ix_audit_log_entity", "entity", "entity_id"),)

    id: int | None = Field(default=None, primary_key=True)
    key: str | None = Field(default=None, max_length=200, unique=True)
    at: datetime = _ts(default_factory=utcnow, index=True)
    actor: str = Field(max_length=64)
    action: str = Field(max_length=64)
    entity: str = Field(max_length=32)
    entity_id: str | None = Field(default=None, max_length=64)
    detail: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))


ALL_TABLES = [Org, Member, User, Transfer, ApprovalStep, Notification, MembershipHistory, AuditLog]


# --- §6 flows that keep the member at school (written only by their workflows' activities) ------


class AbroadRetention(SQLModel, table=True):
    """An abroad-study retention application (§I.5); approved rows are the abroad-study
    register (登记造册备案). One row per workflow run, written by its activity."""

    __tablename__ = "abroad_retentions"
    __table_args__ = (Index("ix_abroad_retentions_school_status", "school_id", "status"),)

    id: int | None = Field(default=None, primary_key=True)
    workflow_id: str = Field(max_length=128, index=True)  # retention-<member id>
    run_id: str = Field(max_length=64, unique=True)  # first execution run id
    request_id: str | None = Field(default=None, max_length=128, unique=True)
    member_id: int = Field(foreign_key="members.id", index=True)
    school_id: int = Field(foreign_key="orgs.id")  # the deciding school committee
    from_branch_id: int = Field(foreign_key="orgs.id")
    branch_id: int | None = Field(default=None, foreign_key="orgs.id")  # the abroad-study branch
    abroad_place: str = Field(max_length=300)
    abroad_from: date
    abroad_to: date
    contact_name: str = Field(max_length=100)
    contact_phone: str = Field(max_length=32)
    status: str = Field(max_length=16)  # pending | approved | returned | withdrawn
    initiated_by: str | None = Field(default=None, max_length=64)
    submitted_at: datetime = _ts(default_factory=utcnow)
    remind_at: datetime | None = _ts(default=None, nullable=True)
    deadline: datetime | None = _ts(default=None, nullable=True)
    reminded_at: datetime | None = _ts(default=None, nullable=True)
    decided_at: datetime | None = _ts(default=None, nullable=True)
    decided_by: str | None = Field(default=None, max_length=64)
    auto_approved: bool = Field(default=False)  # 系统默认通过
    reason_code: str | None = Field(default=None, max_length=32)
    comment: str | None = Field(default=None, max_length=1000)
    registered_at: datetime | None = _ts(default=None, nullable=True)  # entered in the register
    created_at: datetime = _ts(default_factory=utcnow)
    updated_at: datetime = _ts(default_factory=utcnow)


class Holding(SQLModel, table=True):
    """A member held for a limited time: in the school's 毕业学生流动团员团支部 (≤ 6 months, §I.4)
    or a county-level temp branch (≤ 1 year, §I.1). One row per holding workflow run."""

    __tablename__ = "holdings"
    __table_args__ = (Index("ix_holdings_kind_status_due", "kind", "status", "due_at"),)

    id: int | None = Field(default=None, primary_key=True)
    workflow_id: str = Field(max_length=128, index=True)  # holding-mobile-<id> / holding-county-<id>
    run_id: str = Field(max_length=64, unique=True)
    request_id: str | None = Field(default=None, max_length=128, unique=True)
    member_id: int = Field(foreign_key="members.id", index=True)
    kind: str = Field(max_length=16)  # mobile | county_temp
    org_id: int = Field(foreign_key="orgs.id", index=True)  # the holding branch
    notify_org_id: int = Field(foreign_key="orgs.id", index=True)  # the school or county committee
    from_branch_id: int | None = Field(default=None, foreign_key="orgs.id")
    status: str = Field(max_length=16)  # active | overdue | released
    started_at: datetime = _ts(default_factory=utcnow)
    due_at: datetime = _ts(default_factory=utcnow)
    reminders_sent: int = Field(default=0)
    last_reminded_at: datetime | None = _ts(default=None, nullable=True)
    overdue_at: datetime | None = _ts(default=None, nullable=True)
    released_at: datetime | None = _ts(default=None, nullable=True)
    released_by: str | None = Field(default=None, max_length=64)
    release_reason: str | None = Field(default=None, max_length=500)
    transfer_workflow_id: str | None = Field(default=None, max_length=128)
    started_by: str | None = Field(default=None, max_length=64)
    created_at: datetime = _ts(default_factory=utcnow)
    updated_at: datetime = _ts(default_factory=utcnow)


ALL_TABLES += [AbroadRetention, Holding]


# --- bulk 办理转出 uploads (written only by the upload job's activities, service/upload_job.py) -


class UploadJob(SQLModel, table=True):
    """One uploaded bulk 办理转出 file of an org: a `BulkUploadWorkflow` (its id is the upload's
    id, derived from the file's content and the org) and its progress."""

    __tablename__ = "upload_jobs"

    id: int | None = Field(default=None, primary_key=True)
    workflow_id: str = Field(max_length=160, unique=True)  # upload-<org>-<digest>: the upload's id
    run_id: str = Field(max_length=64)  # the run that prepared it
    org_id: int = Field(foreign_key="orgs.id", index=True)
    uploaded_by: str = Field(max_length=64)  # the login the rows start as
    filename: str = Field(max_length=255)
    content_sha256: str = Field(max_length=64)
    status: str = Field(max_length=16)  # running | done
    rows: int = Field(default=0)  # data rows read
    valid: int = Field(default=0)  # rows to start
    invalid: int = Field(default=0)  # rows refused before the start
    started: int = Field(default=0)
    existing: int = Field(default=0)
    failed: int = Field(default=0)
    created_at: datetime = _ts(default_factory=utcnow)
    updated_at: datetime = _ts(default_factory=utcnow)
    finished_at: datetime | None = _ts(default=None, nullable=True)


class UploadRow(SQLModel, table=True):
    """One line of an upload: a row to start (its request without the 身份证号, which the member
    row holds) and its outcome, or an invalid row and its errors."""

    __tablename__ = "upload_rows"
    __table_args__ = (
        UniqueConstraint("job_id", "line", name="uq_upload_rows_job_line"),
        Index("ix_upload_rows_job_status", "job_id", "status"),
    )

    id: int | None = Field(default=None, primary_key=True)
    job_id: int = Field(foreign_key="upload_jobs.id")
    line: int  # the spreadsheet row number
    status: str = Field(max_length=16)  # invalid | pending | started | existing | failed
    member_id: int | None = Field(default=None, foreign_key="members.id")
    name: str = Field(default="", max_length=100)
    id_masked: str = Field(default="", max_length=32)
    request: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    request_id: str | None = Field(default=None, max_length=128)  # <uploader>:<idempotency key>
    status_code: int | None = None
    workflow_id: str | None = Field(default=None, max_length=128)  # the transfer's
    transfer_id: int | None = None
    errors: list[dict[str, Any]] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    updated_at: datetime = _ts(default_factory=utcnow)


ALL_TABLES += [UploadJob, UploadRow]


# --- the message centre: who has read which notice (written by the service layer, per account) ---


class NotificationRead(SQLModel, table=True):
    """An account has read a notice: read state is kept per account, so one admin reading a
    notice addressed to their org does not mark it for the org's other admins."""

    __tablename__ = "notification_reads"

    user_id: int = Field(foreign_key="users.id", primary_key=True)
    notification_id: int = Field(foreign_key="notifications.id", primary_key=True)
    read_at: datetime = _ts(default_factory=utcnow)


ALL_TABLES += [NotificationRead]


# --- delivery channels: email and webhooks (activities/delivery.py, workflows/delivery.py) --------


class Webhook(SQLModel, table=True):
    """A backend service's receiver of the transfer events of an org's subtree (`zhtj webhooks add`)."""

    __tablename__ = "webhooks"

    id: int | None = Field(default=None, primary_key=True)
    org_id: int = Field(foreign_key="orgs.id", index=True)
    url: str = Field(max_length=500)
    events: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    secret: str = Field(max_length=128)  # the HMAC-SHA256 key of X-Zhtj-Signature, shown once
    active: bool = Field(default=True)
    created_by: str | None = Field(default=None, max_length=64)
    created_at: datetime = _ts(default_factory=utcnow)


class DeliveryOutbox(SQLModel, table=True):
    """Work for a channel's dispatcher, written in the transaction of the event it comes from (one
    row per event and channel); the dispatcher turns it into deliveries and deletes it."""

    __tablename__ = "delivery_outbox"
    __table_args__ = (Index("ix_delivery_outbox_channel_id", "channel", "id"),)

    id: int | None = Field(default=None, primary_key=True)
    channel: str = Field(max_length=16)  # email | webhook
    event_key: str = Field(max_length=200)  # the audit key; its notifications are <event_key>/<i>
    notifications: int = Field(default=0)  # how many notifications the event wrote
    entity: str = Field(max_length=32)  # transfer | abroad_retention | holding
    entity_id: int | None = None
    action: str = Field(max_length=64)
    status: str | None = Field(default=None, max_length=32)  # the transfer's status after the event
    current_node_org_id: int | None = None
    at: datetime = _ts(default_factory=utcnow)


class Delivery(SQLModel, table=True):
    """One message to one recipient on one channel (a mail to an address, a POST to a webhook):
    its stable id (Message-ID, delivery id), what is sent, and the attempts' log."""

    __tablename__ = "deliveries"
    __table_args__ = (
        Index("ix_deliveries_channel_status_due", "channel", "status", "next_attempt_at"),
        Index("ix_deliveries_webhook_created", "webhook_id", "created_at"),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=64, unique=True)  # sha256 of <channel>:<notification or event key>:<recipient>
    channel: str = Field(max_length=16)
    delivery_id: str = Field(max_length=200)  # the email's Message-ID, the webhook's delivery id
    event: str = Field(max_length=64)  # the webhook event, or the notification's kind
    notification_id: int | None = Field(default=None, foreign_key="notifications.id")
    webhook_id: int | None = Field(default=None, foreign_key="webhooks.id")
    transfer_id: int | None = None
    recipient: str = Field(max_length=500)  # the address or the URL
    subject: str | None = Field(default=None, max_length=200)
    payload: str = Field(default="", sa_column=Column(Text, nullable=False))  # the mail's text, the raw JSON body
    status: str = Field(max_length=16)  # pending | delivered | failed
    attempts: int = Field(default=0)
    next_attempt_at: datetime = _ts(default_factory=utcnow)
    last_attempt_at: datetime | None = _ts(default=None, nullable=True)
    last_status_code: int | None = None
    last_error: str | None = Field(default=None, max_length=500)
    delivered_at: datetime | None = _ts(default=None, nullable=True)
    occurred_at: datetime = _ts(default_factory=utcnow)
    created_at: datetime = _ts(default_factory=utcnow)


ALL_TABLES += [Webhook, DeliveryOutbox, Delivery]
