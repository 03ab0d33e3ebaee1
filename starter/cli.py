"""`zhtj transfers import FILE --as ORG`: bulk 办理转出 through the REST API (registered by cli.py).

Exit codes: 0 every row started (or already started) — with --skip-invalid, every valid row
(at least one); 1 invalid rows (nothing started), no valid row at all, a start the server
refused, login failure, unknown org, or an account that may not start transfers; 2 bad
arguments or a file that cannot be read.
Errors and the summary go to stdout, the progress bar to stderr.
"""

from __future__ import annotations

import asyncio
import os
from pathlib import Path

import typer

transfers_app = typer.Typer(help="转接申请 (transfers, through the REST API)", no_args_is_help=True)

TOKEN_ENV = "ZHTJ_API_TOKEN"


def default_api_url() -> str:
    return f"http://127.0.0.1:{os.environ.get('ZHTJ_HTTP_PORT') or '8000'}"


@transfers_app.command("import")
def import_cmd(
    file: Path = typer.Argument(..., help="CSV（UTF-8 或 GBK）或 XLSX 文件，第1行为表头；列见 README"),
    as_org: str = typer.Option(..., "--as", help="以哪个组织的身份办理转出（组织编码，如 WHU）"),
    api: str | None = typer.Option(None, "--api", help="API 地址，默认 http://127.0.0.1:$ZHTJ_HTTP_PORT"),
    username: str | None = typer.Option(None, "--username", "-u", help="登录名（组织管理员或服务账号）"),
    password_env: str | None = typer.Option(None, "--password-env", help="从该环境变量读取密码"),
    password: str | None = typer.Option(None, "--password", help="密码（更推荐 --password-env）"),
    skip_invalid: bool = typer.Option(False, "--skip-invalid", help="有无效行时仍发起其余有效行"),
    concurrency: int = typer.Option(8, "--concurrency", "-c", min=1, max=64, help="同时发起的请求数"),
    report: Path | None = typer.Option(None, "--report", help="错误报告 CSV 路径，默认 FILE.errors.csv"),
    no_progress: bool = typer.Option(False, "--no-progress", help="不显示进度条"),
) -> None:
    """按文件逐行发起转出：name,id_number,type,表单字段,location_*,target_org_code[,partition]。

    先校验全部行（本地 + 服务端 /api/transfers/bulk 试运行，每次 500 行），有错误时写出错误报告且不发起任何申请
    （除非 --skip-invalid）；再以有限并发发起。同一文件重复运行不会重复发起。"""
    from imports.reader import ImportFileError
    from starter.bulk import import_transfers, read_bulk_table

    try:
        table = read_bulk_table(file)
    except ImportFileError as e:
        typer.echo(f"错误：{e}", err=True)
        raise typer.Exit(2)

    token = os.environ.get(TOKEN_ENV) or None
    pw = password
    if password_env:
        pw = os.environ.get(password_env)
        if pw is None:
            typer.echo(f"错误：环境变量 {password_env} 未设置（--password-env）", err=True)
            raise typer.Exit(2)
    if username and pw is not None:
        token = None  # an explicit login wins over a token in the environment
    elif token is None:
        typer.echo(
            f"错误：需要 --username 和密码（--password-env VAR 或 --password），或环境变量 {TOKEN_ENV}", err=True
        )
        raise typer.Exit(2)

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


__all__ = ["transfers_app"]
