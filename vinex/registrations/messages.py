"""Texts of the messages the portal sends: one-time codes and the confirmation with the manage link."""

from __future__ import annotations

from dataclasses import dataclass

from django.utils import translation
from django.utils.translation import gettext as _

from vinex.notify.messages import gsm7_fold


@dataclass(frozen=True)
class Text:
    subject_line: str
    body: str


def code_message(*, code: str, minutes: int, channel: str, language: str) -> Text:
    """The one-time code, in the registrant's language."""
    if channel == "voice":
        # Spoken one digit at a time, and twice, so it can be written down.
        spoken = ", ".join(code)
        code = f"{spoken}. {spoken}"
    with translation.override(language):
        subject = _("Your vinex code")
        body = _(
            "Your vinex code is %(code)s. It expires in %(minutes)s minutes. "
            "If you did not ask for it, you can ignore this message."
        ) % {"code": code, "minutes": minutes}
    return Text(subject, gsm7_fold(body) if channel == "sms" else body)


def confirmation_message(*, name: str, manage_url: str, channel: str, language: str) -> Text:
    """Tells the registrant they are registered and how to see or withdraw the registration."""
    with translation.override(language):
        subject = _("You are registered for custody updates")
        if channel == "sms":
            body = gsm7_fold(
                _("vinex: You will get updates about %(name)s. To manage or stop them: %(url)s")
                % {"name": name, "url": manage_url}
            )
        else:
            body = "\n\n".join([
                _("You are now registered for updates about %(name)s. We will tell you when their custody "
                  "status changes.") % {"name": name},
                _("To see your registration or to stop these messages, open this link:") + f"\n{manage_url}",
                _("Keep this link to yourself: anyone who has it can change your registration."),
            ])
    return Text(subject, body)
