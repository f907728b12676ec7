"""What staff screens (call centre, advocates) say after a code is checked or sent again.

One set of words for every screen that checks codes on a victim's behalf, so the call centre and an
advocate read the same answer for the same outcome.
"""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy

from vinex.registrations.services import Check

CHECK_MESSAGES: dict[Check, Promise] = {
    Check.VERIFIED: gettext_lazy("The code is right; other contacts still wait for theirs."),
    Check.ACTIVE: gettext_lazy("The code is right and the registration is active."),
    Check.HELD: gettext_lazy("The code is right; the registration waits for a privacy review."),
    Check.REFUSED: gettext_lazy("The code is right, but this registration cannot be accepted."),
    Check.WRONG: gettext_lazy("That code is not right."),
    Check.EXPIRED: gettext_lazy("That code has expired; send a new one."),
    Check.LOCKED: gettext_lazy("Too many wrong codes; send a new one."),
    Check.CLOSED: gettext_lazy("This registration no longer waits for codes."),
}

RESEND_MESSAGES: dict[str, Promise] = {
    "sent": gettext_lazy("A new code is on its way."),
    "too_soon": gettext_lazy("Wait a minute before sending another code."),
    "limit_reached": gettext_lazy("No more codes can be sent to this contact."),
    "not_needed": gettext_lazy("This contact needs no code."),
}
