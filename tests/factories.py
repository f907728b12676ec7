"""Small helpers that set up registrants the way the services do (no fixtures files)."""

from __future__ import annotations

from tests.actors import ACTOR
from vinex.custody.models import Agency, Subject
from vinex.notify.models import Registrant, SubscriptionStatus, Tier
from vinex.notify.services import contact_add, registrant_create, subscription_create


def subscribe(agency: Agency, subject_id: str = "S-1", *, email: str | None = None, sms: str | None = None,
              language: str = "en", tier: str = Tier.PUBLIC) -> Registrant:
    """A registrant with verified contacts following the subject (which must exist)."""
    subject = Subject.objects.get(agency=agency, agency_subject_id=subject_id)
    registrant = registrant_create(actor=ACTOR, language=language)
    if email:
        contact_add(actor=ACTOR, registrant=registrant, channel="email", value=email, verified=True)
    if sms:
        contact_add(actor=ACTOR, registrant=registrant, channel="sms", value=sms, verified=True)
    subscription_create(actor=ACTOR,
                        registrant=registrant, person=subject.person, tier=tier, status=SubscriptionStatus.ACTIVE)
    return registrant
