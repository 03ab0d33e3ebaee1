"""Bulk start (`zhtj transfers import FILE --as ORG`): one 办理转出 transfer per row of a CSV/XLSX,
through the REST API as its client (`starter.ZhtjClient`).

Phase 1 checks every row and starts nothing: locally (imports.transfer_rows), then on the server
for the rows that passed: POST /api/transfers/bulk with dry_run, up to 500 rows a request (every
check of a start: the member by 姓名 + 身份证号, the caller's right to act for them, the route).
Every problem is a `RowError(line, column, rule, message)` on the file's column. If any row is
bad, the report is written and nothing is started — unless `skip_invalid`, when only the valid
rows are started.

Phase 2 starts the rows through POST /api/transfers/bulk in chunks, `concurrency` requests in
flight. Each row's Idempotency-Key is a hash of the org acted for and the row's request, so
running the same file again starts nothing twice: the server answers 200 (created=False) for a
key it has seen, and for a member with an open transfer. A new transfer is answered by its
workflow id; its transfer id exists once the workflow has recorded it (a moment later), so the
outcome carries the transfer id only where the server already knew it.

Server refusals become the rules `api_rejected` (422), `api_forbidden` (403), `api_not_found`
(404), `api_conflict` (409), `api_unauthorized` (401), `api_error` (anything else), and
`unreachable` for a start the server could not be asked.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from datetime import date
from pathlib import Path
from typing import Any

import httpx

from domain import idcard
from domain.roles import Role
from imports.progress import Progress
from imports.reader import ImportFileError, Table
from imports.report import RowError
from imports.transfer_report import ImportOutcome, StartedRow, default_report_path, sort_errors, write_report
from imports.transfer_rows import COLUMN_LABELS, BulkRow, check_table, column_of, read_bulk_table
from models.directory import chunked
from starter.client import ApiConnectionError, ApiError, ZhtjClient
from starter.models import BULK_MAX_ROWS, BulkStartResult
from starter.pool import gather_limited

#: Rows per POST /api/transfers/bulk: the dry run sends the most the API takes; the starts send
#: smaller chunks, so that `concurrency` requests share the work and progress moves steadily.
VALIDATE_CHUNK = BULK_MAX_ROWS
START_CHUNK = 100

#: API rule codes of server refusals, by HTTP status.
SERVER_RULES: dict[int, str] = {
    401: "api_unauthorized",
    403: "api_forbidden",
    404: "api_not_found",
    409: "api_conflict",
    422: "api_rejected",
}

Echo = Callable[[str], None]
Send = Callable[[list[dict[str, Any]]], Awaitable[list[BulkStartResult]]]


class Fatal(Exception):
    """Stop everything: the account cannot start transfers at all, or the server went away."""


# ---- the server's answers ----------------------------------------------------------------------
def server_errors(line: int, e: ApiError) -> list[RowError]:
    """The row errors of a refused API call, each on its file column."""
    rule = SERVER_RULES.get(e.status, "api_error")
    if not e.errors:
        return [RowError(line, "", rule, idcard.mask_text(f"HTTP {e.status}：{e.detail}"))]
    return [RowError(line, column_of(x.field), rule, idcard.mask_text(x.message)) for x in e.errors]


def account_problem(e: ApiError) -> str | None:
    """A refusal about the account as a whole (every row would get it), else None."""
    if e.status == 401:
        return f"登录已失效或令牌无效：{e.detail}"
    if e.status == 403 and any(x.field in ("user", "authorization") for x in e.errors):
        return f"该账号无权发起转出：{e.detail}"
    if e.status == 403 and any(x.field == "channel" and "只能" in x.message for x in e.errors):
        return f"该账号无权发起转出：{e.detail}"
    return None


async def outcomes(chunk: Sequence[BulkRow], send: Send) -> list[tuple[BulkRow, BulkStartResult | ApiError]]:
    """Each row of one POST /api/transfers/bulk with its result, or the ApiError refusing it: the
    row's own (as the single endpoint would raise it), or the whole request's
    (ApiConnectionError when the server was not reached)."""
    try:
        results = await send([r.body for r in chunk])
    except ApiError as e:
        return [(row, e) for row in chunk]
    return [(chunk[r.index], r if r.ok else ApiError(r.status_code, r.errors)) for r in results]


async def resolve_org(client: ZhtjClient, org_code: str) -> str:
    """The org's code as the directory spells it, once the server confirmed (GET /api/me) that
    the account may act for it; whether it may act for each row's member is for the server to
    say, row by row (403)."""
    if client.claims.get("role") == Role.MEMBER:
        raise Fatal("团员账号只能个人发起，不能批量办理转出；请用组织管理员或服务账号登录")
    try:
        found = await client.orgs(q=org_code.strip()[:100], limit=200)
        code = next((o.code for o in found if o.code.lower() == org_code.lower()), None)
        if code is None:
            raise Fatal(f"组织 {org_code} 不存在（--as 应为组织编码，如 WHU）")
        me = await client.me(org=code)
    except ApiConnectionError:
        raise
    except ApiError as e:
        raise Fatal(account_problem(e) or f"无法查询组织 {org_code}：{e.detail}") from e
    if not me.may_act_for:
        raise Fatal(
            f"登录账号 {me.username} 不能代表 {code} 办理转出：须为 {code} 或其上级组织的管理员或服务账号"
            f"（该账号所属组织：{me.org_code or '无'}）"
        )
    return code


# ---- the two phases ----------------------------------------------------------------------------
async def validate_on_server(
    client: ZhtjClient, rows: Sequence[BulkRow], *, concurrency: int, bar: Progress
) -> dict[int, list[RowError]]:
    """Dry-run the rows (VALIDATE_CHUNK a request): the refused rows' errors by line. Fatal when
    the account may not start transfers at all or the server cannot be reached."""
    refused: dict[int, list[RowError]] = {}
    fatal: list[str] = []

    async def one(chunk: Sequence[BulkRow]) -> None:
        if fatal:
            return
        for row, answer in await outcomes(chunk, lambda body: client.bulk_start(body, dry_run=True)):
            if isinstance(answer, ApiConnectionError):
                fatal.append(str(answer))
                return
            if isinstance(answer, ApiError):
                if (why := account_problem(answer)) is not None:
                    fatal.append(why)
                else:
                    refused[row.line] = server_errors(row.line, answer)
            bar.advance()

    with bar.phase("校验 validate", len(rows)):
        await gather_limited(concurrency, [one(c) for c in chunked(rows, VALIDATE_CHUNK)])
    if fatal:
        raise Fatal(fatal[0])
    return refused


def all_forbidden_note(client: ZhtjClient, org_code: str, rows: int, refused: dict[int, list[RowError]]) -> str | None:
    """When the server refused every row as not the account's to start: say whose they may be."""
    if len(refused) != rows or not all(e.rule == "api_forbidden" for v in refused.values() for e in v):
        return None
    who = client.claims.get("usr", "该账号")
    return (
        f"注意：服务端拒绝了全部 {rows} 行（403）；登录账号 {who} 可能不是 {org_code} 或其上级组织的"
        "管理员或服务账号（--as 只声明身份，权限由服务端按登录账号判断）"
    )


async def start_rows(
    client: ZhtjClient, rows: Sequence[BulkRow], out: ImportOutcome, *, concurrency: int, bar: Progress
) -> None:
    """Start the rows (START_CHUNK a request); each row's outcome into `out`, in line order."""

    async def one(chunk: Sequence[BulkRow]) -> None:
        for row, answer in await outcomes(chunk, client.bulk_start):
            if isinstance(answer, ApiConnectionError):
                out.failed.append(RowError(row.line, "", "unreachable", str(answer)))
            elif isinstance(answer, ApiError):
                out.failed += server_errors(row.line, answer)
            else:
                started = StartedRow(row.line, answer.workflow_id, answer.transfer_id)
                (out.started if answer.created else out.existing).append(started)
            bar.advance()

    with bar.phase("发起 start", len(rows)):
        await gather_limited(concurrency, [one(c) for c in chunked(rows, START_CHUNK)])
    out.started.sort()
    out.existing.sort()
    out.failed = sort_errors(out.failed)


def report(out: ImportOutcome, path: Path, errors: Sequence[RowError], shown: Sequence[RowError], echo: Echo) -> None:
    """Write the error report and print the errors not printed before."""
    write_report(path, errors)
    out.report_path = path
    for e in shown:
        echo(e.render(COLUMN_LABELS))


# ---- the import --------------------------------------------------------------------------------
async def check_rows(
    client: ZhtjClient,
    table: Table,
    out: ImportOutcome,
    *,
    concurrency: int,
    bar: Progress,
    echo: Echo,
    today: date | None,
) -> list[BulkRow]:
    """Phase 1: the rows that passed the local and the server's checks; every error into `out`."""
    rows, errors = check_table(table, out.org_code, today=today)
    header_bad = any(e.line == 1 for e in table.errors)
    if not header_bad and rows:
        refused = await validate_on_server(client, rows, concurrency=concurrency, bar=bar)
        for line in sorted(refused):
            errors += refused[line]
        if (note := all_forbidden_note(client, out.org_code, len(rows), refused)) is not None:
            echo(note)
        rows = [r for r in rows if r.line not in refused]
    out.errors = sort_errors(errors)
    return rows


async def run_import(
    client: ZhtjClient,
    file: Path,
    org_code: str,
    *,
    skip_invalid: bool = False,
    concurrency: int = 8,
    report_path: Path | None = None,
    progress: bool = True,
    echo: Echo = print,
    today: date | None = None,
    table: Table | None = None,
) -> ImportOutcome:
    """Check every row of `file`, then (when all are valid, or with `skip_invalid`) start them.

    `client` must be logged in. Prints every error and the summary through `echo`; writes the
    error report when there is any error. `table` is the file already read (else it is read
    here; ImportFileError propagates when it cannot be)."""
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    file = Path(file)
    out = ImportOutcome(file=str(file), org_code=org_code)
    path = Path(report_path) if report_path else default_report_path(file)
    bar = Progress(progress)
    table = table if table is not None else read_bulk_table(file)
    out.rows = len(table.rows)
    try:
        out.org_code = await resolve_org(client, org_code)
        rows = await check_rows(client, table, out, concurrency=concurrency, bar=bar, echo=echo, today=today)
        if out.errors:
            report(out, path, out.errors, out.errors, echo)
            if any(e.line == 1 for e in table.errors) or not skip_invalid:
                out.exit_code = 1
                return _finish(out, loop.time() - t0, echo)
            out.skipped_lines = out.invalid_lines
        await start_rows(client, rows, out, concurrency=concurrency, bar=bar)
        if out.failed:
            report(out, path, [*out.errors, *out.failed], out.failed, echo)
        nothing_valid = bool(out.skipped_lines) and not out.started and not out.existing
        out.exit_code = 1 if out.failed or nothing_valid else 0
    except Fatal as e:
        out.fatal = str(e)
        out.exit_code = 1
    return _finish(out, loop.time() - t0, echo)


def _finish(out: ImportOutcome, seconds: float, echo: Echo) -> ImportOutcome:
    out.seconds = seconds
    echo(out.summary())
    if out.report_path is not None:
        echo(f"错误报告：{out.report_path}")
    return out


def _refused(file: Path, as_org: str, why: str, exit_code: int, echo: Echo) -> ImportOutcome:
    out = ImportOutcome(file=str(file), org_code=as_org, fatal=why, exit_code=exit_code)
    echo(out.summary())
    return out


async def import_transfers(
    file: Path,
    *,
    as_org: str,
    base_url: str,
    username: str | None = None,
    password: str | None = None,
    token: str | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    skip_invalid: bool = False,
    concurrency: int = 8,
    report_path: Path | None = None,
    progress: bool = True,
    echo: Echo = print,
    http_timeout: float = 60.0,
    table: Table | None = None,
) -> ImportOutcome:
    """The CLI's core: read the file first (exit 2 when it cannot be read), log in, import."""
    file = Path(file)
    if table is None:
        try:
            table = read_bulk_table(file)  # fail fast, before any network call
        except ImportFileError as e:
            echo(f"错误：{e}")
            return ImportOutcome(file=str(file), org_code=as_org, fatal=str(e), exit_code=2)
    async with ZhtjClient(base_url, token=token, transport=transport, timeout=http_timeout) as client:
        if token is None:
            if not username or password is None:
                return _refused(file, as_org, "需要 --username 和密码，或环境变量 ZHTJ_API_TOKEN", 2, echo)
            try:
                await client.login(username, password)
            except ApiError as e:
                return _refused(file, as_org, f"登录失败（{username}）：{e.detail}", 1, echo)
        try:
            return await run_import(
                client,
                file,
                as_org,
                skip_invalid=skip_invalid,
                concurrency=concurrency,
                report_path=report_path,
                progress=progress,
                echo=echo,
                table=table,
            )
        except ApiConnectionError as e:
            return _refused(file, as_org, str(e), 1, echo)
