"""Types crossing the workflow boundary for the system check."""

from __future__ import annotations

from pydantic import BaseModel


class SystemCheckResult(BaseModel):
    schema_revision: str
    orgs: int
    members: int
    users: int
    worker_identity: str
