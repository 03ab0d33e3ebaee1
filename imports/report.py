"""What an import found and did: row errors and counts, rendered as Chinese report lines."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from domain.glossary import MEMBER_COLUMN_LABELS, ORG_COLUMN_LABELS

COLUMN_LABELS: dict[str, Mapping[str, str]] = {"orgs": ORG_COLUMN_LABELS, "members": MEMBER_COLUMN_LABELS}


@dataclass(frozen=True)
class RowError:
    """One broken rule in one cell (or in the header, or in the file as a whole).

    `line` is the spreadsheet row number (the header is line 1); `column` the template column
    name (empty when the problem is not about one column); `rule` a stable machine code;
    `message` Chinese text for people. A 身份证号 in a message is always masked.
    """

    line: int
    column: str
    rule: str
    message: str

    def render(self, labels: Mapping[str, str] | None = None) -> str:
        where = f"第{self.line}行"
        if self.column:
            label = (labels or {}).get(self.column)
            where += f" 列 {self.column}（{label}）" if label else f" 列 {self.column}"
        return f"{where} [{self.rule}]: {self.message}"


@dataclass
class ImportReport:
    """Outcome of one `import_orgs` / `import_members` call."""

    entity: str  # "orgs" | "members"
    file: str
    dry_run: bool = False
    rows: int = 0  # data rows read (fully empty rows are not counted)
    errors: list[RowError] = field(default_factory=list)
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    written: bool = False  # True only when a transaction changed something and committed

    @property
    def ok(self) -> bool:
        return not self.errors

    def tally(self, actions: Iterable[str]) -> None:
        """Count the planned actions (create | update | unchanged); an invalid file counts none."""
        for action in actions:
            if action == "create":
                self.created += 1
            elif action == "update":
                self.updated += 1
            else:
                self.unchanged += 1
        if not self.ok:
            self.created = self.updated = self.unchanged = 0  # partial counts would mislead

    def detail(self, **extra: object) -> dict[str, object]:
        """What the audit log records of a written import."""
        counts = {"rows": self.rows, "created": self.created, "updated": self.updated, "unchanged": self.unchanged}
        return {"file": self.file, **counts, **extra}

    @property
    def bad_lines(self) -> int:
        return len({e.line for e in self.errors})

    def summary(self) -> str:
        what = "组织" if self.entity == "orgs" else "团员"
        counts = f"新增 {self.created}，更新 {self.updated}，不变 {self.unchanged}"
        if not self.ok:
            return (
                f"{what}导入失败：{self.file} 中 {self.bad_lines} 行共 {len(self.errors)} 处错误，"
                f"未写入任何数据（invalid: {len(self.errors)} errors, nothing written）"
            )
        if self.dry_run:
            return (
                f"{what}导入校验通过（试运行，未写入）：{self.rows} 行，将{counts}"
                f"（dry run: {self.created} new, {self.updated} updated, {self.unchanged} unchanged）"
            )
        return (
            f"{what}导入完成：{self.rows} 行，{counts}"
            f"（{self.created} created, {self.updated} updated, {self.unchanged} unchanged）"
        )

    def lines(self, labels: Mapping[str, str] | None = None) -> list[str]:
        """Every error (by line, then in template column order) and then the summary line."""
        labels = labels if labels is not None else COLUMN_LABELS.get(self.entity, {})
        order = {col: i for i, col in enumerate(labels)}
        ordered = sorted(self.errors, key=lambda e: (e.line, order.get(e.column.split(",")[0], len(order))))
        return [e.render(labels) for e in ordered] + [self.summary()]
