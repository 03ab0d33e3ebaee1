"""The steps `zhtj orgs import` and `zhtj members import` share: read the file and check each row's
cells, plan every row against the database, and, when the whole file is valid and this is not a
dry run, write the plans and the audit row of the import in the same transaction.

What differs is passed in: the template (columns, required ones), the row check (`parse`), the
planning (`plan`, batched reads, writes nothing) and the writes (`apply`, which answers what the
audit row records besides the counts).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from pathlib import Path
from typing import Protocol, TypeVar

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession

from imports.reader import Row, read_table
from imports.report import COLUMN_LABELS, ImportReport, RowError
from models.db import session_scope
from models.tables import AuditLog, utcnow


class Planned(Protocol):
    @property
    def action(self) -> str: ...  # create | update | unchanged


class Planning(Protocol):
    @property
    def plans(self) -> Sequence[Planned]: ...

    @property
    def errors(self) -> Sequence[RowError]: ...


InputT = TypeVar("InputT")
PlanningT = TypeVar("PlanningT", bound=Planning)


async def import_file(
    engine: AsyncEngine,
    path: Path,
    *,
    entity: str,
    columns: tuple[str, ...],
    required: tuple[str, ...],
    parse: Callable[[Row, list[str]], tuple[InputT, list[RowError]]],
    plan: Callable[[AsyncSession, list[InputT]], Awaitable[PlanningT]],
    apply: Callable[[AsyncSession, PlanningT, datetime], Awaitable[dict[str, object]]],
    dry_run: bool,
    actor: str,
) -> ImportReport:
    """Validate a file of `entity` ("orgs" | "members") and, when every row is valid, there is
    something to write and not `dry_run`, write it with an audit row (action `<entity>.import`).

    Raises `imports.reader.ImportFileError` when the file cannot be read at all.
    """
    path = Path(path)
    report = ImportReport(entity=entity, file=path.name, dry_run=dry_run)
    table = read_table(path, columns=columns, required=required, labels=COLUMN_LABELS[entity])
    report.rows = len(table.rows)
    report.errors.extend(table.errors)
    inputs: list[InputT] = []
    for row in table.rows:
        inp, errs = parse(row, table.columns)
        inputs.append(inp)
        report.errors.extend(errs)
    if any(e.line == 1 for e in table.errors):  # the header: the rows cannot be planned
        return report

    async with session_scope(engine) as session:
        planning = await plan(session, inputs)
        report.errors.extend(planning.errors)
        report.tally(p.action for p in planning.plans)
        if not report.ok or dry_run or not (report.created or report.updated):
            return report
        now = utcnow()
        extra = await apply(session, planning, now)
        session.add(
            AuditLog(
                at=now,
                actor=actor,
                action=f"{entity}.import",
                entity="import",
                entity_id=None,
                detail=report.detail(**extra),
            )
        )
    report.written = True
    return report
