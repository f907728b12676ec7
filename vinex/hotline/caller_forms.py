"""Forms for helping a caller with an existing registration: every look-up and change needs a reason."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from vinex.notify.models import CallPreference


def _reason_field() -> forms.CharField:
    return forms.CharField(
        label=_("Reason"), max_length=100,
        help_text=_("Why you need this, for the audit log (for example: caller asked what was sent)."),
        error_messages={"required": _("Give a reason: every look-up and change is recorded with it.")},
    )


class FindForm(forms.Form):
    value = forms.CharField(label=_("Caller's phone number or email address"), max_length=254,
                            error_messages={"required": _("Enter the caller's phone number or email address.")})
    reason = _reason_field()


class ReasonForm(forms.Form):
    reason = _reason_field()


class CallerPreferencesForm(forms.Form):
    language = forms.ChoiceField(label=_("Language for messages"), choices=[("en", "English"), ("es", "Español")])
    call_preference = forms.ChoiceField(label=_("Phone calls"), choices=[
        (CallPreference.STANDARD, _("Until confirmed (PIN or text reply)")),
        (CallPreference.GENTLE, _("One call, then a text or email")),
        (CallPreference.NONE, _("No calls")),
    ])
    reason = _reason_field()
