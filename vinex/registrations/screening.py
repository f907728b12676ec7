"""The one check every registration passes before it becomes active.

Portal, API and hotline registrations all call ``registration_check``; abuse signals (many
registrations from one address, one contact following many people, …) are added here and nowhere
else. It holds for a privacy officer registrations for protected people and those that look like tracking
(a contact that is the followed person's own, one contact following many people, many registrations
from one address, a client that swept the locator, a search made by one client and the registration by
another), and allows the rest. It also caps how many one-time codes go to one destination and to one
country (SMS pumping: a fraudster makes us text premium numbers and shares their fee).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

import phonenumbers
from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from vinex.custody.contacts import is_own_contact
from vinex.custody.models import Person, Subject
from vinex.locator.ratelimit import rate_limit_check
from vinex.locator.selectors import people_looked_up
from vinex.notify.models import Contact, Subscription, SubscriptionStatus
from vinex.policy.crypto import blind_index
from vinex.registrations.models import ContactVerification, Registration

logger = logging.getLogger(__name__)

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
    search_client: str = "",
) -> Decision:
    """Whether a registration for ``person`` may become active (allow), waits for review (hold) or not (refuse).

    ``ip_hash`` is a keyed hash of the client address (never the address) and ``channel`` how the
    registration arrived (``web``, ``api``, ``hotline``, ``ivr``, ``advocate``); ``locator_client`` names the same
    client in the locator's audit entries, ``search_client`` the client whose search result was used (from the
    ``subject_ref``) and ``started_at`` is when the registration began. The reason is for staff, never for
    the registrant.
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
    if search_client and locator_client and search_client != locator_client:
        return Decision(Outcome.HOLD, "the person was looked up by one client and registered for by another")
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
    """How many other people the same addresses or numbers follow, across every registrant.

    ``alice+1@…`` and ``alice+2@…`` reach one inbox, and text and calls to one number reach one phone:
    each counts as one contact (``contact_identity``).
    """
    indexes = [c.value_index for c in contacts]
    identities = [contact_identity(c.channel, c.value) for c in contacts]
    same_inbox = ContactVerification.objects.filter(identity_index__in=identities).values("contact_id")
    owners = Contact.objects.filter(Q(value_index__in=indexes) | Q(pk__in=same_inbox)).values("registrant_id")
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


def contact_identity(channel: str, value: str) -> str:
    """A keyed digest naming whoever a normalised contact reaches: one phone for its text and call
    channels, one mailbox for ``alice+anything@example.org``."""
    if channel == "email":
        local, _at, domain = value.lower().rpartition("@")
        return blind_index(f"identity:email:{local.split('+', 1)[0]}@{domain}")
    return blind_index(f"identity:phone:{value}")


def code_send_allowed(*, channel: str, value: str) -> bool:
    """Count one one-time code to this destination; False when the destination or its country has had its
    share (``VINEX_CODE_DESTINATION_RATE``, ``VINEX_CODE_COUNTRY_RATE``): the code is then not sent."""
    identity = contact_identity(channel, value)
    refused = rate_limit_check(key=f"code:to:{identity}", rate=settings.VINEX_CODE_DESTINATION_RATE)
    if channel != "email":
        country = _phone_country(value)
        refused = rate_limit_check(key=f"code:country:{country}", rate=settings.VINEX_CODE_COUNTRY_RATE) or refused
    if refused:
        logger.warning("one-time code not sent: a cap was reached", extra={"channel": channel})
    return refused is None


def _phone_country(value: str) -> str:
    try:
        return phonenumbers.region_code_for_number(phonenumbers.parse(value)) or "ZZ"
    except phonenumbers.NumberParseException:
        return "ZZ"
