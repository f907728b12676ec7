"""The privacy app's periodic jobs (run by ``vinex scheduler``)."""

from __future__ import annotations

from datetime import datetime, timedelta

from vinex.audit.unit import Actor
from vinex.core.jobs import Job
from vinex.privacy.retention import retention_purge


def purge(*, now: datetime) -> None:
    retention_purge(now=now, actor=Actor.system("scheduler:privacy.retention_purge"))


JOBS = [
    Job(name="privacy.retention_purge", run=purge, every=timedelta(days=1)),
]
