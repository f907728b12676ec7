"""The privacy app's periodic jobs (run by ``vinex scheduler``)."""

from __future__ import annotations

from datetime import datetime, timedelta

from vinex.audit.unit import Actor
from vinex.core.jobs import Job
from vinex.privacy.misuse import misuse_scan
from vinex.privacy.retention import retention_purge


def purge(*, now: datetime) -> None:
    retention_purge(now=now, actor=Actor.system("scheduler:privacy.retention_purge"))


def misuse(*, now: datetime) -> None:
    misuse_scan(now=now, actor=Actor.system("scheduler:privacy.misuse_scan"))


JOBS = [
    Job(name="privacy.retention_purge", run=purge, every=timedelta(days=1)),
    # Each scan looks back VINEX_MISUSE_SCAN_HOURS; hourly runs overlap, and a hit seen again opens nothing.
    Job(name="privacy.misuse_scan", run=misuse, every=timedelta(hours=1)),
]
