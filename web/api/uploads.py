"""Bulk 办理转出 from an uploaded file, as a durable job: POST /api/uploads, GET /api/uploads/{id}
and its error report (service.uploads, service.upload_check, service.upload_views)."""

from __future__ import annotations

from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, File, Form, Path, Query, Request, Response, UploadFile
from fastapi.responses import JSONResponse
from starlette.datastructures import UploadFile as StarletteUploadFile

from messages.uploads import UPLOAD_ID_PATTERN
from service import upload_check, upload_views, uploads
from service.errors import refuse
from web.api import schemas as s
from web.api.errors import TITLES
from web.api.routes import CurrentUser

router = APIRouter(prefix="/api", tags=["uploads"])

UploadId = Annotated[str, Path(pattern=UPLOAD_ID_PATTERN, max_length=140, description="the upload's id")]

_INVALID_FILE = {
    "description": "a row or the file is bad (every bad row with its line, column, rule and message), "
    "or no row is valid; nothing is started",
    "content": {"application/problem+json": {}},
}


async def read_upload(file: StarletteUploadFile) -> bytes:
    """The upload's bytes, refused (422) past the largest file taken without reading it all."""
    content = await file.read(upload_check.MAX_UPLOAD_BYTES + 1)
    if len(content) > upload_check.MAX_UPLOAD_BYTES:
        raise refuse(
            422, "file", f"文件超过 {upload_check.MAX_UPLOAD_BYTES // (1024 * 1024)} MB，请拆分为多个文件后上传"
        )
    return content


def invalid_upload(checked: upload_check.CheckedUpload, note: str) -> JSONResponse:
    """problem+json (422): every error with its line, column and rule besides the field and the
    message (the report's line of text), and the file's counts."""
    errors = [
        {
            "field": e["column"] or "file",
            "message": e["text"],
            "line": e["line"],
            "column": e["column"],
            "rule": e["rule"],
        }
        for e in map(upload_check.error_dict, checked.errors)
    ] or [{"field": "file", "message": note}]
    body = {
        "type": "about:blank",
        "title": TITLES[422],
        "status": 422,
        "detail": note,
        "errors": errors,
        "id": checked.upload_id,
        "rows": checked.rows,
        "valid": checked.valid,
        "invalid": len(checked.invalid_lines),
    }
    return JSONResponse(body, status_code=422, media_type="application/problem+json")


@router.post(
    "/uploads",
    response_model=s.UploadOut,
    status_code=202,
    responses={
        200: {"description": "a dry run that found no bad row (UploadCheckOut), or the job this file already made"},
        422: _INVALID_FILE,
    },
)
async def create_upload(
    request: Request,
    response: Response,
    user: CurrentUser,
    file: Annotated[UploadFile, File(description="CSV (UTF-8 or GBK) or XLSX: the file of `zhtj transfers import`")],
    as_org: Annotated[str, Form(min_length=1, max_length=64, description="the org acted for (its code)")],
    dry_run: Annotated[bool, Form(description="check every row; start nothing")] = False,
    skip_invalid: Annotated[bool, Form(description="start the valid rows even when some are bad")] = False,
) -> Any:
    """Upload a bulk 办理转出 file. Every row is checked first, as `zhtj transfers import` checks it
    (the file's reader and row checks, then every check of a start through the one gate): with
    `dry_run` the answer is 200 when every row passed, else 422 listing every bad row's line,
    column, rule and message. Otherwise a file with a bad row starts nothing (422) unless
    `skip_invalid`; the valid rows are started by a durable job, answered 202 with its id and URL
    once the job is recorded (follow it with GET `url`). The same file uploaded again for the same
    org finds the same job (200) and starts nothing twice."""
    state = request.app.state
    content = await read_upload(file)
    checked = await upload_check.check_upload(
        state.engine,
        user,
        filename=file.filename,
        content=content,
        as_org=as_org,
        directories=state.directories,
        id_prefix=state.settings.workflow_id_prefix,
    )
    if dry_run:
        if checked.errors:
            return invalid_upload(checked, f"{len(checked.invalid_lines)} 行有错误（试运行，未发起任何转接申请）")
        return JSONResponse(s.UploadCheckOut.model_validate(checked.as_dict()).model_dump(mode="json"))
    why = uploads.refusal(checked, skip_invalid=skip_invalid)
    if why is not None:
        return invalid_upload(checked, why)
    view, created = await uploads.start_upload(
        state.engine,
        await state.temporal_client(),
        user,
        checked,
        task_queue=state.settings.task_queue,
        id_prefix=state.settings.workflow_id_prefix,
    )
    response.status_code = 202 if created else 200
    response.headers["Location"] = f"/api/uploads/{view.id}"
    return view.as_dict()


@router.get("/uploads/{upload_id}", response_model=s.UploadDetailOut)
async def get_upload(
    upload_id: UploadId,
    request: Request,
    user: CurrentUser,
    status: s.UploadRowStatusCode | None = None,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 100,
) -> dict[str, Any]:
    """The job: its status and counts (`done` of `valid` is the progress), and a page of its rows'
    outcomes in line order (`status` filters them)."""
    state = request.app.state
    view = await upload_views.visible_job(state.engine, user, upload_id, state.directories)
    items, total = await upload_views.job_rows(state.engine, view.job_id, status=status, page=page, page_size=page_size)
    return {**view.as_dict(), "outcomes": {"items": items, "total": total, "page": page, "page_size": page_size}}


@router.get(
    "/uploads/{upload_id}/errors.csv",
    response_class=Response,
    responses={200: {"content": {"text/csv": {}}, "description": "line,column,rule,message (UTF-8 with BOM)"}},
)
async def upload_errors(upload_id: UploadId, request: Request, user: CurrentUser) -> Response:
    """The error report of `zhtj transfers import` for the job: every bad row and every refused start."""
    state = request.app.state
    view = await upload_views.visible_job(state.engine, user, upload_id, state.directories)
    return csv_response(
        upload_views.report_csv(await upload_views.job_errors(state.engine, view.job_id)), view.filename
    )


def csv_response(data: bytes, filename: str) -> Response:
    stem = filename.rsplit(".", 1)[0] or "upload"
    return Response(
        data,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f"attachment; filename=\"errors.csv\"; filename*=UTF-8''{quote(stem + '.errors.csv')}"
        },
    )
