"""``vinex up`` starts the web server, the worker and the scheduler, and stops all three."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

from tests.support.smtp import free_port


def _log_says(log: Path, *messages: str) -> bool:
    text = log.read_text(encoding="utf-8", errors="replace")
    return all(f'"message": "{message}"' in text for message in messages)


def _wait_until(condition: object, timeout: float) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if callable(condition) and condition():
            return True
        time.sleep(0.2)
    return False


def _healthy(url: str) -> bool:
    try:
        return requests.get(f"{url}/healthz", timeout=5).status_code == 200
    except requests.RequestException:  # not up yet, or slow to answer on a busy machine: ask again
        return False


@pytest.mark.e2e
def test_up_runs_server_worker_and_scheduler_and_stops_them_all(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    # A database of its own: `vinex up` migrates and loads the demo, which the test database must not get.
    env = {key: value for key, value in os.environ.items() if not key.startswith("VINEX_")}
    env |= {"VINEX_VAR_DIR": str(tmp_path), "VINEX_DATABASE_URL": f"sqlite:///{tmp_path / 'up.sqlite3'}",
            "VINEX_BIND": f"127.0.0.1:{port}", "VINEX_PUBLIC_URL": url, "VINEX_SCHEDULER_POLL_SECONDS": "0.5"}
    log = tmp_path / "up.log"
    with log.open("wb") as output:
        up = subprocess.Popen([sys.executable, "-m", "vinex.cli", "up"], env=env, stdout=output, stderr=output)
        try:
            assert _wait_until(lambda: _healthy(url), timeout=180), log.read_text()
            started = _wait_until(lambda: _log_says(log, "worker started", "scheduler started"), timeout=60)
            assert started, log.read_text()
        finally:
            up.send_signal(signal.SIGINT)
            status = up.wait(timeout=90)
    assert status == 0, log.read_text()
    assert _log_says(log, "worker stopped", "scheduler stopped"), log.read_text()
    assert not _healthy(url)
