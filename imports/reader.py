"""Read an import file (CSV or XLSX) into text cells keyed by template column.

- CSV: UTF-8 with or without BOM; files Excel in China saves as GBK (GB18030 is read too).
- XLSX: the first sheet, cell values (not formulas); numbers, dates and booleans become text.
- Row 1 is the header: a column is named by its template code, its Chinese label or an alias,
  compared after NFKC (half-width brackets match full-width ones), case and blanks aside.
- `Row.line` is the spreadsheet row number (first data row is line 2).
- Fully empty rows are skipped; every cell is stripped of surrounding blanks.

Header problems (a required column missing, an unknown or repeated column) are returned as
`RowError`s on line 1; a file that cannot be read at all raises `ImportFileError`.
"""

from __future__ import annotations

import csv
import io
import unicodedata
import zipfile
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from pathlib import Path
from typing import Any

from imports.report import RowError

CSV_SUFFIXES = frozenset({".csv"})
XLSX_SUFFIXES = frozenset({".xlsx", ".xlsm"})
SUPPORTED = "CSV (.csv) 或 Excel (.xlsx)"

#: Excel keeps 15 significant digits; an integer this large typed as a number is already damaged.
EXACT_DIGITS_LIMIT = 10**15


class ImportFileError(Exception):
    """The file cannot be read at all: missing, unsupported type, corrupt, unknown encoding."""


@dataclass
class Row:
    line: int
    cells: dict[str, str]
    damaged: set[str] = field(default_factory=set)  # columns whose value was lost (already reported)

    def get(self, column: str) -> str:
        return self.cells.get(column, "")


@dataclass
class Table:
    columns: list[str]  # template columns present in the header, in file order
    rows: list[Row] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)

    def has(self, column: str) -> bool:
        return column in self.columns


def cell_text(value: Any) -> tuple[str, str | None]:
    """A cell value as stripped text, and a problem message when the value was already damaged."""
    if value is None:
        return "", None
    if isinstance(value, bool):
        return ("true" if value else "false"), None
    if isinstance(value, int):
        return str(value), None
    if isinstance(value, float):
        if value.is_integer():
            if abs(value) >= EXACT_DIGITS_LIMIT:
                return (
                    f"{value:.0f}",
                    "单元格是数字格式且超过15位，Excel 已丢失末尾数字的精度；请把该列设为文本格式后重新填写",
                )
            return str(int(value)), None
        return repr(value), None
    if isinstance(value, datetime):
        if value.time() == time(0, 0):
            return value.date().isoformat(), None
        return value.isoformat(sep=" "), None
    if isinstance(value, (date, time)):
        return value.isoformat(), None
    return str(value).replace("\ufeff", "").strip(), None


def fold(text: str) -> str:
    """A header name as compared: NFKC, no BOM or zero-width space, stripped, lower case."""
    text = text.replace("\ufeff", "").replace("\u200b", "")
    return unicodedata.normalize("NFKC", text).strip().lower()


def header_key(raw: Any) -> str:
    text, _ = cell_text(raw)
    return fold(text)


def _decode(data: bytes, path: Path) -> str:
    for encoding in ("utf-8-sig", "gb18030"):
        try:
            return data.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportFileError(f"无法识别文件编码：{path.name}（请保存为 UTF-8 或 GBK 编码的 CSV）")


def _csv_records(path: Path) -> list[list[Any]]:
    try:
        data = path.read_bytes()
    except OSError as e:
        raise ImportFileError(f"无法读取文件 {path}：{e.strerror or e}") from e
    text = _decode(data, path)
    try:
        return [list(r) for r in csv.reader(io.StringIO(text, newline=""))]
    except csv.Error as e:
        raise ImportFileError(f"CSV 格式错误：{path.name}：{e}") from e


def _xlsx_records(path: Path) -> list[list[Any]]:
    from openpyxl import load_workbook
    from openpyxl.utils.exceptions import InvalidFileException

    try:
        wb = load_workbook(path, read_only=True, data_only=True)
    except (OSError, zipfile.BadZipFile, InvalidFileException, KeyError, ValueError) as e:
        raise ImportFileError(f"无法读取 Excel 文件 {path.name}：{e}") from e
    try:
        if not wb.worksheets:
            return []
        ws = wb.worksheets[0]
        reset = getattr(ws, "reset_dimensions", None)
        if reset is not None:
            reset()  # a stale <dimension> element would otherwise cut rows off
        return [list(r) for r in ws.iter_rows(values_only=True)]
    except (zipfile.BadZipFile, KeyError, ValueError) as e:
        raise ImportFileError(f"无法读取 Excel 文件 {path.name}：{e}") from e
    finally:
        wb.close()


def read_records(path: Path) -> list[list[Any]]:
    """Raw rows of the file (first sheet for XLSX); ImportFileError when it cannot be read."""
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in CSV_SUFFIXES | XLSX_SUFFIXES:
        hint = "（.xls 请在 Excel 中另存为 .xlsx）" if suffix == ".xls" else ""
        raise ImportFileError(f"不支持的文件类型 {suffix or '（无扩展名）'}：{path.name}；应为 {SUPPORTED}{hint}")
    if not path.is_file():
        raise ImportFileError(f"文件不存在：{path}")
    return _csv_records(path) if suffix in CSV_SUFFIXES else _xlsx_records(path)


def parse_records(
    records: Iterable[Sequence[Any]],
    *,
    columns: Sequence[str],
    required: Sequence[str],
    labels: Mapping[str, str],
    aliases: Mapping[str, str] | None = None,
) -> Table:
    """Header check and text cells; pure (records may come from any reader). `aliases`: further
    header names, each mapped to its column."""
    it: Iterator[Sequence[Any]] = iter(records)
    header = next(it, None)
    known: dict[str, str] = {fold(c): c for c in columns}
    known.update({fold(labels[c]): c for c in columns if c in labels})
    known.update({fold(a): c for a, c in (aliases or {}).items()})

    def name(col: str) -> str:
        return f"{col}（{labels[col]}）" if col in labels else col

    if header is None or not any(header_key(h) for h in header):
        return Table(
            columns=[],
            errors=[
                RowError(
                    1,
                    "",
                    "header_missing",
                    "第1行应为表头，文件却是空的；表头应为：" + ",".join(columns),
                )
            ],
        )

    index: dict[int, str] = {}
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    unknown: list[str] = []
    for i, raw in enumerate(header):
        key = header_key(raw)
        if not key:
            continue
        col = known.get(key)
        if col is None:
            unknown.append(cell_text(raw)[0])
            continue
        if col in seen:
            errors.append(
                RowError(
                    1,
                    col,
                    "header_duplicate",
                    f"列 {name(col)} 在表头中出现了不止一次（第{seen[col] + 1}列和第{i + 1}列）",
                )
            )
            continue
        seen[col] = i
        index[i] = col
    missing = [c for c in required if c not in seen]
    if missing:
        errors.append(
            RowError(1, ",".join(missing), "header_missing", "表头缺少必需的列：" + "，".join(name(c) for c in missing))
        )
    if unknown:
        errors.append(
            RowError(
                1,
                ",".join(unknown),
                "header_unknown",
                "表头中有未知的列：" + "，".join(f'"{u}"' for u in unknown) + "；可用的列为：" + ",".join(columns),
            )
        )
    table = Table(columns=[index[i] for i in sorted(index)])
    if errors:
        table.errors = errors
        return table

    for offset, record in enumerate(it):
        line = offset + 2
        texts = [cell_text(v) for v in record]
        if not any(t for t, _ in texts):
            continue
        cells = {col: "" for col in table.columns}
        damaged: set[str] = set()
        for i, (text, problem) in enumerate(texts):
            col = index.get(i)
            if col is None:
                if text:
                    table.errors.append(
                        RowError(
                            line, "", "cell_without_header", f'第{i + 1}列有内容 "{text[:20]}"，但表头中该列没有列名'
                        )
                    )
                continue
            cells[col] = text
            if problem:
                damaged.add(col)
                table.errors.append(RowError(line, col, "number_precision", f"{labels.get(col, col)}：{problem}"))
        table.rows.append(Row(line=line, cells=cells, damaged=damaged))
    return table


def read_table(
    path: Path,
    *,
    columns: Sequence[str],
    required: Sequence[str],
    labels: Mapping[str, str],
    aliases: Mapping[str, str] | None = None,
) -> Table:
    """Read and header-check a CSV/XLSX file (see the module docstring)."""
    return parse_records(read_records(path), columns=columns, required=required, labels=labels, aliases=aliases)
