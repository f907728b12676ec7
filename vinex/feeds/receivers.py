"""Operational alerts raised below the feeds app, delivered to the people it knows: the alert recipients."""

from __future__ import annotations

from typing import Any

from django.dispatch import receiver

from vinex.audit.unit import Actor
from vinex.feeds.models import FeedAlertRecipient
from vinex.notify.breaker import provider_alert
from vinex.notify.services import notification_enqueue_direct

_BREAKER_ACTOR = Actor.system("provider_breaker")


@receiver(provider_alert)
def provider_alert_deliver(*, provider: str, subject_line: str, body: str, **_: Any) -> None:
    """A provider's sends paused or resumed: tell the vinex operator's recipients (those of no agency) by
    email and SMS, through the outbox like any message. One with a phone number hears of an SMTP outage
    at once; the email waits for the outage to end. Agencies' own feed contacts are not told: a provider
    outage is nothing they can act on."""
    recipients = FeedAlertRecipient.objects.filter(agency__isnull=True, contact__channel__in=["email", "sms"],
                                                   contact__registrant__withdrawn_at__isnull=True)
    for recipient in recipients.select_related("contact__registrant"):
        if recipient.contact.reachable:
            notification_enqueue_direct(contact=recipient.contact, template="provider_breaker", body=body,
                                        subject_line=subject_line, language=recipient.contact.registrant.language,
                                        actor=_BREAKER_ACTOR)
