"""The linkage app's periodic jobs (run by ``vinex scheduler``)."""

from __future__ import annotations

from datetime import timedelta

from vinex.core.jobs import Job
from vinex.linkage.services import pending_link

JOBS = [
    # Ingest links by the deterministic rules at once and queues its subjects; the model scores them
    # here, a few seconds later, outside the agencies' write transactions.
    Job(name="linkage.pending", run=pending_link, every=timedelta(seconds=5)),
]
