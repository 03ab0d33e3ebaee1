"""Bulk 办理转出 from an uploaded CSV/XLSX, as a durable job (POST /api/uploads, the UI's 批量办理转出).

1. `check_upload` reads the file with the reader and the row checks of `zhtj transfers import`
   (imports.transfer_rows: every row's line and column), then runs the rows that passed through the
   one gate as a dry run (`service.bulk_start`, 500 rows at a time, each with the key it will
   start with): every bad row with its line, column, rule and message, before anything starts.
2. `start_upload` starts the job: a `BulkUploadWorkflow` whose id is derived from the file's
   content and the org (`upload-<org>-<digest>`), by update-with-start, answering once the job
   and its rows are in the database. The same file uploaded again for the same org finds the same
   job (running, or done); a job whose run failed is run again, and starts only its rows still
   pending. The workflow's activities (service/upload_job.py) start the valid rows in chunks
   through the gate, each row with the key `upload id + line`, and record the progress.
3. The job is read from the database (`visible_job`, `job_rows`, `job_errors`): any API replica
   sees it and its progress, and a restarted API finds it where it was.

Who: an org's admins and service accounts, for their org and the orgs below it (the same answer
as `GET /api/me?org=`); anyone else is refused (403) or finds no job (404).
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import io
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncEngine
from sqlmodel import col
from temporalio.client import Client, WithStartWorkflowOperation, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from domain import idcard
from domain.directory import Directory, OrgInfo
from domain.roles import Role
from imports.reader import ImportFileError, Table
from imports.report import RowError
from imports.transfer_report import sort_errors
from imports.transfer_rows import COLUMN_LABELS, BulkRow, check_table, read_bulk_table
from messages.uploads import (
    UploadAccepted,
    UploadInput,
    UploadRowStatus,
    UploadStatus,
    idempotency_key,
    upload_id_for,
)
from models import Org, Transfer, UploadJob, UploadRow, User
from models.db import reader, session_factory
from models.directory import DirectoryCache, chunked
from service.bulk_start import BulkStartRow, bulk_start
from service.errors import UNAVAILABLE_MESSAGE, refuse
from service.intake import members_by_id_number
from service.permissions import may_act_for, subtree_ids
from service.upload_job import PayloadRow, UploadPayload, error_dicts, outcome_errors, start_request_of
from workflows.upload import BulkUploadWorkflow

#: The largest file taken (a school's graduates fit many times over).
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
#: Data rows of one upload.
MAX_UPLOAD_ROWS = 20_000
#: The compressed rows travel in the workflow's input; Temporal refuses a payload over 2 MB.
MAX_PAYLOAD_BYTES = 1_500_000
#: Rows of one dry run through the gate (as POST /api/transfers/bulk takes them).
VALIDATE_CHUNK = 500
REPORT_COLUMNS = ("line", "column", "rule", "message")


# --- who uploads for which org ------------------------------------------------------------------


def _find(directory: Directory, code: str) -> OrgInfo | None:
    code = code.strip()
    found = directory.get(code) or directory.get(code.upper())
    if found is None:
        found = next((o for o in directory if o.code.lower() == code.lower()), None)
    return found


async def acting_org(engine: AsyncEngine, user: User, as_org: str, directories: DirectoryCache) -> OrgInfo:
    """The org the upload is for (its code as the directory spells it): the caller must be an
    admin or service account of it or of an org above it."""
    if user.role not in (Role.ADMIN, Role.SERVICE) or user.org_id is None:
        raise refuse(403, "user", "只有组织管理员或服务账号可以批量办理转出")
    directory = await directories.get(engine, ids=[user.org_id])
    org = _find(directory, as_org)
    if org is None:
        raise refuse(422, "as_org", f"组织 {as_org.strip()[:64]} 不存在（应为组织编码，如 WHU）")
    if not may_act_for(directory, user, org.code):
        own = directory.by_id(user.org_id)
        raise refuse(
            403,
            "as_org",
            f"账号 {user.username} 不能代表 {org.name}（{org.code}）办理转出：须为该组织或其上级组织的管理员或服务账号"
            f"（该账号所属组织：{own.code if own else '无'}）",
        )
    return org


# --- reading and checking the file --------------------------------------------------------------


def safe_filename(filename: str | None) -> str:
    """The upload's file name without any folder (the reader's messages name it)."""
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1].strip()
    name = "".join(ch for ch in name if ch.isprintable())
    if not name or name in (".", ".."):
        return "upload"
    if len(name) > 120:
        stem, dot, suffix = name.rpartition(".")
        name = (stem[: 110 - len(suffix)] + dot + suffix) if dot and len(suffix) <= 8 else name[:120]
    return name


def _read(filename: str, content: bytes) -> Table:
    """The reader of `zhtj transfers import`, on a copy of the upload under its own name."""
    with tempfile.TemporaryDirectory(prefix="zhtj-upload-") as folder:
        path = Path(folder) / filename
        path.write_bytes(content)
        return read_bulk_table(path)


def upload_digest(content: bytes, org_code: str, id_prefix: str) -> tuple[str, str]:
    """(the content's SHA-256, the upload's digest: of the content, the org and the deployment's
    workflow id prefix, so deployments sharing a Temporal namespace keep their uploads apart)."""
    sha = hashlib.sha256(content).hexdigest()
    digest = hashlib.sha256(f"{id_prefix}\n{org_code}\n{sha}".encode()).hexdigest()
    return sha, digest


@dataclass
class CheckedUpload:
    upload_id: str
    org: OrgInfo
    filename: str
    sha256: str
    rows: int  # data rows read
    payload: list[PayloadRow]  # every data row: to start (pending) or invalid with its errors
    errors: list[RowError]  # every error, sorted as the report lists them

    @property
    def header_bad(self) -> bool:
        return any(e.line == 1 for e in self.errors)

    @property
    def valid(self) -> int:
        return sum(1 for r in self.payload if r.status == UploadRowStatus.PENDING)

    @property
    def invalid_lines(self) -> list[int]:
        return sorted({e.line for e in self.errors})

    def as_dict(self) -> dict[str, Any]:
        return {
            "ok": not self.errors,
            "id": self.upload_id,
            "rows": self.rows,
            "valid": self.valid,
            "invalid": len(self.invalid_lines),
            "errors": [error_dict(e) for e in self.errors],
        }


def error_dict(e: RowError) -> dict[str, Any]:
    """An error of the file: its line, column (and the column's Chinese header), rule, message
    and the report's line of text."""
    return {
        "text": e.render(COLUMN_LABELS),
        "line": e.line,
        "column": e.column,
        "column_label": COLUMN_LABELS.get(e.column.split(",")[0], ""),
        "rule": e.rule,
        "message": e.message,
    }


async def _gate_refusals(
    engine: AsyncEngine,
    user: User,
    rows: Sequence[BulkRow],
    upload_id: str,
    *,
    directories: DirectoryCache,
    id_prefix: str,
) -> dict[int, list[RowError]]:
    """The rows the gate refuses (a dry run with each row's key), their errors by line."""
    refused: dict[int, list[RowError]] = {}
    for chunk in chunked(rows, VALIDATE_CHUNK):
        outcomes = await bulk_start(
            engine,
            None,
            user,
            [BulkStartRow(start_request_of(r.request), idempotency_key(upload_id, r.line)) for r in chunk],
            directories=directories,
            task_queue="",
            id_prefix=id_prefix,
            dry_run=True,
        )
        for r, o in zip(chunk, outcomes, strict=True):
            if not o.ok:
                refused[r.line] = outcome_errors(r.line, o)
    return refused


async def check_upload(
    engine: AsyncEngine,
    user: User,
    *,
    filename: str | None,
    content: bytes,
    as_org: str,
    directories: DirectoryCache,
    id_prefix: str,
) -> CheckedUpload:
    """Every row of the file checked (locally, then by the gate); nothing started or written.
    ServiceError when the caller may not upload for `as_org` or the file cannot be read."""
    org = await acting_org(engine, user, as_org, directories)
    name = safe_filename(filename)
    if not content:
        raise refuse(422, "file", "上传的文件是空的")
    if len(content) > MAX_UPLOAD_BYTES:
        raise refuse(422, "file", f"文件超过 {MAX_UPLOAD_BYTES // (1024 * 1024)} MB，请拆分为多个文件后上传")
    try:
        table = await asyncio.to_thread(_read, name, content)
    except ImportFileError as e:
        raise refuse(422, "file", str(e)) from e
    if any("\x00" in v for r in table.rows for v in r.cells.values()) or any("\x00" in e.message for e in table.errors):
        raise refuse(422, "file", "文件中有空字符（NUL），请另存为 UTF-8 或 GBK 编码的 CSV 或 .xlsx 后重新上传")
    if len(table.rows) > MAX_UPLOAD_ROWS:
        raise refuse(422, "file", f"文件有 {len(table.rows)} 行，一次最多 {MAX_UPLOAD_ROWS} 行，请拆分为多个文件后上传")
    sha, digest = upload_digest(content, org.code, id_prefix)
    upload_id = upload_id_for(org.code, digest)
    rows, errors = await asyncio.to_thread(check_table, table, org.code)
    if not any(e.line == 1 for e in table.errors) and rows:
        refused = await _gate_refusals(engine, user, rows, upload_id, directories=directories, id_prefix=id_prefix)
        errors += [x for line in sorted(refused) for x in refused[line]]
        rows = [r for r in rows if r.line not in refused]
    members = await members_by_id_number(engine, (r.request["id_number"] for r in rows))
    valid = {r.line: r for r in rows if r.request["id_number"] in members}
    errors += [RowError(r.line, "id_number", "api_not_found", "未找到该团员") for r in rows if r.line not in valid]
    by_line: dict[int, list[RowError]] = {}
    for error in errors:
        by_line.setdefault(error.line, []).append(error)
    payload = []
    for row in table.rows:
        raw_id = row.get("id_number")
        masked = idcard.mask(raw_id) if raw_id and "id_number" not in row.damaged else ""
        if (ok := valid.get(row.line)) is not None:
            request = {k: v for k, v in ok.request.items() if k != "id_number"}
            payload.append(
                PayloadRow(
                    line=row.line,
                    status=UploadRowStatus.PENDING,
                    member_id=members[ok.request["id_number"]].id,
                    name=ok.request["name"],
                    id_masked=masked,
                    request=request,
                )
            )
        else:
            payload.append(
                PayloadRow(
                    line=row.line,
                    status=UploadRowStatus.INVALID,
                    name=row.get("name")[:100],
                    id_masked=masked,
                    errors=error_dicts(by_line.get(row.line, [])),
                )
            )
    return CheckedUpload(
        upload_id=upload_id,
        org=org,
        filename=name,
        sha256=sha,
        rows=len(table.rows),
        payload=payload,
        errors=sort_errors(errors),
    )


# --- starting the job ---------------------------------------------------------------------------


def refusal(checked: CheckedUpload, *, skip_invalid: bool) -> str | None:
    """Why nothing may start (the answer is 422 with every error), or None: a bad header, a bad
    row without `skip_invalid`, no valid row at all."""
    if checked.header_bad:
        return "表头有错误，未发起任何转接申请"
    if checked.errors and not skip_invalid:
        return f"{len(checked.invalid_lines)} 行有错误，未发起任何转接申请（可选择跳过无效行，只发起有效行）"
    if not checked.valid:
        return "文件中没有可以发起的有效行，未发起任何转接申请"
    return None


def upload_input(checked: CheckedUpload, user: User, *, task_queue: str, id_prefix: str) -> UploadInput:
    """The job's workflow input: the file's rows compressed (no whole 身份证号 among them)."""
    inp = UploadInput(
        upload_id=checked.upload_id,
        org_code=checked.org.code,
        uploaded_by=user.username,
        filename=checked.filename,
        content_sha256=checked.sha256,
        rows=checked.rows,
        task_queue=task_queue,
        id_prefix=id_prefix,
        payload=UploadPayload(rows=checked.payload).encode(),
    )
    if len(inp.payload) > MAX_PAYLOAD_BYTES:
        raise refuse(422, "file", "文件内容过多，请拆分为多个较小的文件后上传")
    return inp


async def start_upload(
    engine: AsyncEngine,
    client: Client,
    user: User,
    checked: CheckedUpload,
    *,
    task_queue: str,
    id_prefix: str,
) -> tuple[UploadView, bool]:
    """Start the job (or find the one this file already made): (the job, whether this call made it).
    The answer comes once the job and its rows are in the database."""
    found = await job_view(engine, checked.upload_id)
    if found is not None and found.status == UploadStatus.DONE:
        return found, False
    inp = upload_input(checked, user, task_queue=task_queue, id_prefix=id_prefix)
    op = WithStartWorkflowOperation(
        BulkUploadWorkflow.run,
        inp,
        id=checked.upload_id,
        task_queue=task_queue,
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        # a finished job is found, not run again; a failed one runs again (its pending rows only)
        id_reuse_policy=WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
    )
    created = False
    try:
        accepted: UploadAccepted = await client.execute_update_with_start_workflow(
            BulkUploadWorkflow.accepted, start_workflow_operation=op
        )
        created = accepted.created
    except WorkflowAlreadyStartedError:
        pass  # its run finished (the job is done; read below)
    except (RPCError, WorkflowUpdateFailedError) as e:
        raise refuse(503, "temporal", UNAVAILABLE_MESSAGE) from e
    view = await job_view(engine, checked.upload_id)
    if view is None:
        raise refuse(503, "temporal", UNAVAILABLE_MESSAGE)
    return view, created


# --- reading the job ----------------------------------------------------------------------------


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
    "MAX_UPLOAD_BYTES",
    "MAX_UPLOAD_ROWS",
    "CheckedUpload",
    "UploadView",
    "acting_org",
    "check_upload",
    "job_errors",
    "job_rows",
    "job_view",
    "recent_jobs",
    "refusal",
    "report_csv",
    "start_upload",
    "upload_input",
    "visible_job",
]
