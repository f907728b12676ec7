"""The scheduler: each app's jobs run when due, once across several schedulers, and survive crashes and failures."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings as django_settings
from django.core.exceptions import ImproperlyConfigured
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, connections
from django.utils import timezone

from vinex.core.jobs import Job
from vinex.site.models import JobLease
from vinex.site.scheduler import Scheduler, job_lease_claim, job_lease_release, jobs_collect


class Clock:
    """The scheduler's notion of now, moved by the test instead of sleeping."""

    def __init__(self) -> None:
        self.now = timezone.now()

    def __call__(self) -> datetime:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += timedelta(seconds=seconds)


class Counter:
    """A job that counts its runs (and can take its time, or fail)."""

    def __init__(self, *, seconds: float = 0.0, error: Exception | None = None) -> None:
        self.runs: list[datetime] = []
        self.seconds, self.error = seconds, error
        self._lock = threading.Lock()

    def __call__(self, *, now: datetime) -> None:
        with self._lock:
            self.runs.append(now)
        time.sleep(self.seconds)
        if self.error is not None:
            raise self.error


def _lease(name: str) -> JobLease:
    return JobLease.objects.get(name=name)


def test_each_apps_jobs_are_found() -> None:
    names = {job.name for job in jobs_collect()}
    assert {"feeds.events_catch_up", "feeds.health_check", "feeds.pending_departures", "feeds.pull_connectors",
            "audit.checkpoint", "privacy.retention_purge", "core.database_checkpoint",
            "notify.requeue_abandoned"} <= names


def test_a_job_name_declared_twice_stops_the_scheduler_at_start(monkeypatch: pytest.MonkeyPatch) -> None:
    import vinex.audit.jobs

    monkeypatch.setattr(vinex.audit.jobs, "JOBS", [Job(name="feeds.health_check", run=Counter(),
                                                       every=timedelta(minutes=1))])
    with pytest.raises(ImproperlyConfigured, match=r"feeds\.health_check"):
        jobs_collect()


@pytest.mark.django_db(transaction=True)
def test_schedulers_racing_for_a_due_job_run_it_exactly_once() -> None:
    job = Counter(seconds=0.3)
    jobs = [Job(name="test.race", run=job, every=timedelta(hours=1))]
    schedulers = [Scheduler(name=f"s{i}", jobs=jobs) for i in range(6)]
    start = threading.Barrier(len(schedulers))
    ran: list[list[str]] = []

    def race(scheduler: Scheduler) -> None:
        try:
            start.wait()
            ran.append([run.name for run in scheduler.run_pending()])
        finally:
            connections.close_all()

    threads = [threading.Thread(target=race, args=(s,)) for s in schedulers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(job.runs) == 1
    assert sorted(ran) == [[]] * 5 + [["test.race"]]
    lease = _lease("test.race")
    assert lease.last_finished_at is not None and lease.lease_until is None and lease.last_error == ""


def test_a_job_does_not_run_again_before_its_interval(db: None) -> None:
    job, clock = Counter(), Clock()
    jobs = [Job(name="test.every_minute", run=job, every=timedelta(minutes=1))]
    first, second = Scheduler(name="a", jobs=jobs, clock=clock), Scheduler(name="b", jobs=jobs, clock=clock)
    first.run_pending()
    clock.advance(59)
    assert first.run_pending() == [] and second.run_pending() == []
    clock.advance(2)
    assert [run.name for run in second.run_pending()] == ["test.every_minute"]
    assert len(job.runs) == 2
    assert _lease("test.every_minute").owner.startswith("b:")


def test_a_crashed_schedulers_lease_runs_out_and_another_takes_the_job_over(db: None) -> None:
    job, clock = Counter(), Clock()
    hourly = Job(name="test.hourly", run=job, every=timedelta(hours=1))
    survivor = Scheduler(name="survivor", jobs=[hourly], lease_seconds=60, clock=clock)
    survivor.run_pending()  # the first run, long ago
    clock.advance(3600)
    # Another scheduler takes the job and dies before finishing it.
    assert job_lease_claim(job=hourly, owner="crashed:1:run", now=clock.now, lease=timedelta(seconds=60))
    clock.advance(30)
    assert survivor.run_pending() == []  # its lease still holds
    clock.advance(31)
    assert [run.name for run in survivor.run_pending()] == ["test.hourly"]  # not an hour later: the run never ended
    assert len(job.runs) == 2
    # Should the lost scheduler come back, it cannot overwrite what the survivor recorded.
    assert not job_lease_release(name="test.hourly", owner="crashed:1:run", now=clock.now, error="")
    assert _lease("test.hourly").owner.startswith("survivor:")


@pytest.mark.django_db(transaction=True)
def test_a_long_job_keeps_its_lease_while_it_runs() -> None:
    job = Counter(seconds=1.5)
    jobs = [Job(name="test.long", run=job, every=timedelta(hours=1))]
    runner = threading.Thread(target=lambda: _run_and_close(Scheduler(name="a", jobs=jobs, lease_seconds=0.6)))
    runner.start()
    time.sleep(1.0)  # past the first lease: only its renewal keeps others out
    assert Scheduler(name="b", jobs=jobs, lease_seconds=0.6).run_pending() == []
    runner.join(timeout=30)
    assert len(job.runs) == 1
    assert _lease("test.long").lease_until is None


def _run_and_close(scheduler: Scheduler) -> None:
    try:
        scheduler.run_pending()
    finally:
        connections.close_all()


def test_a_failing_job_is_recorded_and_does_not_stop_the_others(db: None, caplog: pytest.LogCaptureFixture) -> None:
    broken, healthy = Counter(error=ValueError("no route to victim@example.org")), Counter()
    clock = Clock()
    jobs = [Job(name="test.broken", run=broken, every=timedelta(minutes=5)),
            Job(name="test.healthy", run=healthy, every=timedelta(minutes=5))]
    scheduler = Scheduler(name="a", jobs=jobs, clock=clock)
    runs = {run.name: run.error for run in scheduler.run_pending()}
    assert len(healthy.runs) == 1 and runs["test.healthy"] == ""
    assert runs["test.broken"].startswith("ValueError in __call__ (test_scheduler.py:")
    lease = _lease("test.broken")
    assert lease.last_error == runs["test.broken"] and "victim" not in lease.last_error
    assert lease.lease_until is None
    assert any(r.getMessage() == "scheduled job failed" and getattr(r, "job", "") == "test.broken"
               for r in caplog.records)
    clock.advance(60)
    assert scheduler.run_pending() == []  # a failed run waits for its interval like any other
    broken.error = None
    clock.advance(241)
    assert {run.name: run.error for run in scheduler.run_pending()} == {"test.broken": "", "test.healthy": ""}
    assert _lease("test.broken").last_error == ""


@pytest.mark.django_db(transaction=True)  # as in production: the SQLite log copy cannot run inside a transaction
def test_once_runs_every_due_job_of_every_app_then_nothing_more() -> None:
    call_command("scheduler", "--once", "--name", "cli")
    leases = JobLease.objects.filter(name__in=[job.name for job in jobs_collect()])
    assert leases.count() == len(jobs_collect())
    assert all(lease.last_finished_at is not None and lease.last_error == "" for lease in leases)
    finished = dict(leases.values_list("name", "last_finished_at"))
    call_command("scheduler", "--once", "--name", "cli")
    assert dict(JobLease.objects.filter(name__in=finished).values_list("name", "last_finished_at")) == finished


@pytest.mark.django_db(transaction=True)
def test_once_exits_with_an_error_when_a_job_failed(monkeypatch: pytest.MonkeyPatch) -> None:
    import vinex.audit.jobs

    monkeypatch.setattr(vinex.audit.jobs, "JOBS", [Job(name="audit.checkpoint", run=Counter(error=OSError()),
                                                       every=timedelta(minutes=1))])
    with pytest.raises(CommandError, match=r"audit\.checkpoint"):
        call_command("scheduler", "--once")
    assert JobLease.objects.filter(name="feeds.health_check", last_error="").exclude(last_finished_at=None).exists()


def _env() -> dict[str, str]:
    db = connection.settings_dict
    if db["ENGINE"].endswith("sqlite3"):
        url = f"sqlite:///{db['NAME']}"
    else:
        url = f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"
    return {**os.environ, "VINEX_DATABASE_URL": url, "VINEX_SECRET_KEY": django_settings.SECRET_KEY,
            "VINEX_FIELD_KEY": ",".join(django_settings.VINEX_FIELD_KEYS), "VINEX_SMS_PROVIDER": "log",
            "VINEX_SCHEDULER_POLL_SECONDS": "0.2"}


def _wait_until(condition: Any, timeout: float = 60.0) -> bool:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if condition():
            return True
        time.sleep(0.1)
    return False


@pytest.mark.django_db(transaction=True)
def test_scheduler_processes_run_the_jobs_and_stop_on_sigterm(tmp_path: Path) -> None:
    names = {job.name for job in jobs_collect()}
    logs = [tmp_path / f"p{i}.log" for i in range(2)]
    outputs = [log.open("wb") for log in logs]
    processes = [subprocess.Popen([sys.executable, "-m", "vinex.cli", "scheduler", "--name", f"p{i}"], env=_env(),
                                  stderr=output) for i, output in enumerate(outputs)]
    try:
        assert _wait_until(lambda: all('"scheduler started"' in log.read_text() for log in logs)), "did not start"
        assert _wait_until(lambda: JobLease.objects.filter(name__in=names).exclude(last_finished_at=None).count()
                           == len(names)), "the schedulers did not run every job"
    finally:
        for process in processes:
            process.send_signal(signal.SIGTERM)
        statuses = [process.wait(timeout=60) for process in processes]
        for output in outputs:
            output.close()
    assert statuses == [0, 0]
    assert all('"scheduler stopped"' in log.read_text() for log in logs)
    assert not JobLease.objects.filter(name__in=names).exclude(last_error="").exists()
