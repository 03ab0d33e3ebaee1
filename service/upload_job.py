"""The activities of a bulk upload job (`workflows.upload.BulkUploadWorkflow`): the only code that
writes the `upload_jobs` and `upload_rows` tables.

They live in the service layer because a chunk starts its rows through the one gate,
`service.bulk_start` (every check of a single start, per row), which the activities layer may
not import; the workflow names them by their registered names (`messages.uploads`) and
worker.py registers them. Each is idempotent:

- prepare writes the job and every row of the file once (a row already written keeps its
  outcome) and answers the lines still pending;
- a chunk starts only its rows still pending, each with its idempotency key (upload id + line):
  a chunk retried after it started some of them finds those transfers by key (or the member's open
  transfer) and starts nothing twice; a row the workflow service could not take (503) stays
  pending and the chunk is retried;
- finish marks the job done. Every write recounts the job's rows under a lock on the job's row,
  so concurrent chunks never lose a count.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel, Field
from sqlalchemy import bindparam, exists, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlmodel import col
from temporalio import activity
from temporalio.client import Client
from temporalio.exceptions import ApplicationError

from domain.transfers import Channel, TransferType
from imports.report import RowError
from imports.transfer_start import server_errors
from messages.uploads import (
    FINISH_ACTIVITY,
    PREPARE_ACTIVITY,
    START_CHUNK_ACTIVITY,
    UploadChunk,
    UploadCounts,
    UploadInput,
    UploadPrepared,
    UploadRowStatus,
    UploadStatus,
    idempotency_key,
)
from models import Member, Org, Transfer, UploadJob, UploadRow, User, table_of, utcnow
from models.db import reader, session_factory, session_scope
from models.directory import DIRECTORIES
from service.bulk_start import BulkStartRow, RowOutcome, bulk_start
from service.intake import StartRequest
from starter.client import ApiError
from starter.models import FieldErrorOut
from workflows.upload import INVALID_UPLOAD

#: Statuses whose rows are done (the job's progress).
DONE_STATUSES = (UploadRowStatus.STARTED, UploadRowStatus.EXISTING, UploadRowStatus.FAILED)


# --- the rows, as they travel from the API to the prepare activity ------------------------------


class PayloadRow(BaseModel):
    """One line of the file: a row to start (its member and request, without the 身份证号) or an
    invalid row with its errors (`column, rule, message`)."""

    line: int
    status: UploadRowStatus
    member_id: int | None = None
    name: str = ""
    id_masked: str = ""
    request: dict[str, Any] = Field(default_factory=dict)
    errors: list[dict[str, str]] = Field(default_factory=list)


class UploadPayload(BaseModel):
    rows: list[PayloadRow]

    def encode(self) -> bytes:
        return zlib.compress(self.model_dump_json().encode(), 6)

    @classmethod
    def decode(cls, data: bytes) -> UploadPayload:
        return cls.model_validate_json(zlib.decompress(data))


def start_request_of(request: dict[str, Any], id_number: str | None = None, *, name: str = "") -> StartRequest:
    """The gate's request of a row's request body (`imports.transfer_rows.check_row`'s); the
    身份证号 from the body or, for a row written without it, from the member's row."""
    return StartRequest(
        id_number=id_number if id_number is not None else str(request.get("id_number", "")),
        name=str(request.get("name", name)),
        type=TransferType(request["type"]),
        channel=Channel(request.get("channel", Channel.OUT.value)),
        form=dict(request.get("form") or {}),
        target_org_code=request.get("target_org_code"),
        partition=request.get("partition"),
    )


def error_dicts(errors: Sequence[RowError]) -> list[dict[str, str]]:
    return [{"column": e.column, "rule": e.rule, "message": e.message} for e in errors]


def outcome_errors(line: int, outcome: RowOutcome) -> list[RowError]:
    """A refused start's errors as `zhtj transfers import` reports them (rule by status, column
    by field, 身份证号 masked)."""
    # imports.transfer_start maps the API's refusals; a RowOutcome carries the same status and fields
    return server_errors(
        line, ApiError(outcome.status_code, [FieldErrorOut(field=p.field, message=p.message) for p in outcome.errors])
    )


# --- reading and counting -----------------------------------------------------------------------


async def _locked_job(session: AsyncSession, upload_id: str) -> UploadJob | None:
    """The job's row, locked until the transaction ends (PostgreSQL; SQLite's writes are serial)."""
    found = await session.execute(select(UploadJob).where(col(UploadJob.workflow_id) == upload_id).with_for_update())
    return found.scalar_one_or_none()


async def recount(session: AsyncSession, job: UploadJob) -> UploadCounts:
    """Count the job's rows by status into its row (inside the caller's transaction)."""
    rows = await session.execute(
        select(col(UploadRow.status), func.count()).where(col(UploadRow.job_id) == job.id).group_by(UploadRow.status)
    )
    by: dict[str, int] = {status: n for status, n in rows.all()}
    counts = UploadCounts(**{s.value: by.get(s.value, 0) for s in UploadRowStatus})
    job.valid = counts.pending + counts.started + counts.existing + counts.failed
    job.invalid = counts.invalid
    job.started, job.existing, job.failed = counts.started, counts.existing, counts.failed
    job.updated_at = utcnow()
    session.add(job)
    return counts


def _invalid(message: str) -> ApplicationError:
    return ApplicationError(message, type=INVALID_UPLOAD, non_retryable=True)


# --- the activities -----------------------------------------------------------------------------


class UploadActivities:
    def __init__(self, engine: AsyncEngine, client: Client | None) -> None:
        self.engine = engine
        self.client = client

    @activity.defn(name=PREPARE_ACTIVITY)
    async def prepare(self, inp: UploadInput) -> UploadPrepared:
        """Write the job and its rows (those not yet written); the lines still pending."""
        payload = UploadPayload.decode(inp.payload)
        async with session_scope(self.engine) as session:
            org_id = await session.scalar(select(col(Org.id)).where(col(Org.code) == inp.org_code))
            if org_id is None:
                raise _invalid(f"组织 {inp.org_code} 不存在")
            job = await _locked_job(session, inp.upload_id)
            if job is None:
                job = UploadJob(
                    workflow_id=inp.upload_id,
                    run_id=activity.info().workflow_run_id or "",
                    org_id=org_id,
                    uploaded_by=inp.uploaded_by,
                    filename=inp.filename[:255],
                    content_sha256=inp.content_sha256,
                    status=UploadStatus.RUNNING.value,
                    rows=inp.rows,
                )
                session.add(job)
                await session.flush()
            else:  # a retried attempt, or a new run of a job whose run failed
                job.run_id = activity.info().workflow_run_id or ""
                job.status = UploadStatus.RUNNING.value
                job.finished_at = None
            have = set(
                (await session.execute(select(col(UploadRow.line)).where(col(UploadRow.job_id) == job.id))).scalars()
            )
            new = [self._row(job, r) for r in payload.rows if r.line not in have]
            if new:
                await session.execute(table_of(UploadRow).insert(), new)
            await recount(session, job)
            pending = (
                await session.execute(
                    select(col(UploadRow.line))
                    .where(col(UploadRow.job_id) == job.id, col(UploadRow.status) == UploadRowStatus.PENDING.value)
                    .order_by(col(UploadRow.line))
                )
            ).scalars()
            assert job.id is not None
            return UploadPrepared(job_id=job.id, pending=list(pending))

    @staticmethod
    def _row(job: UploadJob, r: PayloadRow) -> dict[str, Any]:
        key = idempotency_key(job.workflow_id, r.line)
        return {
            "job_id": job.id,
            "line": r.line,
            "status": r.status.value,
            "member_id": r.member_id,
            "name": r.name[:100],
            "id_masked": r.id_masked[:32],
            "request": r.request,
            "request_id": f"{job.uploaded_by}:{key}" if r.status == UploadRowStatus.PENDING else None,
            "status_code": None,
            "workflow_id": None,
            "transfer_id": None,
            "errors": r.errors,
            "updated_at": utcnow(),
        }

    @activity.defn(name=START_CHUNK_ACTIVITY)
    async def start_chunk(self, chunk: UploadChunk) -> UploadCounts:
        """Start the chunk's pending rows through the gate and record each row's outcome."""
        job, rows, user, ids = await self._chunk(chunk)
        if not rows:
            return await self._record(chunk.upload_id, [])
        if user is None or not user.active:
            refused = [
                (r, RowError(r.line, "", "api_unauthorized", f"上传该文件的账号 {job.uploaded_by} 已停用，未发起"))
                for r in rows
            ]
            return await self._record(chunk.upload_id, [(r, None, [e]) for r, e in refused])
        outcomes = await bulk_start(
            self.engine,
            self._client(),
            user,
            [
                BulkStartRow(
                    start_request_of(r.request, ids.get(r.member_id or -1, ""), name=r.name),
                    idempotency_key(job.workflow_id, r.line),
                )
                for r in rows
            ],
            directories=DIRECTORIES,
            task_queue=chunk.task_queue,
            id_prefix=chunk.id_prefix,
        )
        results = [(r, o, [] if o.ok else outcome_errors(r.line, o)) for r, o in zip(rows, outcomes, strict=True)]
        counts = await self._record(chunk.upload_id, [x for x in results if x[1] is None or x[1].status_code != 503])
        if unavailable := sum(1 for _, o, _ in results if o is not None and o.status_code == 503):
            # left pending: the retry starts them (and finds by key any the server did take)
            raise ApplicationError(
                f"流程服务暂不可用，{unavailable} 行未能发起，稍后重试", type="UploadStartsUnavailable"
            )
        return counts

    async def _chunk(self, chunk: UploadChunk) -> tuple[UploadJob, list[UploadRow], User | None, dict[int, str]]:
        """The job, the chunk's rows still pending, the login they start as, the members' 身份证号."""
        async with session_factory(reader(self.engine))() as session:
            job = (
                await session.execute(select(UploadJob).where(col(UploadJob.workflow_id) == chunk.upload_id))
            ).scalar_one_or_none()
            if job is None:
                raise _invalid(f"上传任务 {chunk.upload_id} 不存在")
            pending = select(UploadRow).where(
                col(UploadRow.job_id) == job.id,
                col(UploadRow.line).in_(chunk.lines),
                col(UploadRow.status) == UploadRowStatus.PENDING.value,
            )
            rows = list((await session.execute(pending.order_by(col(UploadRow.line)))).scalars())
            user = (
                await session.execute(select(User).where(col(User.username) == job.uploaded_by))
            ).scalar_one_or_none()
            members = select(col(Member.id), col(Member.id_number)).where(
                col(Member.id).in_([r.member_id for r in rows if r.member_id is not None])
            )
            ids: dict[int, str] = (
                {i: n for i, n in (await session.execute(members)).all() if i is not None} if rows else {}
            )
        return job, rows, user, ids

    def _client(self) -> Client:
        if self.client is None:
            raise RuntimeError("the upload job's activities need the worker's Temporal client")
        return self.client

    async def _record(
        self, upload_id: str, results: Sequence[tuple[UploadRow, RowOutcome | None, list[RowError]]]
    ) -> UploadCounts:
        """Each row's outcome (None: refused before the gate, with its errors), then the counts."""
        t = table_of(UploadRow)
        now = utcnow()
        values = []
        for row, o, errors in results:
            if o is None or not o.ok:
                status = UploadRowStatus.FAILED
            elif o.created or o.transfer_id is not None:  # new, or found by this row's own key
                status = UploadRowStatus.STARTED
            else:  # the member's open transfer (another's, or this row's not yet recorded)
                status = UploadRowStatus.EXISTING
            values.append(
                {
                    "_id": row.id,
                    "_status": status.value,
                    "_code": o.status_code if o is not None else None,
                    "_wid": o.workflow_id if o is not None else None,
                    "_tid": o.transfer_id if o is not None else None,
                    "_errors": error_dicts(errors),
                    "_at": now,
                }
            )
        async with session_scope(self.engine) as session:
            job = await _locked_job(session, upload_id)
            if job is None:
                raise _invalid(f"上传任务 {upload_id} 不存在")
            if values:
                await session.execute(
                    update(t)
                    .where(t.c.id == bindparam("_id"), t.c.status == UploadRowStatus.PENDING.value)
                    .values(
                        status=bindparam("_status"),
                        status_code=bindparam("_code"),
                        workflow_id=bindparam("_wid"),
                        transfer_id=bindparam("_tid"),
                        errors=bindparam("_errors"),
                        updated_at=bindparam("_at"),
                    ),
                    values,
                )
            return await recount(session, job)

    @activity.defn(name=FINISH_ACTIVITY)
    async def finish(self, upload_id: str) -> UploadCounts:
        async with session_scope(self.engine) as session:
            job = await _locked_job(session, upload_id)
            if job is None:
                raise _invalid(f"上传任务 {upload_id} 不存在")
            # a row answered `existing` whose transfer carries its key was started by this job (an
            # attempt lost before recording it, retried before the transfer was written)
            await session.execute(
                update(UploadRow)
                .where(
                    col(UploadRow.job_id) == job.id,
                    col(UploadRow.status) == UploadRowStatus.EXISTING.value,
                    exists().where(col(Transfer.request_id) == col(UploadRow.request_id)),
                )
                .values(status=UploadRowStatus.STARTED.value, updated_at=utcnow())
            )
            counts = await recount(session, job)
            job.status = UploadStatus.DONE.value
            job.finished_at = job.finished_at or utcnow()
            return counts

    def all(self) -> list[Any]:
        """The activities to register on the worker."""
        return [self.prepare, self.start_chunk, self.finish]


__all__ = [
    "DONE_STATUSES",
    "PayloadRow",
    "UploadActivities",
    "UploadPayload",
    "error_dicts",
    "outcome_errors",
    "start_request_of",
]
