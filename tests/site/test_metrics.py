"""/metrics: counters that move as work happens, an outbox age read from one index entry, a scrape whose
cost does not grow with the tables, and nothing served without the scrape token."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from tests.conftest import event
from tests.custody.test_services import ingest
from tests.factories import subscribe
from tests.site.scraping import metrics_text, sample, scrape_token  # noqa: F401  (a fixture)
from tests.support.smtp import SmtpServer
from vinex.custody.models import Agency, CustodyEvent
from vinex.notify.models import Notification, NotificationStatus
from vinex.notify.worker import Worker

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("scrape_token")]


def post(api: Client, *events: dict[str, Any]) -> dict[str, Any]:
    response = api.post("/api/v1/custody-events", {"events": list(events)}, content_type="application/json")
    assert response.status_code == 200
    return dict(response.json())


def events_counted(outcome: str) -> float:
    return sample("vinex_events_total", outcome=outcome, source="api")


def test_metrics_need_the_scrape_token(client: Client) -> None:
    assert client.get("/metrics").status_code == 404
    assert Client(headers={"Authorization": "Bearer wrong"}).get("/metrics").status_code == 404
    assert "vinex_outbox_oldest_queued_seconds" in metrics_text()


def test_no_token_configured_means_no_metrics_for_anyone(settings: Any) -> None:
    settings.VINEX_METRICS_TOKEN = ""
    assert Client(headers={"Authorization": "Bearer "}).get("/metrics").status_code == 404


def test_events_are_counted_by_outcome_as_the_api_answers(api: Client) -> None:
    before = {outcome: events_counted(outcome) for outcome in ("accepted", "duplicate", "rejected")}

    post(api, event("e1", "BOOKED"), event("e2", "TRANSFERRED", minutes=1, to_facility_code="annex"))
    post(api, event("e1", "BOOKED"))  # sent again
    post(api, event("e3", "BOOKED", facility="nowhere"), {"event_id": "e4", "type": "NOT_A_TYPE"})

    after = {outcome: events_counted(outcome) for outcome in before}
    assert {k: after[k] - before[k] for k in after} == {"accepted": 2, "duplicate": 1, "rejected": 2}


def test_worker_outcomes_and_time_to_hand_off_are_counted(agency: Agency, smtp_settings: SmtpServer,
                                                          settings: Any) -> None:
    ingest(agency, event("b1", "BOOKED"))
    subscribe(agency, email="victim@example.org")
    sent_before = sample("vinex_notification_attempts_total", channel="email", outcome="sent")
    handoffs_before = sample("vinex_event_to_handoff_seconds_count")
    slow_before = sample("vinex_event_to_handoff_seconds_bucket", le="0.05")

    ingest(agency, event("r1", "RELEASED", minutes=5, reason="bond"))
    # Pretend the event arrived two seconds ago: the hand-off then takes at least that long.
    CustodyEvent.objects.filter(event_id="r1").update(received_at=timezone.now() - timedelta(seconds=2))
    assert Worker(threads=1).run_once() == 1
    smtp_settings.inbox.wait_for(1)

    assert sample("vinex_notification_attempts_total", channel="email", outcome="sent") == sent_before + 1
    assert sample("vinex_event_to_handoff_seconds_count") == handoffs_before + 1
    assert sample("vinex_event_to_handoff_seconds_bucket", le="0.05") == slow_before  # not under 50 ms
    assert sample("vinex_event_to_handoff_seconds_sum") >= 2

    failed_before = sample("vinex_notification_attempts_total", channel="email", outcome="failed_transient")
    settings.EMAIL_PORT = SmtpServer().port  # nothing listens there
    assert ingest(agency, event("x1", "BOOKED", minutes=9)) == ["accepted"]  # arrested again
    assert Worker(threads=1).run_once() == 1
    assert sample("vinex_notification_attempts_total", channel="email", outcome="failed_transient") == (
        failed_before + 1)
    assert sample("vinex_event_to_handoff_seconds_count") == handoffs_before + 1  # a failure hands nothing off


def test_oldest_waiting_message_age(agency: Agency) -> None:
    assert sample("vinex_outbox_oldest_queued_seconds") == 0
    ingest(agency, event("b1", "BOOKED"))
    subscribe(agency, email="victim@example.org")
    ingest(agency, event("r1", "RELEASED", minutes=5, reason="bond"))
    now = timezone.now()
    Notification.objects.update(next_attempt_at=now - timedelta(minutes=10))
    waiting = Notification.objects.get()
    # A retry not yet due does not count; one that is due and older does.
    Notification.objects.filter(pk=waiting.pk).update(status=NotificationStatus.FAILED_TRANSIENT,
                                                      next_attempt_at=now + timedelta(hours=1))
    assert sample("vinex_outbox_oldest_queued_seconds") == 0
    Notification.objects.filter(pk=waiting.pk).update(next_attempt_at=now - timedelta(minutes=30))
    assert 1800 <= sample("vinex_outbox_oldest_queued_seconds") < 1900
    Notification.objects.filter(pk=waiting.pk).update(status=NotificationStatus.SENT)
    assert sample("vinex_outbox_oldest_queued_seconds") == 0


def _scrape_queries() -> int:
    with CaptureQueriesContext(connection) as queries:
        metrics_text()
    return len(queries)


def test_a_scrape_does_not_grow_with_the_tables(api: Client, agency: Agency) -> None:
    post(api, event("e0", "BOOKED"))
    subscribe(agency, email="victim@example.org")
    small = _scrape_queries()

    post(api, *[event(f"e{i}", "BOOKED", subject=f"S-{i}") for i in range(1, 300)])
    subscribe(agency, "S-7", email="other@example.org")
    post(api, event("t7", "TRANSFERRED", subject="S-7", minutes=2, to_facility_code="annex"))

    assert _scrape_queries() == small
    text = metrics_text()
    assert "vinex_notifications{" not in text and "vinex_custody_events{" not in text  # the old scanning gauges
