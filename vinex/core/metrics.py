"""The directory where every vinex process on a host keeps its Prometheus counters.

Counters are kept in memory-mapped files as work happens (prometheus_client's multiprocess mode), so
a scrape adds up a few small files instead of counting rows of the event and notification tables,
and counting costs the request nothing but a few microseconds. Each process writes its own file
(``counter_<pid>.db``); ``/metrics`` on any server of the host adds them all up.

prometheus_client asks for the directory to be wiped before the processes start, so that counters
start again from zero together (a reset Prometheus understands) rather than lose one dead process's
share while the others go on (which Prometheus would read as a reset followed by a huge increase).
The processes of a host (servers, workers, schedulers) start and stop one by one, so the first to
start wipes it only when no process that wrote there is still alive; files of processes that died
while others run are kept (their counts must not drop) until the whole host starts afresh.
"""

from __future__ import annotations

import fcntl
import os
import sys
from pathlib import Path

PROMETHEUS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
_LIVE_PREFIX = "live-"


def _pid_running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True


def _pids_of(folder: Path) -> set[int]:
    """The processes that wrote in ``folder``: ``counter_123.db``, ``histogram_123.db``, ``live-123``."""
    pids = set()
    for path in folder.iterdir():
        stem = path.name.removeprefix(_LIVE_PREFIX) if path.name.startswith(_LIVE_PREFIX) else path.stem
        tail = stem.rsplit("_", 1)[-1]
        if tail.isdigit():
            pids.add(int(tail))
    return pids


def metrics_dir_prepare(*, folder: Path) -> None:
    """Make ``folder`` this process's counter directory: wiped first when no process using it is alive.

    Called from the settings, so every vinex process (server, worker, scheduler, command) takes part,
    before any metric is created. The check and the wipe happen under a lock on the directory, so two
    processes starting at once do not wipe each other's files.
    """
    folder.mkdir(parents=True, exist_ok=True)
    me = os.getpid()
    with open(folder / ".lock", "a") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            others = _pids_of(folder) - {me}
            if not any(_pid_running(pid) for pid in others):
                for path in folder.iterdir():
                    if path.name != ".lock":
                        path.unlink(missing_ok=True)
            # Marks this process as a user of the directory even before it has counted anything.
            (folder / f"{_LIVE_PREFIX}{me}").touch()
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)
    os.environ[PROMETHEUS_DIR_VARIABLE] = str(folder)
    _values_follow_environment()


def _values_follow_environment() -> None:
    """prometheus_client chooses where values live when it is first imported; if something imported it
    before the settings were read, choose again (no metric of ours exists before the settings)."""
    values = sys.modules.get("prometheus_client.values")
    if values is not None:
        values.ValueClass = values.get_value_class()  # type: ignore[attr-defined]
