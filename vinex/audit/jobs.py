"""The audit app's periodic jobs (run by ``vinex scheduler``)."""

from __future__ import annotations

from datetime import timedelta

from vinex.audit.failures import failures_summarise
from vinex.audit.services import audit_tick
from vinex.core.jobs import Job

JOBS = [
    # Cheap when nothing is due: it signs only when entries have waited VINEX_AUDIT_CHECKPOINT_SECONDS.
    Job(name="audit.checkpoint", run=audit_tick, every=timedelta(seconds=60)),
    # Failed API keys are logged in aggregate: each finished window's count goes in as one summary.
    Job(name="audit.failure_summaries", run=failures_summarise, every=timedelta(seconds=60)),
]
