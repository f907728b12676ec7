"""The notify app's periodic jobs (run by ``vinex scheduler``; the worker itself only claims, sends, records)."""

from __future__ import annotations

from datetime import timedelta

from vinex.core.jobs import Job
from vinex.notify.worker import notifications_release_stale

JOBS = [
    # A worker that died mid-send leaves rows in "sending"; once their short lease has run out (no
    # heartbeat) they go back to the queue for any worker to take (at-least-once delivery). Live workers
    # do this too before they claim; this job covers the time when no worker is running.
    Job(name="notify.requeue_abandoned", run=notifications_release_stale, every=timedelta(seconds=5)),
]
