"""Reading a bulk 办理转出 upload job (`service.uploads`) from the database: any API replica sees it
and its progress, and a restarted API finds it where it was. `visible_job` answers an admin or
service account of the job's org or of one above it (404 for anyone else); `report_csv` writes
the error report of `zhtj transfers import`."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col

from domain.roles import Role
from imports.report import RowError
from imports.transfer_report import sort_errors
from messages.uploads import UploadRowStatus
from models import Org, Transfer, UploadJob, UploadRow, User
from models.db import reader, session_factory
from models.directory import DirectoryCache
from service.errors import refuse
from service.permissions import may_act_for, subtree_ids

REPORT_COLUMNS = ("line", "column", "rule", "message")


@dataclass(frozen=True)
class UploadView:
    job_id: int
    id: str  # the upload's id (its workflow id)
    org_code: str
    org_name: str
    uploaded_by: str
    filename: str
    status: str
    rows: int
    valid: int
    invalid: int
    started: int
    existing: int
    failed: int
    created_at: datetime
    updated_at: datetime
    finished_at: datetime | None

    @property
    def done(self) -> int:
        """Valid rows whose start has an outcome."""
        return self.started + self.existing + self.failed

    @property
    def percent(self) -> int:
        return 100 if not self.valid else min(100, self.done * 100 // self.valid)

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "url": f"/api/uploads/{self.id}",
            "errors_url": f"/api/uploads/{self.id}/errors.csv",
            "org_code": self.org_code,
            "filename": self.filename,
            "uploaded_by": self.uploaded_by,
            "status": self.status,
            "rows": self.rows,
            "valid": self.valid,
            "invalid": self.invalid,
            "started": self.started,
            "existing": self.existing,
            "failed": self.failed,
            "done": self.done,
            "created_at": self.created_at,
            "updated_at": self.updated_at,
            "finished_at": self.finished_at,
        }


def _view(job: UploadJob, org: Org) -> UploadView:
    assert job.id is not None
    return UploadView(
        job_id=job.id,
        id=job.workflow_id,
        org_code=org.code,
        org_name=org.name,
        uploaded_by=job.uploaded_by,
        filename=job.filename,
        status=job.status,
        rows=job.rows,
        valid=job.valid,
        invalid=job.invalid,
        started=job.started,
        existing=job.existing,
        failed=job.failed,
        created_at=job.created_at,
        updated_at=job.updated_at,
        finished_at=job.finished_at,
    )


async def job_view(engine: AsyncEngine, upload_id: str) -> UploadView | None:
    async with session_factory(reader(engine))() as session:
        found = (
            await session.execute(
                select(UploadJob, Org)
                .join(Org, col(Org.id) == col(UploadJob.org_id))
                .where(col(UploadJob.workflow_id) == upload_id)
            )
        ).first()
    return _view(*found) if found is not None else None


async def visible_job(engine: AsyncEngine, user: User, upload_id: str, directories: DirectoryCache) -> UploadView:
    """The job, for an admin or service account of its org or of one above it; else 404."""
    view = await job_view(engine, upload_id)
    if view is not None and user.role in (Role.ADMIN, Role.SERVICE) and user.org_id is not None:
        directory = await directories.get(engine, codes=[view.org_code], ids=[user.org_id])
        if may_act_for(directory, user, view.org_code):
            return view
    raise refuse(404, "id", f"上传任务 {upload_id[:200]} 不存在")


async def recent_jobs(engine: AsyncEngine, user: User, *, limit: int = 20) -> list[UploadView]:
    """The newest jobs of the user's org and the orgs below it."""
    if user.org_id is None:
        return []
    async with session_factory(reader(engine))() as session:
        found = (
            await session.execute(
                select(UploadJob, Org)
                .join(Org, col(Org.id) == col(UploadJob.org_id))
                .where(col(UploadJob.org_id).in_(subtree_ids(user.org_id)))
                .order_by(col(UploadJob.created_at).desc(), col(UploadJob.id).desc())
                .limit(limit)
            )
        ).all()
    return [_view(job, org) for job, org in found]


async def job_rows(
    engine: AsyncEngine, job_id: int, *, status: str | None = None, page: int = 1, page_size: int = 100
) -> tuple[list[dict[str, Any]], int]:
    """A page of the job's rows in line order, with each started row's transfer id once known."""
    where = [col(UploadRow.job_id) == job_id]
    if status:
        where.append(col(UploadRow.status) == status)
    async with session_factory(reader(engine))() as session:
        total = (await session.execute(select(func.count()).select_from(UploadRow).where(*where))).scalar_one()
        rows = list(
            (
                await session.execute(
                    select(UploadRow)
                    .where(*where)
                    .order_by(col(UploadRow.line))
                    .offset((page - 1) * page_size)
                    .limit(page_size)
                )
            ).scalars()
        )
        keys = [r.request_id for r in rows if r.transfer_id is None and r.request_id]
        by_key: dict[str, int] = {}
        if keys:
            found = await session.execute(
                select(col(Transfer.request_id), col(Transfer.id)).where(col(Transfer.request_id).in_(keys))
            )
            by_key = {k: i for k, i in found.all() if k is not None and i is not None}
        wids = [r.workflow_id for r in rows if r.transfer_id is None and r.workflow_id and r.request_id not in by_key]
        by_wid: dict[str, int] = {}
        if wids:  # the member's open transfer that another start made
            found = await session.execute(
                select(col(Transfer.workflow_id), func.max(col(Transfer.id)))
                .where(col(Transfer.workflow_id).in_(wids))
                .group_by(col(Transfer.workflow_id))
            )
            by_wid = {w: i for w, i in found.all() if w is not None and i is not None}
    items = []
    for r in rows:
        tid = r.transfer_id or by_key.get(r.request_id or "") or by_wid.get(r.workflow_id or "")
        items.append(
            {
                "line": r.line,
                "status": r.status,
                "name": r.name,
                "id_number": r.id_masked,
                "status_code": r.status_code,
                "workflow_id": r.workflow_id,
                "transfer_id": tid,
                "errors": [{"line": r.line, **e} for e in r.errors],
            }
        )
    return items, total


async def job_errors(engine: AsyncEngine, job_id: int) -> list[RowError]:
    """Every error of the job's rows (refused before the start, or by it), as the report lists them."""
    async with session_factory(reader(engine))() as session:
        rows = (
            await session.execute(
                select(col(UploadRow.line), col(UploadRow.errors)).where(
                    col(UploadRow.job_id) == job_id,
                    col(UploadRow.status).in_([UploadRowStatus.INVALID.value, UploadRowStatus.FAILED.value]),
                )
            )
        ).all()
    return sort_errors(
        RowError(line, str(e.get("column", "")), str(e.get("rule", "")), str(e.get("message", "")))
        for line, errors in rows
        for e in errors
    )


def report_csv(errors: Sequence[RowError]) -> bytes:
    """The error report of `zhtj transfers import`: line,column,rule,message, UTF-8 with BOM."""
    out = io.StringIO()
    w = csv.writer(out)
    w.writerow(REPORT_COLUMNS)
    w.writerows([e.line, e.column, e.rule, e.message] for e in sort_errors(errors))
    return out.getvalue().encode("utf-8-sig")


__all__ = [
    "UploadView",
    "job_errors",
    "job_rows",
    "job_view",
    "recent_jobs",
    "report_csv",
    "visible_job",
]
