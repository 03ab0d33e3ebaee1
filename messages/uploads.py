"""Types crossing the BulkUploadWorkflow boundary: one uploaded bulk 办理转出 file of an org.

The upload's id is its workflow id, `upload-<org code>-<digest>`, the digest a hash of the file's
content, the org and the deployment's workflow id prefix: the same file uploaded again for the
same org finds the same job. Each row starts with the idempotency key `idempotency_key(upload
id, line)`, so a retried chunk, a re-sent upload or a new run of a failed job starts no row twice.

The workflow never reads the rows: they travel compressed in `UploadInput.payload` to the prepare
activity, which writes them to the database; the chunk activities read them back from there. The
payload holds no whole 身份证号 (the member's id stands for it, as in a transfer's input).
"""

from __future__ import annotations

import re
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field

UPLOAD_ID_PREFIX = "upload-"
#: An upload id: the prefix, the org's code and 32 hex digits.
UPLOAD_ID_PATTERN = r"^upload-[A-Za-z0-9_-]{1,64}-[0-9a-f]{32}$"
DIGEST_LENGTH = 32

#: The activities of the job, registered by the worker under these names (their code is in the
#: service layer, service/upload_job.py, because they start rows through the one gate).
PREPARE_ACTIVITY = "upload_prepare"
START_CHUNK_ACTIVITY = "upload_start_chunk"
FINISH_ACTIVITY = "upload_finish"

#: Rows per chunk activity (as `zhtj transfers import` sends them per request), and chunks at once.
CHUNK_ROWS = 100
CONCURRENT_CHUNKS = 4


class UploadStatus(StrEnum):
    RUNNING = "running"
    DONE = "done"


class UploadRowStatus(StrEnum):
    INVALID = "invalid"  # refused by the checks before the start (with its errors)
    PENDING = "pending"  # to be started
    STARTED = "started"  # a new transfer
    EXISTING = "existing"  # this key's transfer, or the member's open one
    FAILED = "failed"  # the start was refused (with its errors)


def upload_id_for(org_code: str, digest: str) -> str:
    return f"{UPLOAD_ID_PREFIX}{org_code}-{digest[:DIGEST_LENGTH]}"


def is_upload_id(text: str) -> bool:
    return re.fullmatch(UPLOAD_ID_PATTERN, text) is not None


def idempotency_key(upload_id: str, line: int) -> str:
    """The key a row starts with: the upload (its digest) and the row's line."""
    return f"ul-{upload_id.rsplit('-', 1)[-1]}-{line}"


class UploadInput(BaseModel):
    model_config = ConfigDict(ser_json_bytes="base64", val_json_bytes="base64")

    upload_id: str  # the workflow id
    org_code: str
    uploaded_by: str  # the login the rows start as (its rights are checked again for every row)
    filename: str
    content_sha256: str
    rows: int  # data rows read from the file
    task_queue: str  # where the transfers start (the API's settings)
    id_prefix: str  # the transfers' workflow id prefix (the API's settings)
    payload: bytes = Field(repr=False)  # zlib-compressed JSON of every row (service/upload_job.py)
    chunk_rows: int = CHUNK_ROWS
    concurrent_chunks: int = CONCURRENT_CHUNKS


class UploadPrepared(BaseModel):
    """The prepare activity's answer: the job's row and the lines still to start, in order."""

    job_id: int
    pending: list[int] = Field(default_factory=list)


class UploadAccepted(BaseModel):
    """The `accepted` update's answer: the job is in the database (its rows written)."""

    upload_id: str
    job_id: int
    created: bool  # whether this call's start made the job (False: it found it)


class UploadChunk(BaseModel):
    upload_id: str
    lines: list[int]
    task_queue: str
    id_prefix: str


class UploadCounts(BaseModel):
    """How many rows of the job are where (the job's row holds the same counts)."""

    pending: int = 0
    started: int = 0
    existing: int = 0
    failed: int = 0
    invalid: int = 0


__all__ = [
    "CHUNK_ROWS",
    "CONCURRENT_CHUNKS",
    "FINISH_ACTIVITY",
    "PREPARE_ACTIVITY",
    "START_CHUNK_ACTIVITY",
    "UPLOAD_ID_PATTERN",
    "UPLOAD_ID_PREFIX",
    "UploadAccepted",
    "UploadChunk",
    "UploadCounts",
    "UploadInput",
    "UploadPrepared",
    "UploadRowStatus",
    "UploadStatus",
    "idempotency_key",
    "is_upload_id",
    "upload_id_for",
]
