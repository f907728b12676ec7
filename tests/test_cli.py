"""The ``vinex`` command as an operator runs it: through a pipe, a log file or a service manager."""

from __future__ import annotations

import os
import selectors
import subprocess
import sys
from pathlib import Path

# What `vinex up` does: a management command writes a line, then keeps running.
_PRINT_THEN_RUN = (
    "from django.core.management.base import BaseCommand; import time; "
    "BaseCommand().stdout.write('vinex is running'); time.sleep(120)"
)


def _vinex() -> list[str]:
    script = Path(sys.executable).parent / "vinex"
    return [str(script)] if script.exists() else [sys.executable, "-m", "vinex.cli"]


def _first_line(process: subprocess.Popen[bytes], *, timeout: float) -> bytes:
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            return b""
    return process.stdout.readline()


def test_a_running_command_s_output_reaches_a_pipe_before_it_exits() -> None:
    # As on an operator's machine: Python left to buffer a pipe in blocks unless told otherwise.
    env = {name: value for name, value in os.environ.items() if name != "PYTHONUNBUFFERED"}
    process = subprocess.Popen([*_vinex(), "shell", "--no-imports", "-c", _PRINT_THEN_RUN], stdout=subprocess.PIPE,
                               env=env)
    try:
        line = _first_line(process, timeout=30)
        still_running = process.poll() is None
    finally:
        process.kill()
        process.wait()
    assert line == b"vinex is running\n"
    assert still_running
