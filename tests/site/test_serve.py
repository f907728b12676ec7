"""``vinex serve``: granian with several threads a process, gunicorn's sync workers with one; either answers,
replaces a process that died and stops on SIGTERM; requests never see the process environment."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import requests
from django.core.management.base import CommandError

from tests.support.smtp import free_port
from vinex.site.management.commands.serve import granian_address, request_only, server_for


def test_the_server_follows_the_thread_count_unless_chosen() -> None:
    assert server_for(threads=4, choice="") == "granian"
    assert server_for(threads=1, choice="") == "gunicorn"
    assert server_for(threads=4, choice="gunicorn") == "gunicorn"
    assert server_for(threads=1, choice="granian") == "granian"


@pytest.mark.parametrize(("bind", "expected"), [
    ("127.0.0.1:8000", {"address": "127.0.0.1", "port": 8000}),
    ("[::1]:8080", {"address": "::1", "port": 8080}),
    ("unix:/run/vinex.sock", {"uds": Path("/run/vinex.sock")}),
])
def test_gunicorn_bind_forms_are_understood_for_granian(bind: str, expected: dict[str, object]) -> None:
    assert granian_address(bind) == expected


def test_a_bind_without_a_port_is_refused() -> None:
    with pytest.raises(CommandError):
        granian_address("localhost")


def test_a_request_does_not_see_the_servers_environment() -> None:
    seen: dict[str, object] = {}

    def app(environ: dict[str, object], start_response: object) -> list[bytes]:
        seen.update(environ)
        return [b""]

    inherited = ["VINEX_SECRET_KEY", "TWILIO_AUTH_TOKEN", "HTTP_PROXY", "PATH"]
    environ = {"VINEX_SECRET_KEY": "s3cret", "TWILIO_AUTH_TOKEN": "t0ken", "HTTP_PROXY": "http://evil", "PATH": "/bin",
               "REQUEST_METHOD": "GET", "PATH_INFO": "/healthz", "HTTP_HOST": "vinex.example.org",
               "wsgi.url_scheme": "https"}
    request_only(app, inherited)(environ, None)
    assert seen == {"REQUEST_METHOD": "GET", "PATH_INFO": "/healthz", "HTTP_HOST": "vinex.example.org",
                    "wsgi.url_scheme": "https"}


@contextlib.contextmanager
def _serve(tmp_path: Path, threads: int) -> Iterator[tuple[subprocess.Popen[bytes], str]]:
    port = free_port()
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("VINEX_", "TWILIO_"))}
    env = {**clean, "VINEX_VAR_DIR": str(tmp_path), "VINEX_METRICS_DIR": ""}
    process = subprocess.Popen([sys.executable, "-m", "vinex.cli", "serve", "--bind", f"127.0.0.1:{port}",
                                "--workers", "2", "--threads", str(threads)], env=env, start_new_session=True)
    try:
        yield process, f"http://127.0.0.1:{port}"
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _healthy(base_url: str, timeout: float = 60) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if requests.get(f"{base_url}/healthz", timeout=5).status_code == 200:
                return True
        except requests.RequestException:
            pass
        time.sleep(0.2)
    return False


def _children(pid: int) -> list[int]:
    return [int(p) for p in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _children_when(pid: int, wanted: Callable[[list[int]], bool], timeout: float = 30) -> list[int]:
    """``pid``'s children once ``wanted`` holds of them, or as they are when ``timeout`` runs out."""
    deadline = time.monotonic() + timeout
    while not wanted(found := _children(pid)) and time.monotonic() < deadline:
        time.sleep(0.2)
    return found


@pytest.mark.parametrize("threads", [1, 4], ids=["gunicorn-sync", "granian"])
def test_the_server_answers_replaces_a_dead_process_and_stops_on_sigterm(tmp_path: Path, threads: int) -> None:
    with _serve(tmp_path, threads) as (process, base_url):
        assert _healthy(base_url), "server did not start"
        response = requests.get(f"{base_url}/healthz", timeout=5)
        assert response.json() == {"status": "ok", "database": "ok"}
        assert "Content-Security-Policy" in response.headers

        # One process answering does not mean the other has started yet (on a busy machine it may not have).
        before = _children_when(process.pid, lambda found: len(found) == 2)
        assert len(before) == 2, before
        os.kill(before[0], signal.SIGKILL)
        now = _children_when(process.pid, lambda found: len(found) == 2 and found != before)
        assert len(now) == 2 and before[0] not in now, f"the killed process was not replaced: {before} → {now}"
        assert _healthy(base_url)

        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=40) == 0
