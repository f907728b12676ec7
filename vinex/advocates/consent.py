"""The consent an advocate reads to (or gives in writing to) a victim before registering her.

Texts are versioned and never edited once used: a consent record names the version the victim heard.
A change of wording is a new version, and ``CURRENT`` moves to it.
"""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

TEXTS: dict[str, Promise] = {
    "2026-12": _(
        "I agree that my advocate registers me with vinex to be told about the person named here. vinex keeps "
        "only the contacts I give and sends them a code that I must confirm. My advocate's organisation will "
        "see whether its messages reached me, and will be alerted if an urgent one did not. I can stop the "
        "messages at any time with the link I receive, or by replying STOP to a text message."
    ),
}
CURRENT = "2026-12"


def consent_text(version: str = CURRENT) -> Promise:
    """The wording of a consent version (raises ``KeyError`` for a version that never existed)."""
    return TEXTS[version]
