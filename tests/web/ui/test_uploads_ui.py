"""批量办理转出 in a real browser (Chromium): a 2,000-row file checked (every bad row with its line
and column, and the error report) before anything starts, then started as a durable job with a
progress bar, every valid row once, even when the same file is uploaded again."""

from __future__ import annotations

import os
import re
import time

from tests.web.upload_files import all_recorded, graduates_file, read_report, transfer_counts

#: The issue's figure; ZHTJ_BULK_ROWS=300 (say) makes a quick local run of the same test.
ROWS = int(os.environ.get("ZHTJ_BULK_ROWS", "2000"))
JOB_URL = re.compile(r".*/ui/uploads/upload-WHU-[0-9a-f]{32}(\?again=1)?$")


async def _download(page, selector: str) -> bytes:
    async with page.expect_download() as info:
        await page.click(selector)
    download = await info.value
    assert download.suggested_filename.endswith(".errors.csv")
    with open(await download.path(), "rb") as f:
        return f.read()


async def test_two_thousand_rows_checked_then_started_once_with_a_progress_bar(served, ui, tmp_path):
    t0 = time.monotonic()
    f = await graduates_file(served.engine, ROWS)
    path = tmp_path / "毕业生名单.csv"
    path.write_bytes(f.csv_bytes())
    seeded = time.monotonic() - t0

    await ui.login("whu")
    page = ui.page
    await page.click('nav >> text="批量办理转出"')
    await page.wait_for_url("**/ui/uploads")

    # 校验: every bad row with its line and column, on the page; nothing started
    t1 = time.monotonic()
    await page.set_input_files("#upload-file", str(path))
    await page.click("#upload-check")
    await page.wait_for_selector("#check-summary", timeout=120_000)
    checked = time.monotonic() - t1
    assert f"共 {ROWS} 行，校验通过 {f.valid} 行，7 行有错误" in await page.inner_text("#check-summary")
    cells = await page.eval_on_selector_all(
        "#check-errors tbody tr", "rows => rows.map(r => [+r.dataset.line, r.dataset.column])"
    )
    assert [tuple(c) for c in cells] == [(line, column) for line, column, _ in f.expected_report]
    assert "第2行" not in await page.inner_text("#check-errors")
    await ui.shot("upload-checked")
    # its error report, before anything starts (the file is still chosen)
    assert read_report(await _download(page, "#upload-report")) == f.expected_report
    assert await transfer_counts(served.engine) == (0, 0)

    # 开始办理 without skipping: refused, every error listed, nothing started
    await page.click("#upload-start")
    await page.wait_for_selector("#check-summary")
    assert "未发起任何转接申请" in await page.inner_text("#check-summary")
    assert await page.locator("#check-errors tbody tr").count() == 7

    # 开始办理, skipping the bad rows: the job's page, its progress bar moving to the end
    t2 = time.monotonic()
    await page.set_input_files("#upload-file", str(path))
    await page.check("#skip-invalid")
    await page.click("#upload-start")
    await page.wait_for_url(JOB_URL, timeout=120_000)
    job_url = page.url
    await page.wait_for_selector('#job-status:text-is("已完成")', timeout=600_000)  # the page reloads at the end
    started = time.monotonic() - t2
    assert await page.get_attribute("#job-progress", "value") == str(f.valid)
    assert await page.get_attribute("#job-progress", "max") == str(f.valid)
    assert await page.inner_text("#count-started") == str(f.valid)
    assert await page.inner_text("#count-invalid") == "7"
    await ui.shot("upload-done")
    # the error report lists the bad rows with their line and column
    assert read_report(await _download(page, "#errors-csv")) == f.expected_report
    # the outcomes: the bad rows, each with its problem
    await page.click('nav[aria-label="行状态"] >> text="无效行（未发起）"')
    lines = await page.eval_on_selector_all("#upload-rows tbody tr", "rows => rows.map(r => +r.dataset.line)")
    assert lines == sorted(f.bad)
    await all_recorded(served.engine, f.valid, timeout=120 + ROWS * 0.2)

    # the same file uploaded again: the same job, nothing started twice
    await page.goto(served.base_url + "/ui/uploads")
    await page.set_input_files("#upload-file", str(path))
    await page.check("#skip-invalid")
    await page.click("#upload-start")
    await page.wait_for_url(JOB_URL, timeout=120_000)
    assert page.url == job_url + "?again=1"
    assert await page.is_visible("#upload-again")
    assert await transfer_counts(served.engine) == (f.valid, 0)  # every valid row once; no member twice

    # the page lists the job
    await page.goto(served.base_url + "/ui/uploads")
    assert "毕业生名单.csv" in await page.inner_text("#upload-jobs")
    print(f"\nUI upload of {ROWS} rows: seed {seeded:.1f} s, check {checked:.1f} s, start to done {started:.1f} s")
