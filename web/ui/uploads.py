"""批量办理转出: upload the file of `zhtj transfers import`, see every bad row before anything starts,
start the valid rows as a durable job and follow it with a progress bar, download the error report.

The pages work without JavaScript (a post per step; the job page reloads itself while it runs);
web/static/uploads.js checks a file without leaving the page (the file stays chosen for the
start) and moves the progress bar. Everything is `service.uploads` (with `service.upload_check`
and `service.upload_views`), as POST /api/uploads; the job lives in Temporal and the database, so
a reload, another replica or a restarted API shows it.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import HTMLResponse, JSONResponse, Response
from starlette.datastructures import UploadFile

from domain.glossary import UPLOAD_ROW_STATUS_LABELS, UPLOAD_STATUS_LABELS
from imports.transfer_rows import COLUMN_LABELS
from messages.uploads import UploadRowStatus, UploadStatus, is_upload_id
from service import pages, upload_views, uploads
from service.errors import Problem, ServiceError
from service.upload_check import CheckedUpload, check_upload
from web.api.uploads import csv_response, read_upload
from web.ui.context import OrgAdminOnly, UIError, int_or, redirect, render, ui_router

_pages = ui_router()
_json = ui_router(as_json=True)
PAGE_SIZE = 100
#: Jobs shown on the upload page.
RECENT = 20
LABELS = {"status": UPLOAD_STATUS_LABELS, "row_status": UPLOAD_ROW_STATUS_LABELS}
#: The file's columns by their Chinese headers, beside each error.
COLUMN_TITLES = dict(COLUMN_LABELS)


async def _check(request: Request, admin: pages.OrgAdmin) -> tuple[CheckedUpload, dict[str, str]]:
    """The posted file checked for the admin's org, and the form's other fields."""
    form = await request.form()
    file = form.get("file")
    if not isinstance(file, UploadFile) or not file.filename:
        raise ServiceError(422, [Problem("file", "请选择要上传的 CSV 或 Excel（.xlsx）文件")])
    state = request.app.state
    checked = await check_upload(
        state.engine,
        admin.user,
        filename=file.filename,
        content=await read_upload(file),
        as_org=admin.org.code,
        directories=state.directories,
        id_prefix=state.settings.workflow_id_prefix,
    )
    return checked, {k: v for k, v in form.items() if isinstance(v, str)}


async def _page(request: Request, admin: pages.OrgAdmin, status_code: int = 200, **context: Any) -> Response:
    jobs = await upload_views.recent_jobs(request.app.state.engine, admin.user, limit=RECENT)
    context.setdefault("checked", None)
    context.setdefault("problems", [])
    context.setdefault("note", None)
    context.setdefault("skip_invalid", False)
    return render(
        request,
        "uploads.html",
        status_code=status_code,
        jobs=jobs,
        labels=LABELS,
        column_labels=COLUMN_TITLES,
        **context,
    )


@_pages.get("/uploads", response_class=HTMLResponse)
async def upload_page(request: Request, admin: OrgAdminOnly) -> Response:
    return await _page(request, admin)


@_pages.post("/uploads", response_class=HTMLResponse)
async def upload_post(request: Request, admin: OrgAdminOnly) -> Response:
    """校验 (mode=check) shows every bad row; 开始办理 (mode=start) starts the job and opens its page."""
    try:
        checked, data = await _check(request, admin)
    except ServiceError as e:
        if e.status >= 500:
            raise
        return await _page(request, admin, e.status, problems=e.problems)
    skip = data.get("skip_invalid") in ("1", "on", "true")
    if data.get("mode") != "start":
        return await _page(request, admin, 422 if checked.errors else 200, checked=checked, skip_invalid=skip)
    why = uploads.refusal(checked, skip_invalid=skip)
    if why is not None:
        return await _page(request, admin, 422, checked=checked, note=why, skip_invalid=skip)
    state = request.app.state
    view, created = await uploads.start_upload(
        state.engine,
        await state.temporal_client(),
        admin.user,
        checked,
        task_queue=state.settings.task_queue,
        id_prefix=state.settings.workflow_id_prefix,
    )
    return redirect(f"/ui/uploads/{view.id}" + ("" if created else "?again=1"))


@_json.post("/uploads/check")
async def upload_check(request: Request, admin: OrgAdminOnly) -> Response:
    """校验 from the page's script: every bad row as JSON (422 when there is one); nothing started."""
    checked, _ = await _check(request, admin)
    return JSONResponse(checked.as_dict(), status_code=422 if checked.errors else 200)


@_pages.post("/uploads/report.csv")
async def upload_check_report(request: Request, admin: OrgAdminOnly) -> Response:
    """The error report of the posted file (before anything starts)."""
    checked, _ = await _check(request, admin)
    return csv_response(upload_views.report_csv(checked.errors), checked.filename)


async def _job(request: Request, admin: pages.OrgAdmin, upload_id: str) -> upload_views.UploadView:
    if not is_upload_id(upload_id):
        raise UIError(404, "上传任务不存在")
    state = request.app.state
    return await upload_views.visible_job(state.engine, admin.user, upload_id, state.directories)


def progress(view: upload_views.UploadView) -> dict[str, Any]:
    return {
        **view.as_dict(),
        "percent": view.percent,
        "status_label": UPLOAD_STATUS_LABELS.get(view.status, view.status),
        "running": view.status == UploadStatus.RUNNING,
    }


@_pages.get("/uploads/{upload_id}", response_class=HTMLResponse)
async def job_page(request: Request, admin: OrgAdminOnly, upload_id: str) -> Response:
    view = await _job(request, admin, upload_id)
    q = request.query_params
    status = q.get("status") if q.get("status") in {s.value for s in UploadRowStatus} else None
    page = min(max(int_or(q.get("page"), 1) or 1, 1), 100_000)
    items, total = await upload_views.job_rows(
        request.app.state.engine, view.job_id, status=status, page=page, page_size=PAGE_SIZE
    )
    return render(
        request,
        "upload_job.html",
        job=view,
        p=progress(view),
        items=items,
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        status=status,
        again=q.get("again") == "1",
        labels=LABELS,
        column_labels=COLUMN_TITLES,
    )


@_json.get("/uploads/{upload_id}/progress")
async def job_progress(request: Request, admin: OrgAdminOnly, upload_id: str) -> Response:
    return JSONResponse(jsonable_encoder(progress(await _job(request, admin, upload_id))))


@_pages.get("/uploads/{upload_id}/errors.csv")
async def job_errors(request: Request, admin: OrgAdminOnly, upload_id: str) -> Response:
    view = await _job(request, admin, upload_id)
    return csv_response(
        upload_views.report_csv(await upload_views.job_errors(request.app.state.engine, view.job_id)), view.filename
    )


router = APIRouter()
router.include_router(_json)
router.include_router(_pages)

__all__ = ["router"]
