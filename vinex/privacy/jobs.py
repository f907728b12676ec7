"""The privacy app's periodic jobs (run by ``vinex scheduler``)."""

from __future__ import annotations

from datetime import timedelta

from vinex.core.jobs import Job
from vinex.privacy.retention import retention_purge

JOBS = [
    Job(name="privacy.retention_purge", run=retention_purge, every=timedelta(days=1)),
]
