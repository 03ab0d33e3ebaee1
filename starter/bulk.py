"""Bulk start (`zhtj transfers import FILE --as ORG`): one 办理转出 transfer per row of a CSV/XLSX.

Phase 1 checks every row and starts nothing:
- locally, as `zhtj orgs import` reads files (imports.reader: header row, line numbers, UTF-8/GBK,
  Excel number precision): required columns, 身份证号 (domain.idcard), the transfer type (API
  code or Chinese name), the type's form (domain.forms.validate_form), repeated members;
- then on the server, for the rows that passed: POST /api/transfers/bulk with dry_run, up to 500
  rows a request (every check of a start: the member by 姓名 + 身份证号, the caller's right to
  act for them, the route).
Every problem is a `RowError(line, column, rule, message)` on the file's column. If any row is
bad, the report (CSV, UTF-8 with BOM) is written and nothing is started — unless `skip_invalid`,
when only the valid rows are started.

Phase 2 starts the rows through POST /api/transfers/bulk in chunks, `concurrency` requests in
flight. Each row's Idempotency-Key is a hash of the org acted for and the row's request (身份证号,
type, target, partition, form), so running the same file again starts nothing twice: the server
answers 200 (created=False) for a key it has seen, and for a member with an open transfer. A new
transfer is answered by its workflow id; its transfer id exists once the workflow has recorded it
(a moment later), so the outcome carries the transfer id only where the server already knew it.

Rules: local `required`, `too_long`, `length`/`format`/`birth_date`/`checksum` (身份证号),
`unknown_type`, `not_transferable` (出国（境）学习研究 stays at school), `partition`,
`duplicate`, and domain.forms' form rules (`required`, `not_for_type`, `too_long`, `date`,
`enum`, `type`, ...); from the reader `header_*`, `cell_without_header`, `number_precision`;
from the server `api_rejected` (422), `api_forbidden` (403), `api_not_found` (404),
`api_conflict` (409), `api_error` (anything else).
"""

from __future__ import annotations

import asyncio
import csv
import hashlib
import json
import sys
import unicodedata
from collections.abc import Awaitable, Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

import httpx

from domain import idcard
from domain.forms import FORM_FIELDS, validate_form
from domain.glossary import FORM_FIELD_LABELS, PARTITION_LABELS, TRANSFER_TYPE_LABELS, UNIT_KIND_LABELS
from domain.transfers import TransferType
from imports.fields import today_shanghai
from imports.reader import ImportFileError, Row, Table, header_key, parse_records, read_records
from imports.report import RowError
from starter.client import ApiConnectionError, ApiError, ZhtjClient
from starter.models import BULK_MAX_ROWS, BulkStartResult

# ---- the file's columns ------------------------------------------------------------------------
LOCATION_KEYS: tuple[str, ...] = ("province", "city", "county", "township")
#: Form keys a bulk file may carry (type 5 出国（境）学习研究 is not transferred, so not its keys).
FORM_COLUMNS: tuple[str, ...] = (
    "school_name",
    "school_address",
    "employer_name",
    "employer_address",
    "address",
    "unit_kind",
    "joined_unit_on",
)
LOCATION_COLUMNS: tuple[str, ...] = tuple(f"location_{k}" for k in LOCATION_KEYS)
COLUMNS: tuple[str, ...] = (
    "name",
    "id_number",
    "type",
    *FORM_COLUMNS,
    *LOCATION_COLUMNS,
    "target_org_code",
    "partition",
)
REQUIRED: tuple[str, ...] = ("name", "id_number", "type")

COLUMN_LABELS: dict[str, str] = {
    "name": "姓名",
    "id_number": "身份证号",
    "type": "转接类型",
    **{k: FORM_FIELD_LABELS[k] for k in FORM_COLUMNS},
    **{f"location_{k}": FORM_FIELD_LABELS[f"location.{k}"] for k in LOCATION_KEYS},
    "target_org_code": "转入组织编码",
    "partition": "转入组织所属分区",
}
#: Further header names accepted (compared after NFKC, so half-width brackets match too).
COLUMN_ALIASES: dict[str, str] = {
    "身份证号码": "id_number",
    "公民身份号码": "id_number",
    "团员姓名": "name",
    "类型": "type",
    "转入组织": "target_org_code",
    "分区": "partition",
    "省": "location_province",
    "市": "location_city",
    "市州": "location_city",
    "县区": "location_county",
    "乡镇街道": "location_township",
}

NAME_MAX = 100
TARGET_MAX = 64
KEY_PREFIX = "bulk-"
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


def _nfkc(text: str) -> str:
    return unicodedata.normalize("NFKC", text).strip().lower()


_TYPE_NAMES: dict[str, TransferType] = {}
for _t in TransferType:
    _TYPE_NAMES[_nfkc(_t.value)] = _t
    _TYPE_NAMES[_nfkc(TRANSFER_TYPE_LABELS[_t])] = _t
_UNIT_KINDS: dict[str, str] = {_nfkc(label): code for code, label in UNIT_KIND_LABELS.items()}
_PARTITIONS: dict[str, str] = {}
for _p, _label in PARTITION_LABELS.items():
    _PARTITIONS[_nfkc(_p.value)] = _p.value
    _PARTITIONS[_nfkc(_label)] = _p.value
_PARTITIONS.update({_nfkc(w): "national" for w in ("全国", "否", "no")})

_HEADER_NAMES: dict[str, str] = {}
for _c in COLUMNS:
    _HEADER_NAMES[_nfkc(_c)] = _c
    _HEADER_NAMES[_nfkc(COLUMN_LABELS[_c])] = _c
_HEADER_NAMES.update({_nfkc(a): c for a, c in COLUMN_ALIASES.items()})


def parse_type(text: str) -> TransferType | None:
    """A transfer type from its API code or its Chinese name (full- or half-width brackets)."""
    return _TYPE_NAMES.get(_nfkc(text))


def column_of(field_path: str) -> str:
    """The file column of an API/form error field: form.location.township → location_township."""
    parts = field_path.split(".")
    if parts[0] == "form":
        parts = parts[1:]
        if not parts:
            return ""
        if parts[0] == "location":
            return f"location_{parts[1]}" if len(parts) > 1 and parts[1] in LOCATION_KEYS else "location_province"
        return parts[0] if parts[0] in COLUMNS else ""
    if parts[0] == "transfer_type":
        return "type"
    return parts[0] if parts[0] in COLUMNS else ""


# ---- reading and local checks ------------------------------------------------------------------
@dataclass
class BulkRow:
    """A row that passed the local checks: its request body and Idempotency-Key."""

    line: int
    request: dict[str, Any]
    key: str = ""

    @property
    def masked_id(self) -> str:
        return idcard.mask(self.request["id_number"])

    @property
    def body(self) -> dict[str, Any]:
        """The row of a POST /api/transfers/bulk."""
        return {**self.request, "idempotency_key": self.key}


def idempotency_key(org_code: str, request: dict[str, Any]) -> str:
    """Stable across runs, files (CSV or XLSX) and row order: the org and the row's request."""
    basis = {
        "org": org_code.upper(),
        "id_number": request["id_number"],
        "type": request["type"],
        "target": request.get("target_org_code"),
        "partition": request.get("partition"),
        "form": request.get("form", {}),
    }
    digest = hashlib.sha256(json.dumps(basis, sort_keys=True, ensure_ascii=False).encode()).hexdigest()
    return KEY_PREFIX + digest[:48]


def _normalise_header(records: list[list[Any]]) -> list[list[Any]]:
    """Map Chinese names/aliases (NFKC: half-width brackets, blanks) to column codes in row 1."""
    if not records:
        return records
    header = []
    for raw in records[0]:
        key = header_key(raw)
        header.append(_HEADER_NAMES.get(_nfkc(key), raw) if key else raw)
    return [header, *records[1:]]


def read_bulk_table(path: Path) -> Table:
    """The file as text cells keyed by column; ImportFileError when it cannot be read at all."""
    records = _normalise_header(read_records(Path(path)))
    return parse_records(records, columns=COLUMNS, required=REQUIRED, labels=COLUMN_LABELS)


def _form_of(ttype: TransferType, row: Row) -> dict[str, Any]:
    """The form object of a row: every filled form cell (a key of another type is reported by
    validate_form as not_for_type), and `location` nested from the location_* cells."""
    form: dict[str, Any] = {}
    for key in FORM_COLUMNS:
        value = row.get(key)
        if value and key not in row.damaged:
            if key == "unit_kind":
                value = _UNIT_KINDS.get(_nfkc(value), value)
            form[key] = value
    location = {k: row.get(f"location_{k}") for k in LOCATION_KEYS if row.get(f"location_{k}")}
    model_fields = FORM_FIELDS[ttype]
    if "location" in model_fields:
        required = ttype != TransferType.SPECIAL_UNIT
        if location or required:
            form["location"] = location
    elif location:
        form["location"] = location  # reported as not_for_type
    return form


def check_row(row: Row, *, today=None) -> tuple[dict[str, Any] | None, list[RowError]]:
    """A row's request body, or None and every local problem. Pure."""
    today = today or today_shanghai()
    line = row.line
    errors: list[RowError] = []

    def err(column: str, rule: str, message: str) -> None:
        errors.append(RowError(line, column, rule, message))

    name = row.get("name")
    if "name" not in row.damaged:
        if not name:
            err("name", "required", "请填写姓名")
        elif len(name) > NAME_MAX:
            err("name", "too_long", f"姓名不能超过{NAME_MAX}个字")

    raw_id = row.get("id_number")
    nid = ""
    if "id_number" not in row.damaged:
        if not raw_id:
            err("id_number", "required", "请填写身份证号")
        else:
            for p in idcard.problems(raw_id, today=today):
                err("id_number", p.rule, p.message)
            nid = idcard.normalize(raw_id)

    ttype: TransferType | None = None
    raw_type = row.get("type")
    if not raw_type:
        err("type", "required", "请填写转接类型")
    else:
        ttype = parse_type(raw_type)
        if ttype is None:
            shown = raw_type if len(raw_type) <= 30 else raw_type[:29] + "…"
            err(
                "type",
                "unknown_type",
                f"转接类型“{shown}”无效；应为 API 代码（如 unemployed）或中文名称（如 {TRANSFER_TYPE_LABELS[TransferType.UNEMPLOYED]}）",
            )
        elif ttype == TransferType.ABROAD_STUDY:
            err(
                "type",
                "not_transferable",
                "出国（境）学习研究的团员保留组织关系在原就读学校，请提交保留团组织关系申请，不办理转接",
            )
            ttype = None

    form: dict[str, Any] = {}
    if ttype is not None:
        form = _form_of(ttype, row)
        parsed, problems = validate_form(ttype, form)
        for p in problems:
            err(column_of(p.field), p.rule, p.message)
        if parsed is not None:
            form = parsed.model_dump(mode="json", exclude_none=True)

    target = row.get("target_org_code")
    if len(target) > TARGET_MAX:
        err("target_org_code", "too_long", f"转入组织编码不能超过{TARGET_MAX}个字符")

    partition: str | None = None
    if raw_partition := row.get("partition"):
        partition = _PARTITIONS.get(_nfkc(raw_partition))
        if partition is None:
            err(
                "partition",
                "partition",
                "转入组织所属分区应为 national（全国）、beijing（北京）、guangdong（广东）或 fujian（福建）",
            )

    if errors or row.damaged:
        return None, errors
    request: dict[str, Any] = {"id_number": nid, "name": name, "type": ttype.value, "channel": "out", "form": form}
    if target:
        request["target_org_code"] = target
    if partition:
        request["partition"] = partition
    return request, errors


def check_table(table: Table, org_code: str, *, today=None) -> tuple[list[BulkRow], list[RowError]]:
    """Every row's local checks, and repeated members (the later line is the duplicate)."""
    rows: list[BulkRow] = []
    errors: list[RowError] = [e for e in table.errors]
    bad_lines = {e.line for e in table.errors}
    seen: dict[str, int] = {}
    for row in table.rows:
        request, problems = check_row(row, today=today)
        errors += problems
        nid = idcard.normalize(row.get("id_number")) if row.get("id_number") else ""
        if nid and "id_number" not in row.damaged:
            if nid in seen:
                errors.append(
                    RowError(
                        row.line,
                        "id_number",
                        "duplicate",
                        f"与第{seen[nid]}行是同一团员（身份证号重复），每名团员只能有一行",
                    )
                )
                request = None
            else:
                seen[nid] = row.line
        if request is not None and row.line not in bad_lines:
            rows.append(BulkRow(row.line, request, idempotency_key(org_code, request)))
    return rows, errors


def row_error(result: BulkStartResult) -> ApiError:
    """A refused row of POST /api/transfers/bulk, as the ApiError the single endpoint would raise."""
    return ApiError(result.status_code, result.errors)


async def _outcomes(
    chunk: list[BulkRow], send: Callable[[list[dict[str, Any]]], Awaitable[list[BulkStartResult]]]
) -> list[tuple[BulkRow, BulkStartResult | None, ApiError | None]]:
    """Each row of one POST /api/transfers/bulk with its result, or the ApiError refusing it: the
    row's own, or the whole request's (ApiConnectionError when the server was not reached)."""
    try:
        results = await send([r.body for r in chunk])
    except ApiError as e:
        return [(row, None, e) for row in chunk]
    return [(chunk[r.index], r, None if r.ok else row_error(r)) for r in results]


def server_errors(line: int, e: ApiError) -> list[RowError]:
    """The row errors of a refused API call, each on its file column."""
    rule = SERVER_RULES.get(e.status, "api_error")
    if not e.errors:
        return [RowError(line, "", rule, idcard.mask_text(f"HTTP {e.status}：{e.detail}"))]
    return [RowError(line, column_of(x.field), rule, idcard.mask_text(x.message)) for x in e.errors]


# ---- report ------------------------------------------------------------------------------------
def sort_errors(errors: Iterable[RowError]) -> list[RowError]:
    order = {c: i for i, c in enumerate(COLUMNS)}
    return sorted(errors, key=lambda e: (e.line, order.get(e.column.split(",")[0], len(order)), e.rule))


def write_report(path: Path, errors: Sequence[RowError]) -> None:
    """line,column,rule,message as CSV in UTF-8 with BOM (Excel opens the Chinese correctly)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", encoding="utf-8-sig", newline="") as f:
        w = csv.writer(f)
        w.writerow(["line", "column", "rule", "message"])
        for e in sort_errors(errors):
            w.writerow([e.line, e.column, e.rule, e.message])


def default_report_path(file: Path) -> Path:
    file = Path(file)
    return file.with_name(f"{file.stem}.errors.csv")


# ---- progress ----------------------------------------------------------------------------------
class Progress:
    """A progress bar on stderr (rich when installed, else a plain text line); silent when off."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self._rich = None
        self._task = None
        self._total = 0
        self._done = 0
        self._label = ""

    def start(self, label: str, total: int) -> None:
        self._label, self._total, self._done = label, total, 0
        if not self.enabled or total == 0:
            return
        try:
            from rich.console import Console
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeElapsedColumn
            from rich.progress import Progress as RichProgress
        except ImportError:
            self._rich = None
            self._text()
            return
        self._rich = RichProgress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=Console(stderr=True),
            transient=False,
        )
        self._rich.start()
        self._task = self._rich.add_task(label, total=total)

    def advance(self) -> None:
        self._done += 1
        if not self.enabled or self._total == 0:
            return
        if self._rich is not None:
            self._rich.advance(self._task)
        elif self._done == self._total or self._done % max(1, self._total // 100) == 0:
            self._text()

    def _text(self) -> None:
        end = "\n" if self._done >= self._total else ""
        sys.stderr.write(f"\r{self._label} {self._done}/{self._total}{end}")
        sys.stderr.flush()

    def stop(self) -> None:
        if self._rich is not None:
            self._rich.stop()
            self._rich = None


# ---- the import --------------------------------------------------------------------------------
class StartedRow(NamedTuple):
    """A row the server started or found started: its workflow, and the transfer's id when the
    server knew it (a new transfer's row is written by its workflow a moment after the answer)."""

    line: int
    workflow_id: str | None
    transfer_id: int | None = None


@dataclass
class ImportOutcome:
    file: str
    org_code: str
    rows: int = 0  # data rows read
    errors: list[RowError] = field(default_factory=list)  # phase 1: local and server checks
    failed: list[RowError] = field(default_factory=list)  # phase 2: starts the server refused
    started: list[StartedRow] = field(default_factory=list)  # newly started (transfer id not yet known)
    existing: list[StartedRow] = field(default_factory=list)  # already started / already open
    skipped_lines: list[int] = field(default_factory=list)  # invalid rows left out (skip_invalid)
    report_path: Path | None = None
    fatal: str | None = None  # nothing could be done (login, unknown org, account may not start)
    exit_code: int = 0
    seconds: float = 0.0

    @property
    def invalid_lines(self) -> list[int]:
        return sorted({e.line for e in self.errors})

    def summary(self) -> str:
        if self.fatal:
            return f"未发起任何转接申请：{self.fatal}"
        if self.errors and not self.skipped_lines and not self.started and not self.existing:
            return (
                f"校验未通过：{self.file} 中 {len(self.invalid_lines)} 行共 {len(self.errors)} 处错误，"
                f"未发起任何转接申请（invalid: {len(self.errors)} errors, nothing started）"
            )
        parts = [
            f"新发起 {len(self.started)}",
            f"已发起过或已有办理中的申请 {len(self.existing)}",
            f"失败 {len(self.failed_lines)}",
        ]
        if self.skipped_lines:
            parts.append(f"跳过无效行 {len(self.skipped_lines)}")
        note = "；新发起的申请已交给流程引擎，由流程写入记录后即可在列表中查到" if self.started else ""
        return (
            f"转出发起完成（{self.org_code}）：{self.rows} 行，"
            + "，".join(parts)
            + f"（started {len(self.started)}, already started {len(self.existing)}, failed {len(self.failed_lines)}"
            + (f", skipped {len(self.skipped_lines)}" if self.skipped_lines else "")
            + f"; {self.seconds:.1f} s）"
            + note
        )

    @property
    def failed_lines(self) -> list[int]:
        return sorted({e.line for e in self.failed})


def _chunks(rows: Sequence[BulkRow], size: int) -> list[list[BulkRow]]:
    return [list(rows[i : i + size]) for i in range(0, len(rows), size)]


async def _bounded(items: Sequence[Any], concurrency: int, fn: Callable[[Any], Awaitable[None]]) -> None:
    sem = asyncio.Semaphore(max(1, concurrency))

    async def one(item: Any) -> None:
        async with sem:
            await fn(item)

    tasks = [asyncio.create_task(one(i)) for i in items]
    try:
        await asyncio.gather(*tasks)
    except BaseException:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


class _Fatal(Exception):
    """Stop everything: the account cannot start transfers at all, or the server went away."""


async def _resolve_org(client: ZhtjClient, org_code: str) -> str:
    """The org's code as the directory spells it, once the server confirmed (GET /api/me) that
    the account may act for it; whether it may act for each row's member is for the server to
    say, row by row (403)."""
    try:
        found = await client.orgs(q=org_code.strip()[:100], limit=200)
        code = next((o.code for o in found if o.code.lower() == org_code.lower()), None)
        if code is None:
            raise _Fatal(f"组织 {org_code} 不存在（--as 应为组织编码，如 WHU）")
        me = await client.me(org=code)
    except ApiConnectionError:
        raise
    except ApiError as e:
        raise _Fatal(_account_problem(e) or f"无法查询组织 {org_code}：{e.detail}") from e
    if not me.may_act_for:
        raise _Fatal(
            f"登录账号 {me.username} 不能代表 {code} 办理转出：须为 {code} 或其上级组织的管理员或服务账号"
            f"（该账号所属组织：{me.org_code or '无'}）"
        )
    return code


def _account_problem(e: ApiError) -> str | None:
    """A refusal about the account as a whole (every row would get it), else None."""
    if e.status == 401:
        return f"登录已失效或令牌无效：{e.detail}"
    if e.status == 403 and any(x.field in ("user", "authorization") for x in e.errors):
        return f"该账号无权发起转出：{e.detail}"
    if e.status == 403 and any(x.field == "channel" and "只能" in x.message for x in e.errors):
        return f"该账号无权发起转出：{e.detail}"
    return None


async def run_import(
    client: ZhtjClient,
    file: Path,
    org_code: str,
    *,
    skip_invalid: bool = False,
    concurrency: int = 8,
    report_path: Path | None = None,
    progress: bool = True,
    echo: Callable[[str], None] = print,
    today=None,
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
    report_path = Path(report_path) if report_path else default_report_path(file)
    bar = Progress(progress)

    table = table if table is not None else read_bulk_table(file)
    out.rows = len(table.rows)
    header_bad = any(e.line == 1 for e in table.errors)
    try:
        if claims_role := client.claims.get("role"):
            if claims_role == "member":
                raise _Fatal("团员账号只能个人发起，不能批量办理转出；请用组织管理员或服务账号登录")
        org_code = out.org_code = await _resolve_org(client, org_code)

        rows, errors = check_table(table, org_code, today=today)
        if not header_bad and rows:
            server_bad: dict[int, list[RowError]] = {}
            account: list[str] = []

            def refused(row: BulkRow, e: ApiError) -> None:
                if (why := _account_problem(e)) is not None:
                    account.append(why)
                else:
                    server_bad[row.line] = server_errors(row.line, e)

            async def validate(chunk: list[BulkRow]) -> None:
                if account:
                    return
                for row, _, e in await _outcomes(chunk, lambda body: client.bulk_start(body, dry_run=True)):
                    if isinstance(e, ApiConnectionError):
                        account.append(str(e))
                        return
                    if e is not None:
                        refused(row, e)
                    bar.advance()

            bar.start("校验 validate", len(rows))
            try:
                await _bounded(_chunks(rows, VALIDATE_CHUNK), concurrency, validate)
            finally:
                bar.stop()
            if account:
                raise _Fatal(account[0])
            for line in sorted(server_bad):
                errors += server_bad[line]
            if len(server_bad) == len(rows) and all(e.rule == "api_forbidden" for v in server_bad.values() for e in v):
                who = client.claims.get("usr", "该账号")
                echo(
                    f"注意：服务端拒绝了全部 {len(rows)} 行（403）；登录账号 {who} 可能不是 {org_code} 或其上级组织的"
                    "管理员或服务账号（--as 只声明身份，权限由服务端按登录账号判断）"
                )
            rows = [r for r in rows if r.line not in server_bad]
        out.errors = sort_errors(errors)

        if out.errors:
            write_report(report_path, out.errors)
            out.report_path = report_path
            for e in out.errors:
                echo(e.render(COLUMN_LABELS))
            if header_bad or not skip_invalid:
                out.exit_code = 1
                out.seconds = loop.time() - t0
                echo(out.summary())
                echo(f"错误报告：{report_path}")
                return out
            out.skipped_lines = out.invalid_lines

        async def start(chunk: list[BulkRow]) -> None:
            for row, res, e in await _outcomes(chunk, client.bulk_start):
                if isinstance(e, ApiConnectionError):
                    out.failed.append(RowError(row.line, "", "unreachable", str(e)))
                elif e is not None:
                    out.failed += server_errors(row.line, e)
                else:
                    (out.started if res.created else out.existing).append(
                        StartedRow(row.line, res.workflow_id, res.transfer_id)
                    )
                bar.advance()

        bar.start("发起 start", len(rows))
        try:
            await _bounded(_chunks(rows, START_CHUNK), concurrency, start)
        finally:
            bar.stop()
        out.started.sort()
        out.existing.sort()
        out.failed = sort_errors(out.failed)
        if out.failed:
            write_report(report_path, [*out.errors, *out.failed])
            out.report_path = report_path
            for e in out.failed:
                echo(e.render(COLUMN_LABELS))
        nothing_valid = bool(out.skipped_lines) and not out.started and not out.existing
        out.exit_code = 1 if out.failed or nothing_valid else 0
    except _Fatal as e:
        out.fatal = str(e)
        out.exit_code = 1
    out.seconds = loop.time() - t0
    echo(out.summary())
    if out.report_path is not None:
        echo(f"错误报告：{out.report_path}")
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
    echo: Callable[[str], None] = print,
    timeout: float = 60.0,
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
    async with ZhtjClient(base_url, token=token, transport=transport, timeout=timeout) as client:
        if token is None:
            if not username or password is None:
                out = ImportOutcome(
                    file=str(file),
                    org_code=as_org,
                    fatal="需要 --username 和密码，或环境变量 ZHTJ_API_TOKEN",
                    exit_code=2,
                )
                echo(out.summary())
                return out
            try:
                await client.login(username, password)
            except ApiError as e:
                out = ImportOutcome(
                    file=str(file), org_code=as_org, fatal=f"登录失败（{username}）：{e.detail}", exit_code=1
                )
                echo(out.summary())
                return out
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
            out = ImportOutcome(file=str(file), org_code=as_org, fatal=str(e), exit_code=1)
            echo(out.summary())
            return out


__all__ = [
    "COLUMNS",
    "COLUMN_LABELS",
    "REQUIRED",
    "BulkRow",
    "ImportOutcome",
    "StartedRow",
    "check_row",
    "check_table",
    "column_of",
    "idempotency_key",
    "import_transfers",
    "parse_type",
    "read_bulk_table",
    "run_import",
    "write_report",
]
