"""Bulk 办理转出 from an uploaded CSV/XLSX, as a durable job (POST /api/uploads, the UI's 批量办理转出).

1. `check_upload` (`service.upload_check`) reads the file with the reader and the row checks of
   `zhtj transfers import` (imports.transfer_rows: every row's line and column), then runs the
   rows that passed through the one gate as a dry run (`service.bulk_start`, 500 rows at a time,
   each with the key it will start with): every bad row with its line, column, rule and message,
   before anything starts.
2. `start_upload` starts the job: a `BulkUploadWorkflow` whose id is derived from the file's
   content and the org (`upload-<org>-<digest>`), by update-with-start, answering once the job
   and its rows are in the database. The same file uploaded again for the same org finds the same
   job (running, or done); a job whose run failed is run again, and starts only its rows still
   pending. The workflow's activities (service/upload_job.py) start the valid rows in chunks
   through the gate, each row with the key `upload id + line`, and record the progress.
3. The job is read from the database (`service.upload_views`: `visible_job`, `job_rows`,
   `job_errors`): any API replica sees it and its progress, and a restarted API finds it where it
   was.

Who: an org's admins and service accounts, for their org and the orgs below it (the same answer
as `GET /api/me?org=`); anyone else is refused (403) or finds no job (404).
"""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncEngine
from temporalio.client import Client, WithStartWorkflowOperation, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError

from messages.uploads import UploadAccepted, UploadInput, UploadStatus
from models import User
from service.errors import UNAVAILABLE_MESSAGE, refuse
from service.upload_check import CheckedUpload
from service.upload_job import UploadPayload
from service.upload_views import UploadView, job_view
from workflows.upload import BulkUploadWorkflow

#: The compressed rows travel in the workflow's input; Temporal refuses a payload over 2 MB.
MAX_PAYLOAD_BYTES = 1_500_000


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


__all__ = [
    "refusal",
    "start_upload",
    "upload_input",
]
