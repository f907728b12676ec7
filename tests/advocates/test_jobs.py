"""The escalation job as the scheduler runs it."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from tests.advocates.helpers import advocate, organisation, register_victim
from tests.locator.people import book, ingest
from vinex.advocates.jobs import JOBS
from vinex.advocates.models import Escalation
from vinex.custody.models import Agency
from vinex.registrations.services import ContactIn
from vinex.site.scheduler import Scheduler, jobs_collect

pytestmark = pytest.mark.django_db


def test_the_scheduler_finds_the_escalation_job() -> None:
    assert "advocates.escalate" in {job.name for job in jobs_collect()}


def test_a_release_queued_and_never_sent_is_escalated_by_the_scheduler(agency: Agency, settings: Any) -> None:
    settings.VINEX_ESCALATION_MINUTES = 30
    org = organisation("harbor", agency)
    register_victim(advocate("ada", org), org, book(agency, "S-1"), ContactIn("sms", "+1 202 555 0143"))
    ingest(agency, {"event_id": "esc-1", "type": "ESCAPED", "facility_code": "main",
                    "occurred_at": timezone.now().isoformat(),
                    "subject": {"agency_subject_id": "S-1", "first_name": "María José", "last_name": "García Núñez"}})
    later = timezone.now() + timedelta(minutes=31)
    runs = Scheduler(name="test", jobs=list(JOBS), clock=lambda: later).run_pending()
    assert [(run.name, run.error) for run in runs] == [("advocates.escalate", "")]
    assert Escalation.objects.get().channels == "sms"
