"""`zhtj orgs import FILE`, `zhtj members import FILE` and `zhtj transfers import FILE --as ORG`
(registered by cli.py).

orgs and members — exit codes: 0 valid (written, or nothing to write, or --dry-run); 1 invalid
rows or the database is not migrated; 2 the file cannot be read (missing, unsupported type,
corrupt, unknown encoding). The report (one line per error, then a summary) goes to stdout;
fatal problems to stderr.

transfers (bulk 办理转出 through the REST API) — exit codes: 0 every row started (or already
started) — with --skip-invalid, every valid row (at least one); 1 invalid rows (nothing started),
no valid row at all, a start the server refused, login failure, unknown org, or an account that
may not start transfers; 2 bad arguments or a file that cannot be read. Errors and the summary go
to stdout, the progress bar to stderr.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated

import typer

from core.logging import configure_from_settings, get_logger
from core.runtime import exit_now, open_engine, run
from core.settings import get_settings
from imports.members import import_members
from imports.orgs import import_orgs
from imports.reader import ImportFileError
from imports.report import ImportReport
from models.db import DatabaseNotMigrated

orgs_app = typer.Typer(help="组织目录 (org directory)", no_args_is_help=True)
members_app = typer.Typer(help="团员名册 (league members)", no_args_is_help=True)
transfers_app = typer.Typer(help="转接申请 (transfers, through the REST API)", no_args_is_help=True)

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
    file: Annotated[Path, typer.Argument(help=FILE_HELP)],
    dry_run: bool = typer.Option(False, "--dry-run", help=DRY_RUN_HELP),
) -> None:
    """导入组织目录：code,name,kind,parent_code,partition,province,city,county,township,address,can_receive,new_student,contact_phone,contact_address"""
    _run_import(import_orgs, file, dry_run)


@members_app.command("import")
def members_import(
    file: Annotated[Path, typer.Argument(help=FILE_HELP)],
    dry_run: bool = typer.Option(False, "--dry-run", help=DRY_RUN_HELP),
) -> None:
    """导入团员：id_number,name,branch_code,joined_on,graduation_year,hukou_address,residence_address,phone,email"""
    _run_import(import_members, file, dry_run)


TOKEN_ENV = "ZHTJ_API_TOKEN"


def default_api_url() -> str:
    return f"http://127.0.0.1:{get_settings().http_port}"


def _credentials(username: str | None, password: str | None, password_env: str | None) -> tuple[str | None, str | None]:
    """(token, password): an explicit login wins over a token in the environment. Exit 2 when
    there is neither, or the --password-env variable is not set."""
    token = os.environ.get(TOKEN_ENV) or None
    if password_env:
        password = os.environ.get(password_env)
        if password is None:
            typer.echo(f"错误：环境变量 {password_env} 未设置（--password-env）", err=True)
            raise typer.Exit(2)
    if username and password is not None:
        return None, password
    if token is None:
        typer.echo(
            f"错误：需要 --username 和密码（--password-env VAR 或 --password），或环境变量 {TOKEN_ENV}", err=True
        )
        raise typer.Exit(2)
    return token, password


@transfers_app.command("import")
def transfers_import(
    file: Annotated[Path, typer.Argument(help="CSV（UTF-8 或 GBK）或 XLSX 文件，第1行为表头；列见 README")],
    as_org: str = typer.Option(..., "--as", help="以哪个组织的身份办理转出（组织编码，如 WHU）"),
    api: str | None = typer.Option(None, "--api", help="API 地址，默认 http://127.0.0.1:$ZHTJ_HTTP_PORT"),
    username: str | None = typer.Option(None, "--username", "-u", help="登录名（组织管理员或服务账号）"),
    password_env: str | None = typer.Option(None, "--password-env", help="从该环境变量读取密码"),
    password: str | None = typer.Option(None, "--password", help="密码（更推荐 --password-env）"),
    skip_invalid: bool = typer.Option(False, "--skip-invalid", help="有无效行时仍发起其余有效行"),
    concurrency: int = typer.Option(8, "--concurrency", "-c", min=1, max=64, help="同时发起的请求数"),
    report: Annotated[Path | None, typer.Option("--report", help="错误报告 CSV 路径，默认 FILE.errors.csv")] = None,
    no_progress: bool = typer.Option(False, "--no-progress", help="不显示进度条"),
) -> None:
    """按文件逐行发起转出：name,id_number,type,表单字段,location_*,target_org_code[,partition]。

    先校验全部行（本地 + 服务端 /api/transfers/bulk 试运行，每次 500 行），有错误时写出错误报告且不发起任何申请
    （除非 --skip-invalid）；再以有限并发发起。同一文件重复运行不会重复发起。"""
    from imports.transfer_rows import read_bulk_table
    from imports.transfer_start import import_transfers

    try:
        table = read_bulk_table(file)
    except ImportFileError as e:
        typer.echo(f"错误：{e}", err=True)
        raise typer.Exit(2) from None
    token, pw = _credentials(username, password, password_env)
    outcome = asyncio.run(
        import_transfers(
            file,
            as_org=as_org,
            base_url=api or default_api_url(),
            username=username,
            password=pw,
            token=token,
            skip_invalid=skip_invalid,
            concurrency=concurrency,
            report_path=report,
            progress=not no_progress,
            echo=typer.echo,
            table=table,
        )
    )
    raise typer.Exit(outcome.exit_code)


__all__ = ["members_app", "orgs_app", "transfers_app"]
