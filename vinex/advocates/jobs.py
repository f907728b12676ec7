"""The advocates app's periodic jobs (run by ``vinex scheduler``)."""

from __future__ import annotations

from datetime import datetime, timedelta

from vinex.advocates.services import escalations_raise
from vinex.audit.unit import Actor
from vinex.core.jobs import Job


def escalate(*, now: datetime) -> None:
    escalations_raise(now=now, actor=Actor.system("scheduler:advocates.escalate"))


JOBS = [
    # Escalation waits VINEX_ESCALATION_MINUTES (30 by default): a minute's lateness on top is noise.
    Job(name="advocates.escalate", run=escalate, every=timedelta(seconds=60)),
]
