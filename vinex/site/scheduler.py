"""``vinex scheduler``: runs every app's periodic jobs (``<app>/jobs.py``) when they are due.

Any number of schedulers on any number of machines may run at once. Each job has a lease row
(``JobLease``) taken with one conditional UPDATE — free (no lease, or a lease that ran out) and due
(its interval has passed since it last started, or its last run never finished) — so exactly one
scheduler wins, and a job does not start again before its interval. The winner renews the lease
while the job runs and clears it when the job is done; a scheduler that dies mid-job leaves a lease
that runs out, and another scheduler takes the job over. Leases compare the schedulers' clocks, so
keep machines' clocks in sync (a skew well under ``VINEX_SCHEDULER_LEASE_SECONDS`` is harmless).
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import reduce
from importlib import import_module
from operator import or_
from pathlib import Path
from types import TracebackType

from django.apps import apps
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import close_old_connections, connection, connections
from django.db.models import F, Q
from django.utils import timezone
from django.utils.module_loading import module_has_submodule

from vinex.core.jobs import Job
from vinex.site.models import JobLease

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobRun:
    """One run of a job by this scheduler; ``error`` is empty when it succeeded."""

    name: str
    error: str = ""


def jobs_collect() -> list[Job]:
    """Every installed app's ``JOBS`` (from its ``jobs`` module), in ``INSTALLED_APPS`` order.

    Raises ``ImproperlyConfigured`` for an entry that is not a ``Job`` or a name used twice, so a
    mistake stops the scheduler at start-up rather than silently skipping a job.
    """
    found: list[Job] = []
    for app in apps.get_app_configs():
        if not module_has_submodule(app.module, "jobs"):
            continue
        for job in getattr(import_module(f"{app.name}.jobs"), "JOBS", []):
            if not isinstance(job, Job):
                raise ImproperlyConfigured(f"{app.name}.jobs.JOBS holds {job!r}, which is not a Job")
            found.append(job)
    names = [job.name for job in found]
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ImproperlyConfigured(f"periodic jobs declared twice: {', '.join(duplicates)}")
    return found


def _due(job: Job, now: datetime) -> Q:
    """The one rule for "this scheduler may start ``job`` now", as a condition on its lease row."""
    free = Q(lease_until__isnull=True) | Q(lease_until__lte=now)
    rested = Q(last_started_at__isnull=True) | Q(last_started_at__lte=now - job.every)
    # A run that started and never finished died with its scheduler: take it over once the lease ran out.
    abandoned = Q(last_finished_at__isnull=True) | Q(last_finished_at__lt=F("last_started_at"))
    return Q(name=job.name) & free & (rested | abandoned)


def job_leases_ensure(*, jobs: list[Job]) -> None:
    """Create the lease rows of jobs that have none yet (several schedulers may do this at once)."""
    JobLease.objects.bulk_create([JobLease(name=job.name) for job in jobs], ignore_conflicts=True)


def jobs_due(*, jobs: list[Job], now: datetime) -> list[Job]:
    """The jobs that are due and free now, in the given order (a hint: claiming decides)."""
    if not jobs:
        return []
    names = set(JobLease.objects.filter(reduce(or_, (_due(job, now) for job in jobs))).values_list("name", flat=True))
    return [job for job in jobs if job.name in names]


def job_lease_claim(*, job: Job, owner: str, now: datetime, lease: timedelta) -> bool:
    """Take ``job``'s lease for ``owner`` if it is due and free; True only for the one scheduler that won."""
    won = JobLease.objects.filter(_due(job, now)).update(owner=owner, lease_until=now + lease, last_started_at=now)
    return won == 1


def job_lease_renew(*, name: str, owner: str, now: datetime, lease: timedelta) -> bool:
    """Extend a running job's lease; False when ``owner`` no longer holds it."""
    return JobLease.objects.filter(name=name, owner=owner).update(lease_until=now + lease) == 1


def job_lease_release(*, name: str, owner: str, now: datetime, error: str) -> bool:
    """Record the end of a run and free the lease; False when another scheduler had taken the job over."""
    return JobLease.objects.filter(name=name, owner=owner, lease_until__isnull=False).update(
        lease_until=None, last_finished_at=now, last_error=error[:300]) == 1


def _describe(error: Exception) -> str:
    """Where a job failed and with what type of error, without the message: messages quote values at
    hand (an address, a database row), and this text is stored and shown to staff."""
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return type(error).__name__
    last = frames[-1]
    return f"{type(error).__name__} in {last.name} ({Path(last.filename).name}:{last.lineno})"


class _LeaseKeeper:
    """Renews a running job's lease from a thread of its own, every third of the lease, until the job ends."""

    def __init__(self, *, name: str, owner: str, lease: timedelta, clock: Callable[[], datetime]) -> None:
        self.name, self.owner, self.lease, self.clock = name, owner, lease, clock
        self._done = threading.Event()
        self._thread = threading.Thread(target=self._keep, name=f"lease:{name}", daemon=True)

    def __enter__(self) -> _LeaseKeeper:
        self._thread.start()
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None, tb: TracebackType | None) -> None:
        self._done.set()
        self._thread.join()

    def _keep(self) -> None:
        try:
            while not self._done.wait(self.lease.total_seconds() / 3):
                try:
                    kept = job_lease_renew(name=self.name, owner=self.owner, now=self.clock(), lease=self.lease)
                except Exception:  # a busy database: the next renewal may succeed before the lease runs out
                    logger.exception("job lease renewal failed", extra={"job": self.name})
                    continue
                if not kept:
                    logger.warning("job lease lost while the job runs", extra={"job": self.name})
                    return
        finally:
            connections.close_all()  # this thread's own connection, if it opened one


def default_scheduler_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Scheduler:
    """Runs due jobs; ``run_pending`` does one pass, ``run_forever`` passes until ``stopping`` is set."""

    def __init__(
        self,
        *,
        name: str | None = None,
        jobs: list[Job] | None = None,
        lease_seconds: float | None = None,
        clock: Callable[[], datetime] = timezone.now,
    ) -> None:
        self.name = name or default_scheduler_name()
        self.jobs = jobs if jobs is not None else jobs_collect()
        self.lease = timedelta(seconds=lease_seconds or settings.VINEX_SCHEDULER_LEASE_SECONDS)
        self.clock = clock
        self.stopping = threading.Event()
        self._leases_ready = False

    def run_pending(self) -> list[JobRun]:
        """Run, one after the other, every job that is due and that no other scheduler holds.

        A failing job is logged and recorded on its lease row; the others still run. Stops between
        jobs once ``stopping`` is set.
        """
        if not self._leases_ready:
            job_leases_ensure(jobs=self.jobs)
            self._leases_ready = True
        runs = []
        for job in jobs_due(jobs=self.jobs, now=self.clock()):
            if self.stopping.is_set():
                break
            run = self._run(job)
            if run is not None:
                runs.append(run)
        return runs

    def _run(self, job: Job) -> JobRun | None:
        owner = f"{self.name}:{uuid.uuid4().hex[:8]}"
        started = self.clock()
        if not job_lease_claim(job=job, owner=owner, now=started, lease=self.lease):
            return None  # another scheduler was quicker
        error = ""
        with _LeaseKeeper(name=job.name, owner=owner, lease=self.lease, clock=self.clock):
            try:
                job.run(now=started)
            except Exception as failure:  # one job's failure must not stop the others
                error = _describe(failure)
                logger.exception("scheduled job failed", extra={"job": job.name})
                if not connection.in_atomic_block:
                    close_old_connections()  # a connection the job broke is replaced before the release
        if not job_lease_release(name=job.name, owner=owner, now=self.clock(), error=error):
            logger.warning("job was taken over by another scheduler while it ran", extra={"job": job.name})
        seconds = (self.clock() - started).total_seconds()
        logger.debug("scheduled job finished", extra={"job": job.name, "seconds": seconds})
        return JobRun(job.name, error)

    def run_forever(self) -> None:
        logger.info("scheduler started", extra={"scheduler": self.name, "jobs": [job.name for job in self.jobs]})
        while not self.stopping.is_set():
            try:
                self.run_pending()
            except Exception:
                logger.exception("scheduler pass failed")
                close_old_connections()
            self.stopping.wait(settings.VINEX_SCHEDULER_POLL_SECONDS)
        logger.info("scheduler stopped", extra={"scheduler": self.name})
