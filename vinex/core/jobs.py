"""Periodic jobs: the ``Job`` type every app declares its own with, and core's own job.

An app lists what it needs done on a timetable in ``<app>/jobs.py`` as ``JOBS = [Job(...), ...]``;
``vinex scheduler`` finds those lists and runs each job when it is due, once across all schedulers.
Core defines the type so that any app can declare jobs without importing the scheduler above it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from vinex.core.database import database_tick


class JobFunction(Protocol):
    def __call__(self, *, now: datetime) -> object: ...


@dataclass(frozen=True)
class Job:
    """One periodic job: ``run(now=…)`` is called at most once per ``every``, by one scheduler at a time.

    ``name`` is unique across the project and names the job's lease row, so renaming a job resets its
    timetable. A job must be safe to interrupt (a crashed run is taken over by another scheduler).
    """

    name: str
    run: JobFunction
    every: timedelta

    def __post_init__(self) -> None:
        if not self.name or len(self.name) > 100:
            raise ValueError(f"a job needs a name of 1 to 100 characters, got {self.name!r}")
        if self.every <= timedelta(0):
            raise ValueError(f"job {self.name} must run at a positive interval")


JOBS = [
    # Only SQLite has a write-ahead log to copy back; the job does nothing on PostgreSQL.
    Job(name="core.database_checkpoint", run=database_tick, every=timedelta(seconds=30)),
]
