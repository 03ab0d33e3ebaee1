"""`zhtj orgs import FILE` and `zhtj members import FILE` (registered by cli.py).

Exit codes: 0 valid (written, or nothing to write, or --dry-run); 1 invalid rows or the database
is not migrated; 2 the file cannot be read (missing, unsupported type, corrupt, unknown encoding).
The report (one line per error, then a summary) goes to stdout; fatal problems to stderr.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path

import typer

from core.logging import configure_from_settings, get_logger
from core.runtime import exit_now, open_engine, run
from imports.members import import_members
from imports.orgs import import_orgs
from imports.reader import ImportFileError
from imports.report import ImportReport
from models.db import DatabaseNotMigrated

orgs_app = typer.Typer(help="组织目录 (org directory)", no_args_is_help=True)
members_app = typer.Typer(help="团员名册 (league members)", no_args_is_help=True)

log = get_logger("zhtj.imports")

FILE_HELP = "CSV（UTF-8 或 GBK）或 XLSX 文件，第1行为表头"
DRY_RUN_HELP = "只校验并报告将新增/更新/不变的行数，不写入数据库"

Importer = Callable[..., Awaitable[ImportReport]]


def _run_import(importer: Importer, file: Path, dry_run: bool) -> None:
    configure_from_settings()

    async def main() -> ImportReport:
        async with open_engine() as engine:
            return await importer(engine, file, dry_run=dry_run)

    try:
        report = run(main())
    except DatabaseNotMigrated as e:
        typer.echo(str(e), err=True)
        exit_now(1)
    except ImportFileError as e:
        typer.echo(f"错误：{e}", err=True)
        exit_now(2)
    for line in report.lines():
        typer.echo(line)
    log.info(
        "import.finished",
        entity=report.entity,
        file=report.file,
        dry_run=report.dry_run,
        rows=report.rows,
        errors=len(report.errors),
        created=report.created,
        updated=report.updated,
        unchanged=report.unchanged,
        written=report.written,
    )
    exit_now(0 if report.ok else 1)


@orgs_app.command("import")
def orgs_import(
    file: Path = typer.Argument(..., help=FILE_HELP),
    dry_run: bool = typer.Option(False, "--dry-run", help=DRY_RUN_HELP),
) -> None:
    """导入组织目录：code,name,kind,parent_code,partition,province,city,county,township,address,can_receive,new_student"""
    _run_import(import_orgs, file, dry_run)


@members_app.command("import")
def members_import(
    file: Path = typer.Argument(..., help=FILE_HELP),
    dry_run: bool = typer.Option(False, "--dry-run", help=DRY_RUN_HELP),
) -> None:
    """导入团员：id_number,name,branch_code,joined_on,graduation_year,hukou_address,residence_address,phone"""
    _run_import(import_members, file, dry_run)


__all__ = ["members_app", "orgs_app"]
