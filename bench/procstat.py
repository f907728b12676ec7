"""CPU time of a benchmark's child processes, read from ``/proc`` (Linux).

A service is a process group (``vinex serve`` is a gunicorn master with its worker processes), so its CPU
time is the sum over the live processes descended from its first process. Reading it before and after a
measured phase gives the CPU seconds that phase cost, which is less sensitive to a busy machine than
latency: CPU seconds ÷ requests is the cost of one request.
"""

from __future__ import annotations

import os
from pathlib import Path

_TICKS = os.sysconf("SC_CLK_TCK")


def _stat(pid: int) -> tuple[int, float] | None:
    """(parent pid, user + system CPU seconds) of a live process, or None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may hold spaces and parentheses: split after its closing parenthesis.
    fields = text[text.rindex(")") + 2 :].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _TICKS


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds one process has used so far (0 when it is gone)."""
    found = _stat(pid)
    return found[1] if found is not None else 0.0


def tree_cpu_seconds(root: int) -> dict[int, float]:
    """CPU seconds used so far by ``root`` and each live process descended from it, by pid."""
    stats = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            found = _stat(int(entry.name))
            if found is not None:
                stats[int(entry.name)] = found
    members = {root}
    grew = True
    while grew:
        grew = False
        for pid, (parent, _) in stats.items():
            if parent in members and pid not in members:
                members.add(pid)
                grew = True
    return {pid: stats[pid][1] for pid in members if pid in stats}


def cpu_used(before: dict[int, float], after: dict[int, float]) -> dict[int, float]:
    """CPU seconds each process used between two readings (a process started since counts from zero)."""
    return {pid: seconds - before.get(pid, 0.0) for pid, seconds in after.items()}
