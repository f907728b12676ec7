"""Confirming a registrant's case number, which makes them a verified victim: two people, not one.

A verified victim may learn scheduled release dates and facility details, so the step is worth a second
pair of eyes: a call-centre agent's "case confirmed" is recorded as a first confirmation, and the
registrant becomes a verified victim only when a different person (another agent, or a privacy officer)
confirms too. A privacy officer, who takes the agency's or prosecutor's confirmation, may decide alone.
"Not confirmed" never widens anything and needs one person. The audit log shows both confirmations.
"""

from __future__ import annotations

from enum import StrEnum

from vinex.audit.unit import Actor, audit_unit
from vinex.privacy.models import CaseConfirmation
from vinex.registrations.models import Registration
from vinex.registrations.services import registration_case_decide

PRIVACY_OFFICER = "privacy_officer"


class CaseStep(StrEnum):
    VERIFIED = "verified"
    WAITING_FOR_SECOND = "waiting_for_second"


def case_confirm(*, registration: Registration, actor: Actor) -> CaseStep:
    """Record ``actor``'s confirmation of the case number; the registrant becomes a verified victim when it
    is the second person's (or a privacy officer's). Raises ``ValueError`` when already decided."""
    with audit_unit(actor=actor) as unit:
        registration = Registration.objects.select_for_update().get(pk=registration.pk)
        if registration.case_checked_at is not None:
            raise ValueError("this case number was already checked")
        first = CaseConfirmation.objects.filter(registration=registration).exclude(confirmed_by=actor.ref).first()
        if first is None and actor.role != PRIVACY_OFFICER:
            CaseConfirmation.objects.get_or_create(registration=registration, confirmed_by=actor.ref,
                                                   defaults={"role": actor.role})
            unit.add("verify_case", "registration", registration.public_id, outcome="first_confirmation",
                     purpose="waiting for a second person")
            return CaseStep.WAITING_FOR_SECOND
        registration_case_decide(registration=registration, confirmed=True, actor=actor)
        if first is not None:
            unit.add("verify_case", "registration", registration.public_id, outcome="second_confirmation",
                     purpose=f"first confirmed by {first.confirmed_by} ({first.role})")
    return CaseStep.VERIFIED


def case_first_confirmations(*, registrations: list[Registration]) -> dict[int, str]:
    """Who gave the first confirmation of each of ``registrations`` still waiting for a second person."""
    rows = CaseConfirmation.objects.filter(registration__in=registrations).order_by("at")
    return {row.registration_id: row.confirmed_by for row in rows}
