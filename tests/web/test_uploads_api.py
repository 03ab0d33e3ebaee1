"""POST /api/uploads, GET /api/uploads/{id} and its error report: the file of `zhtj transfers import`
checked row by row before anything starts, then started once by a durable job.

Real API (in-process), real worker and Temporal dev server, real database (SQLite or PostgreSQL)."""

from __future__ import annotations

import asyncio
import io
import re

import httpx
from openpyxl import Workbook
from sqlalchemy import func, select

from messages.uploads import UPLOAD_ID_PATTERN
from models import Transfer, UploadJob, UploadRow
from models.db import session_factory
from seed.demo import EMPLOYER_WITHOUT_ORG
from tests.web.upload_files import all_recorded, graduates_file, read_report, transfer_counts
from web.app import create_app

PROBLEM = "application/problem+json"


async def upload(api, content: bytes, *, who: str = "whu", filename: str = "graduates.csv", **form) -> httpx.Response:
    data = {"as_org": "WHU", **{k: str(v).lower() if isinstance(v, bool) else v for k, v in form.items()}}
    return await api.as_(who, "POST", "/api/uploads", files={"file": (filename, content, "text/csv")}, data=data)


async def finished(api, upload_id: str, *, who: str = "whu", timeout: float = 120.0) -> dict:
    loop = asyncio.get_running_loop()
    end = loop.time() + timeout
    while True:
        r = await api.as_(who, "GET", f"/api/uploads/{upload_id}")
        assert r.status_code == 200, r.text
        job = r.json()
        if job["status"] == "done":
            return job
        assert loop.time() < end, f"the job is not done after {timeout} s: {job}"
        await asyncio.sleep(0.2)


async def count(api, model) -> int:
    async with session_factory(api.engine)() as s:
        return (await s.execute(select(func.count()).select_from(model))).scalar_one()


async def test_every_bad_row_first_then_each_valid_row_started_once(api):
    f = await graduates_file(api.engine, 120)
    content = f.csv_bytes()

    # a dry run: every bad row with its line, column, rule and message; nothing started or written
    r = await upload(api, content, dry_run=True)
    assert r.status_code == 422 and r.headers["content-type"].startswith(PROBLEM), r.text
    body = r.json()
    assert (body["rows"], body["valid"], body["invalid"]) == (120, f.valid, 7)
    assert [(e["line"], e["column"], e["rule"]) for e in body["errors"]] == f.expected_report
    assert all(e["message"].startswith(f"第{e['line']}行") for e in body["errors"])
    assert re.fullmatch(UPLOAD_ID_PATTERN, body["id"])
    # without skip_invalid a bad row starts nothing either
    r = await upload(api, content)
    assert (
        r.status_code == 422 and [(e["line"], e["column"], e["rule"]) for e in r.json()["errors"]] == f.expected_report
    )
    assert await count(api, UploadJob) == 0 and await count(api, Transfer) == 0

    # skip_invalid, sent twice at once: one job (the same id), accepted once it is recorded
    first, second = await asyncio.gather(
        upload(api, content, skip_invalid=True), upload(api, content, skip_invalid=True)
    )
    assert sorted([first.status_code, second.status_code]) == [200, 202], (first.text, second.text)
    job = first.json()
    assert second.json()["id"] == job["id"] == body["id"]
    assert job["url"] == f"/api/uploads/{job['id']}" and first.headers["location"] == job["url"]
    assert (job["rows"], job["valid"], job["invalid"]) == (120, f.valid, 7)

    job = await finished(api, job["id"])
    assert (job["started"], job["existing"], job["failed"], job["done"]) == (f.valid, 0, 0, f.valid)
    await all_recorded(api.engine, f.valid)

    # the outcomes, a page at a time, in line order
    r = await api.as_("whu", "GET", f"/api/uploads/{job['id']}", params={"page_size": 50, "page": 2})
    page = r.json()["outcomes"]
    assert page["total"] == 120 and [x["line"] for x in page["items"]] == list(range(52, 102))
    for x in page["items"]:
        if x["line"] in f.bad:
            assert x["status"] == "invalid" and x["errors"] and x["transfer_id"] is None
        else:
            assert x["status"] == "started" and x["status_code"] == 201 and x["transfer_id"] is not None
            assert x["workflow_id"] and "*" in x["id_number"]
    r = await api.as_("whu", "GET", f"/api/uploads/{job['id']}", params={"status": "invalid"})
    assert [x["line"] for x in r.json()["outcomes"]["items"]] == sorted(f.bad)

    # the error report: the CLI's columns, every bad row with its line and column
    r = await api.as_("whu", "GET", f"/api/uploads/{job['id']}/errors.csv")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/csv")
    assert "graduates.errors.csv" in r.headers["content-disposition"]
    assert read_report(r.content) == f.expected_report
    assert f.members[0].id_number not in r.content.decode("utf-8-sig")  # 身份证号 masked or absent

    # the same file again: the same job, nothing started twice
    r = await upload(api, content, skip_invalid=True)
    assert r.status_code == 200 and r.json()["id"] == job["id"] and r.json()["status"] == "done"
    assert await count(api, UploadJob) == 1
    assert await transfer_counts(api.engine) == (f.valid, 0)


async def test_a_clean_file_dry_run_then_an_xlsx_with_a_service_account(api):
    f = await graduates_file(api.engine, 12, bad=False)
    r = await upload(api, f.csv_bytes(), dry_run=True)
    assert r.status_code == 200, r.text
    assert r.json() | {"id": ""} == {"ok": True, "id": "", "rows": 12, "valid": 12, "invalid": 0, "errors": []}

    wb = Workbook()
    ws = wb.active
    ws.append(
        [
            "姓名",
            "身份证号",
            "转接类型",
            "工作单位名称",
            "工作单位所在地详细地址",
            "去向所在地(省)",
            "去向所在地(市州)",
            "去向所在地（县区）",
            "去向所在地（乡镇街道）",
        ]
    )
    loc = EMPLOYER_WITHOUT_ORG["location"]
    for m in f.members[:3]:
        ws.append(
            [
                m.name,
                m.id_number,
                "已落实工作单位(工作单位无团组织)",
                EMPLOYER_WITHOUT_ORG["name"],
                EMPLOYER_WITHOUT_ORG["address"],
                *loc.values(),
            ]
        )
    lost = float(f.members[3].id_number[:17] + "0")  # an ID typed as a number: Excel lost digits
    ws.append(
        [
            "某人",
            lost,
            "employed_without_org",
            EMPLOYER_WITHOUT_ORG["name"],
            EMPLOYER_WITHOUT_ORG["address"],
            *loc.values(),
        ]
    )
    buf = io.BytesIO()
    wb.save(buf)
    r = await upload(api, buf.getvalue(), who="sis-whu", filename="批量.xlsx", as_org="whu", skip_invalid=True)
    assert r.status_code == 202, r.text
    job = await finished(api, r.json()["id"], who="sis-whu")
    assert (job["org_code"], job["filename"], job["uploaded_by"]) == ("WHU", "批量.xlsx", "sis-whu")
    assert (job["valid"], job["started"], job["invalid"]) == (3, 3, 1)
    r = await api.as_("sis-whu", "GET", f"/api/uploads/{job['id']}/errors.csv")
    assert read_report(r.content) == [(5, "id_number", "number_precision")]
    await all_recorded(api.engine, 3)


async def test_who_may_upload_and_see_a_job(api):
    f = await graduates_file(api.engine, 3, bad=False)
    content = f.csv_bytes()
    r = await api.http.post("/api/uploads", files={"file": ("a.csv", content)}, data={"as_org": "WHU"})
    assert r.status_code == 401
    r = await upload(api, content, who="member1")
    assert r.status_code == 403 and r.json()["errors"][0]["field"] == "user"
    r = await upload(api, content, who="dfm")  # an admin of another org, "as" WHU
    assert r.status_code == 403 and r.json()["errors"][0]["field"] == "as_org" and "dfm" in r.json()["detail"]
    r = await upload(api, content, as_org="NOPE")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "as_org"
    r = await upload(api, b"name,id_number\n", filename="a.txt")
    assert (
        r.status_code == 422 and r.json()["errors"][0]["field"] == "file" and "不支持的文件类型" in r.json()["detail"]
    )
    r = await upload(api, "姓名,type,颜色\n张三,unemployed,红\n".encode("gbk"), skip_invalid=True)
    assert r.status_code == 422  # a bad header starts nothing, even with skip_invalid
    assert {(e["line"], e["rule"]) for e in r.json()["errors"]} == {(1, "header_missing"), (1, "header_unknown")}
    # an upload's body may hold NUL bytes (an XLSX is a zip), its text may not
    r = await upload(api, "姓名,身份证号,type\n张\x00三,1,unemployed\n".encode(), filename="a\x00.csv")
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "file" and "空字符" in r.json()["detail"]
    r = await api.as_("whu", "POST", "/api/transfers/bulk", json={"rows": [], "note": "\x00"})
    assert r.status_code == 422 and r.json()["errors"][0]["field"] == "body"  # elsewhere NUL is refused as before
    assert await count(api, UploadJob) == 0

    r = await upload(api, content)
    assert r.status_code == 202, r.text
    job_id = r.json()["id"]
    await finished(api, job_id)
    for who, status in [("whu", 200), ("hb", 200), ("sis-whu", 200), ("whu-cs", 404), ("dfm", 404), ("member1", 404)]:
        r = await api.as_(who, "GET", f"/api/uploads/{job_id}")
        assert r.status_code == status, (who, r.text)
        r = await api.as_(who, "GET", f"/api/uploads/{job_id}/errors.csv")
        assert r.status_code == status, (who, r.text)
    r = await api.as_("whu", "GET", "/api/uploads/not-an-upload")
    assert r.status_code == 422
    r = await api.as_("whu", "GET", f"/api/uploads/upload-WHU-{'0' * 32}")
    assert r.status_code == 404
    await all_recorded(api.engine, 3)


async def test_another_api_instance_and_a_restarted_one_follow_the_same_job(engine, app_settings, dev_env, task_queue):
    """The job lives in Temporal and the database: an API stopped right after the upload loses
    nothing, and another instance (a replica, or the API restarted) sees the job and its
    progress; the file uploaded there again starts nothing twice."""
    from worker import build_worker

    f = await graduates_file(engine, 300)
    async with build_worker(dev_env.client, engine, task_queue=task_queue):
        first = create_app(app_settings)
        async with (
            first.router.lifespan_context(first),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=first), base_url="http://a") as http,
        ):
            r = await upload(_Api(http, engine), f.csv_bytes(), skip_invalid=True)
            assert r.status_code == 202, r.text
            job_id = r.json()["id"]
        # the first API is gone (its engine disposed) while the job runs
        second = create_app(app_settings)
        async with (
            second.router.lifespan_context(second),
            httpx.AsyncClient(transport=httpx.ASGITransport(app=second), base_url="http://b") as http,
        ):
            api = _Api(http, engine)
            r = await api.as_("whu", "GET", f"/api/uploads/{job_id}")
            assert r.status_code == 200 and r.json()["valid"] == f.valid
            seen = r.json()["done"]
            job = await finished(api, job_id)
            assert seen <= job["done"] == f.valid == job["started"]
            r = await upload(api, f.csv_bytes(), skip_invalid=True)
            assert r.status_code == 200 and r.json()["id"] == job_id
        await all_recorded(engine, f.valid)
    async with session_factory(engine)() as s:
        lines = (await s.execute(select(func.count()).select_from(UploadRow))).scalar_one()
    assert lines == 300


class _Api:
    """A logged-in client of one app instance (the tests/web `Api` without its fixture)."""

    def __init__(self, http: httpx.AsyncClient, engine) -> None:
        self.http, self.engine, self.tokens = http, engine, {}

    async def as_(self, who: str, method: str, url: str, **kw) -> httpx.Response:
        if who not in self.tokens:
            r = await self.http.post("/api/auth/token", json={"username": who, "password": "zhtj-demo-2026"})
            self.tokens[who] = r.json()["access_token"]
        return await self.http.request(method, url, headers={"Authorization": f"Bearer {self.tokens[who]}"}, **kw)
