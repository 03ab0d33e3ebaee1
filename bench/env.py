"""The servers a benchmark runs against: a throwaway PostgreSQL and a file-backed dev server."""

from __future__ import annotations

import os
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from core.dev import dev_server_command, temporal_binary, wait_for_port
from core.settings import Settings

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Postgres:
    url: str  # the maintenance database's async URL
    pid: int  # the postmaster: its process tree is the cluster's CPU


@contextmanager
def postgres() -> Iterator[Postgres]:
    """A throwaway cluster (scripts/pg.sh)."""
    pgdir = tempfile.mkdtemp(prefix="zhtj-bench-pg-")
    os.rmdir(pgdir)  # pg.sh creates it
    env = dict(os.environ, ZHTJ_PG_DIR=pgdir, ZHTJ_PG_PORT=str(free_port()))
    url = subprocess.run(
        ["bash", str(ROOT / "scripts/pg.sh"), "start"], env=env, check=True, capture_output=True, text=True
    ).stdout.strip()
    try:
        yield Postgres(url=url, pid=int((Path(pgdir) / "data" / "postmaster.pid").read_text().split()[0]))
    finally:
        subprocess.run(["bash", str(ROOT / "scripts/pg.sh"), "stop"], env=env, capture_output=True)


async def create_database(admin_url: str, name: str) -> str:
    import asyncpg

    conn = await asyncpg.connect(admin_url.replace("postgresql+asyncpg://", "postgresql://"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return admin_url.rsplit("/", 1)[0] + "/" + name


@dataclass
class DevServer:
    address: str
    proc: subprocess.Popen
    version: str


@contextmanager
def dev_server(workdir: Path) -> Iterator[DevServer]:
    """`temporal server start-dev` persisted to a file with the WAL journal, UI off."""
    port = free_port()
    s = Settings(data_dir=workdir, temporal_port=port, temporal_ui_port=free_port())
    argv = [a for a in dev_server_command(s) if a != "--ui-disable-news-fetch"]
    argv += ["--headless"]
    argv[argv.index("--ui-port") : argv.index("--ui-port") + 2] = []
    log = open(workdir / "dev-server.log", "wb")
    proc = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        wait_for_port(port, proc, 60, "dev server")
        version = subprocess.run([temporal_binary(), "--version"], capture_output=True, text=True).stdout.strip()
        yield DevServer(address=f"127.0.0.1:{port}", proc=proc, version=version)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()


def rss_mb(pid: int) -> float:
    """Resident set size of a process (and its threads) in MB, from /proc."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def tree_cpu_s(pid: int) -> float:
    """CPU seconds (user + system) of a process, its reaped children and its live descendants."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total = sum(int(x) for x in stat[11:15]) / os.sysconf("SC_CLK_TCK")  # utime stime cutime cstime
        children: set[int] = set()
        for task in Path(f"/proc/{pid}/task").iterdir():
            children.update(int(c) for c in (task / "children").read_text().split())
    except (FileNotFoundError, ProcessLookupError):
        return 0.0
    return total + sum(tree_cpu_s(c) for c in children)


class CpuMeter:
    """CPU seconds spent by named processes (and by this one, as "driver") between start and stop."""

    def __init__(self, **pids: int) -> None:
        self.pids = pids
        self.before: dict[str, float] = {}

    def _now(self) -> dict[str, float]:
        return {"driver": time.process_time(), **{k: tree_cpu_s(p) for k, p in self.pids.items()}}

    def start(self) -> None:
        self.before = self._now()

    def per_item_ms(self, n: int) -> dict[str, float]:
        """CPU milliseconds per item for each process since start, and their total."""
        now = self._now()
        out = {k: round((now[k] - self.before[k]) * 1000 / n, 2) for k in now}
        out["total"] = round(sum(out.values()), 2)
        return out


def spawn_worker(
    env: dict[str, str], log: Path, module: str = "cli", args: tuple[str, ...] = ("worker",)
) -> subprocess.Popen:
    import sys

    out = open(log, "ab")
    argv = [sys.executable, "-m", module, *args]
    if os.environ.get("BENCH_PROFILE"):  # py-spy: collapsed stacks in bench/results/
        argv = [
            str(Path(sys.executable).parent / "py-spy"),
            "record",
            "--format",
            "raw",
            "--rate",
            "50",
            "-o",
            str(ROOT / "bench" / "results" / f"{log.stem}.stacks"),
            "--",
            *argv,
        ]
    proc = subprocess.Popen(argv, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
    deadline = time.monotonic() + 60
    while b"worker started" not in log.read_bytes():
        if proc.poll() is not None:
            raise RuntimeError(f"worker exited: {log.read_text(errors='replace')[-2000:]}")
        if time.monotonic() > deadline:
            raise TimeoutError("worker did not start")
        time.sleep(0.1)
    return proc


def stop(proc: subprocess.Popen) -> None:
    """SIGINT to the process group (a worker under py-spy too), then force."""
    import signal

    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def percentile(values: list[float], p: float) -> float:
    if not values:
        return float("nan")
    v = sorted(values)
    k = (len(v) - 1) * p / 100
    lo, hi = int(k), min(int(k) + 1, len(v) - 1)
    return v[lo] + (v[hi] - v[lo]) * (k - lo)
