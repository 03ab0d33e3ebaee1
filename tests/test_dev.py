"""`zhtj dev` smoke test: the whole stack starts as a subprocess, serves, and stops on Ctrl-C."""

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from core.dev import port_open

ZHTJ = str(Path(sys.executable).parent / "zhtj")
PORTS = (8000, 8233, 7233)


def _get(url: str) -> tuple[int, str]:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.status, resp.read().decode("utf-8", "replace")


@pytest.mark.slow
def test_zhtj_dev_starts_serves_and_stops(database_url, tmp_path):
    busy = [p for p in PORTS if port_open(p)]
    assert not busy, f"ports {busy} are taken: stop any running `zhtj dev` before the tests"
    env = {k: v for k, v in os.environ.items() if k not in ("TEMPORAL_ADDRESS", "ZHTJ_HTTP_PORT")}
    env.update(DATABASE_URL=database_url, ZHTJ_DATA_DIR=str(tmp_path / "data"), ZHTJ_LOG_FORMAT="json")
    log = open(tmp_path / "dev.out", "w+b")
    proc = subprocess.Popen([ZHTJ, "dev"], env=env, stdout=log, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 180
        while b"Press Ctrl-C to stop." not in (tmp_path / "dev.out").read_bytes():
            assert proc.poll() is None, (tmp_path / "dev.out").read_text(errors="replace")
            assert time.monotonic() < deadline, "zhtj dev did not come up in 180 s"
            time.sleep(0.5)
        out = (tmp_path / "dev.out").read_text()
        assert "http://127.0.0.1:8000/" in out and "http://127.0.0.1:8233/" in out
        assert "demo logins:" in out
        assert all(port_open(p) for p in PORTS)

        status, page = _get("http://127.0.0.1:8000/")
        assert status == 200 and "团组织关系转接" in page
        status, health = _get("http://127.0.0.1:8000/healthz")
        assert status == 200 and '"temporal":"ok"' in health.replace(" ", "")
        status, ui = _get("http://127.0.0.1:8233/")
        assert status == 200 and "<html" in ui.lower()

        check = subprocess.run(
            [ZHTJ, "check"],
            env=dict(env, TEMPORAL_ADDRESS="127.0.0.1:7233"),
            capture_output=True,
            text=True,
            timeout=90,
        )
        assert check.returncode == 0, check.stderr
        assert check.stdout.startswith("ok: schema")
        assert (tmp_path / "data" / "temporal.sqlite3").exists()  # the server persists to a file
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
        code = proc.wait(timeout=90)
    out = (tmp_path / "dev.out").read_text(errors="replace")
    assert code == 0, out
    assert "stopped." in out
    deadline = time.monotonic() + 10
    while any(port_open(p) for p in PORTS) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not any(port_open(p) for p in PORTS), "a child process outlived zhtj dev"
