"""What `zhtj transfers import` found and did: the outcome, its summary line, and the error
report (CSV: line,column,rule,message, UTF-8 with BOM so Excel shows the Chinese)."""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import NamedTuple

from imports.report import RowError
from imports.transfer_rows import COLUMNS


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

    @property
    def failed_lines(self) -> list[int]:
        return sorted({e.line for e in self.failed})

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


def sort_errors(errors: Iterable[RowError]) -> list[RowError]:
    """By line, then in the file's column order, then by rule."""
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
