"""The one check every registration passes before it becomes active.

Portal, API and hotline registrations all call ``registration_check``; abuse signals (many
registrations from one address, one contact following many people, …) are added here and nowhere
else. It holds for a privacy officer registrations for protected people and those that look like tracking
(a contact that is the followed person's own, one contact following many people, many registrations
from one address, a client that swept the locator), and allows the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from django.conf import settings
from django.utils import timezone

from vinex.custody.contacts import is_own_contact
from vinex.custody.models import Person, Subject
from vinex.locator.selectors import people_looked_up
from vinex.notify.models import Contact, Subscription, SubscriptionStatus
from vinex.registrations.models import Registration

PROTECTED_REASON = "the person is protected: only a privacy officer may approve"


class Outcome(StrEnum):
    ALLOW = "allow"
    HOLD = "hold"  # a privacy officer decides
    REFUSE = "refuse"


@dataclass(frozen=True)
class Decision:
    outcome: Outcome
    reason: str = ""

    @property
    def allowed(self) -> bool:
        return self.outcome == Outcome.ALLOW


def registration_check(
    *,
    person: Person,
    contacts: Sequence[Contact],
    ip_hash: str,
    channel: str,
    locator_client: str = "",
    started_at: datetime | None = None,
) -> Decision:
    """Whether a registration for ``person`` may become active (allow), waits for review (hold) or not (refuse).

    ``ip_hash`` is a keyed hash of the client address (never the address) and ``channel`` how the
    registration arrived (``web``, ``api``, ``hotline``, ``advocate``); ``locator_client`` names the same client in the
    locator's audit entries and ``started_at`` is when the registration began. The reason is for staff,
    never for the registrant.
    """
    if Subject.objects.filter(person=person, protected=True).exists():
        # Protected people (juveniles, witness protection, court orders) are followed only with a privacy
        # officer's approval, which gives the officer-approved tier.
        return Decision(Outcome.HOLD, PROTECTED_REASON)
    if is_own_contact(person=person, value_indexes=[c.value_index for c in contacts]):
        return Decision(Outcome.HOLD, "a contact given is one the agency holds for the person followed")
    followed = _people_followed_by(contacts, besides=person)
    if followed >= settings.VINEX_ABUSE_MAX_PEOPLE_PER_CONTACT:
        return Decision(Outcome.HOLD, f"a contact already follows {followed} other people")
    # Call-centre and advocate registrations share the centre's or the organisation's address and searches.
    if channel in ("hotline", "advocate"):
        return Decision(Outcome.ALLOW)
    recent = _registrations_from(ip_hash)
    if recent > settings.VINEX_ABUSE_MAX_REGISTRATIONS_PER_ADDRESS:
        return Decision(Outcome.HOLD, f"{recent} registrations from one address in 24 hours")
    if locator_client:
        since = (started_at or timezone.now()) - timedelta(hours=24)
        looked_up = people_looked_up(client_ref=locator_client, since=since)
        if looked_up > settings.VINEX_ABUSE_MAX_PEOPLE_LOOKED_UP:
            return Decision(Outcome.HOLD, f"the same client looked up {looked_up} different people in 24 hours")
    return Decision(Outcome.ALLOW)


def _people_followed_by(contacts: Sequence[Contact], *, besides: Person) -> int:
    """How many other people the same addresses or numbers follow, across every registrant."""
    indexes = [c.value_index for c in contacts]
    owners = Contact.objects.filter(value_index__in=indexes).values("registrant_id")
    return (
        Subscription.objects.filter(registrant_id__in=owners)
        .exclude(status=SubscriptionStatus.WITHDRAWN)
        .exclude(person=besides)
        .values("person_id")
        .distinct()
        .count()
    )


def _registrations_from(ip_hash: str) -> int:
    since = timezone.now() - timedelta(hours=24)
    return Registration.objects.filter(ip_hash=ip_hash, created_at__gte=since).count()
