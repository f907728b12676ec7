"""Provider back-pressure with the real Twilio SDK against a fake Twilio on loopback: a 429 is waited out,
repeated 5xx open a circuit breaker shared through the database, the operator hears of it, and a probe
closes it again; /metrics shows both."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest

from tests.actors import ACTOR
from tests.conftest import event
from tests.custody.test_services import ingest
from tests.factories import subscribe
from tests.notify.test_worker import Clock
from tests.site.scraping import sample, scrape_token  # noqa: F401  (a fixture)
from tests.support.twilio_fake import FakeTwilio
from vinex.custody.models import Agency
from vinex.feeds.services import feed_alert_recipient_add
from vinex.notify.channels import channels_build
from vinex.notify.models import BreakerState, DeliveryAttempt, Notification, NotificationStatus, ProviderBreaker
from vinex.notify.worker import Worker

pytestmark = [pytest.mark.usefixtures("scrape_token")]

SMS = "+1 202 555 01{:02d}"


@pytest.fixture
def five_subscribers(agency: Agency) -> Agency:
    ingest(agency, *[event(f"b{n}", "BOOKED", subject=f"S-{n}") for n in range(5)])
    for n in range(5):
        subscribe(agency, f"S-{n}", sms=SMS.format(n))
    ingest(agency, *[event(f"r{n}", "RELEASED", subject=f"S-{n}", minutes=5) for n in range(5)])
    return agency


def sms_rows() -> list[Notification]:
    return list(Notification.objects.filter(channel="sms", template__startswith="event/"))


def test_a_429_is_waited_out_for_the_whole_account(five_subscribers: Agency, twilio_settings: FakeTwilio) -> None:
    twilio_settings.throttle_next, twilio_settings.retry_after = 1, "40"
    clock = Clock()
    worker = Worker(channels=channels_build(), threads=1, clock=clock)
    worker.run_once()
    # Only the refused request went out: the rest of the round waited with it, and nothing failed.
    assert twilio_settings.requests == 1 and twilio_settings.messages == []
    rows = sms_rows()
    assert {n.status for n in rows} == {NotificationStatus.QUEUED}
    assert {n.attempts for n in rows} == {0} and not DeliveryAttempt.objects.exists()
    assert min(n.next_attempt_at for n in rows) >= clock.now + timedelta(seconds=39)
    assert sample("vinex_provider_backoff_seconds", provider="twilio:000000") > 30
    assert sample("vinex_notification_deferrals_total", channel="sms", reason="throttled") >= 1
    clock.advance(20)
    assert worker.run_once() == 0 and twilio_settings.requests == 1  # still waiting, not even claimed
    clock.advance(21)
    while worker.run_once():
        pass
    assert len(twilio_settings.messages) == 5
    assert {n.status for n in sms_rows()} == {NotificationStatus.SENT}
    assert {n.attempts for n in sms_rows()} == {1}


def test_repeated_5xx_open_the_breaker_alert_the_operator_and_a_probe_closes_it(
        five_subscribers: Agency, twilio_settings: FakeTwilio, settings: Any) -> None:
    settings.VINEX_BREAKER_FAILURES, settings.VINEX_BREAKER_COOLDOWN_SECONDS = 2, 60
    settings.VINEX_RETRY_BASE_SECONDS = 1
    feed_alert_recipient_add(value="ops@vinex.example.org", actor=ACTOR)  # the vinex operator
    feed_alert_recipient_add(value="jail-it@pine.example.org", actor=ACTOR, agency=five_subscribers)
    twilio_settings.fail_next = 1000
    clock = Clock()
    worker = Worker(channels=channels_build(), threads=1, batch=1, clock=clock)
    for _ in range(5):
        worker.run_once()
        clock.advance(2)  # past each retry's backoff, well within the cool-down
    # Two faults opened it; after that no request reached Twilio, and the rest of the messages wait queued.
    assert twilio_settings.requests == 2
    breaker = ProviderBreaker.objects.get()
    assert breaker.state == BreakerState.OPEN and breaker.consecutive_failures == 2
    assert sample("vinex_provider_breaker_state", provider="twilio:000000") == 1.0
    # The operator hears of it; the agency's feed contact, who can do nothing about a provider, does not.
    [alert] = Notification.objects.filter(template="provider_breaker")
    assert alert.contact.value == "ops@vinex.example.org"
    assert alert.subject_line == "vinex: twilio (000000) sends paused" and "failed 2 times in a row" in alert.body
    assert Notification.objects.filter(channel="sms", status=NotificationStatus.FAILED_PERMANENT).count() == 0

    # Still failing when the cool-down ends: one probe, and the breaker opens again.
    clock.advance(60)
    worker.run_once()
    assert twilio_settings.requests == 3 and ProviderBreaker.objects.get().state == BreakerState.OPEN

    # Twilio is back: the next probe closes the breaker, the operator hears so, and everything goes out.
    twilio_settings.fail_next = 0
    clock.advance(61)
    for _ in range(20):
        worker.run_once()
        clock.advance(2)
    assert ProviderBreaker.objects.get().state == BreakerState.CLOSED
    assert sample("vinex_provider_breaker_state", provider="twilio:000000") == 0.0
    assert len(twilio_settings.messages) == 5
    assert {n.status for n in sms_rows()} == {NotificationStatus.SENT}
    assert Notification.objects.filter(template="provider_breaker", subject_line__endswith="resumed").count() == 1


def test_a_bad_number_does_not_count_against_the_provider(agency: Agency, twilio_settings: FakeTwilio,
                                                          settings: Any) -> None:
    from tests.support.twilio_fake import INVALID_NUMBER

    settings.VINEX_BREAKER_FAILURES = 1
    ingest(agency, event("b1", "BOOKED"))
    subscribe(agency, sms=INVALID_NUMBER)
    ingest(agency, event("r1", "RELEASED", minutes=5))
    Worker(channels=channels_build(), threads=1).run_once()
    assert not ProviderBreaker.objects.exclude(state=BreakerState.CLOSED).exists()
