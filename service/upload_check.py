"""Checking an uploaded CSV/XLSX of bulk 办理转出 before its job starts (`service.uploads`).

`check_upload` reads the file with the reader and the row checks of `zhtj transfers import`
(imports.transfer_rows: every row's line and column), then runs the rows that passed through the
one gate as a dry run (`service.bulk_start`, 500 rows at a time, each with the key it will start
with): every bad row with its line, column, rule and message, before anything starts. Nothing is
started or written.

Who: an org's admins and service accounts, for their org and the orgs below it (`acting_org`).
"""

from __future__ import annotations

import asyncio
import hashlib
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy.ext.asyncio import AsyncEngine

from domain import idcard
from domain.directory import Directory, OrgInfo
from domain.roles import Role
from imports.reader import ImportFileError, Table
from imports.report import RowError
from imports.transfer_report import sort_errors
from imports.transfer_rows import COLUMN_LABELS, BulkRow, check_table, read_bulk_table
from messages.uploads import UploadRowStatus, idempotency_key, upload_id_for
from models import User
from models.directory import DirectoryCache, chunked
from service.bulk_start import BulkStartRow, bulk_start
from service.errors import refuse
from service.intake import members_by_id_number
from service.permissions import may_act_for
from service.upload_job import PayloadRow, error_dicts, outcome_errors, start_request_of

#: The largest file taken (a school's graduates fit many times over).
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
#: Data rows of one upload.
MAX_UPLOAD_ROWS = 20_000
#: Rows of one dry run through the gate (as POST /api/transfers/bulk takes them).
VALIDATE_CHUNK = 500


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


__all__ = [
    "MAX_UPLOAD_BYTES",
    "MAX_UPLOAD_ROWS",
    "CheckedUpload",
    "acting_org",
    "check_upload",
]
