"""Database tables and sessions. Imported by activities, services and the CLI, never by workflows."""

from models.tables import (
    ALL_TABLES,
    ApprovalStep,
    AuditLog,
    Member,
    MembershipHistory,
    Notification,
    Org,
    Transfer,
    UploadJob,
    UploadRow,
    User,
    row_id,
    table_of,
    utcnow,
)

__all__ = [
    "ALL_TABLES",
    "ApprovalStep",
    "AuditLog",
    "Member",
    "MembershipHistory",
    "Notification",
    "Org",
    "Transfer",
    "UploadJob",
    "UploadRow",
    "User",
    "row_id",
    "table_of",
    "utcnow",
]
