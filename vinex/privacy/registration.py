"""The one check every registration passes before it becomes active.

Portal, API and hotline registrations all call ``registration_check``; abuse signals (many
registrations from one address, one contact following many people, …) are added here and nowhere
else. Today it refuses registrations for protected people and allows the rest.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum

from vinex.custody.models import Person, Subject
from vinex.notify.models import Contact


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


def registration_check(*, person: Person, contacts: Sequence[Contact], ip_hash: str, channel: str) -> Decision:
    """Whether a registration for ``person`` may become active (allow), waits for review (hold) or not (refuse).

    ``ip_hash`` is a keyed hash of the client address (never the address) and ``channel`` how the
    registration arrived (``web``, ``api``, ``hotline``). The reason is for staff, never for the registrant.
    """
    if Subject.objects.filter(person=person, protected=True).exists():
        return Decision(Outcome.REFUSE, "subject is protected")
    return Decision(Outcome.ALLOW)
