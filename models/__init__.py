"""Database tables and sessions. Imported by activities, services and the CLI, never by workflows."""

from models.tables import (  # noqa: F401  (re-exported)
    ALL_TABLES,
    ApprovalStep,
    AuditLog,
    Member,
    MembershipHistory,
    Notification,
    Org,
    Transfer,
    User,
    utcnow,
)
