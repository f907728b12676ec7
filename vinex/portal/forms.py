"""The forms of "My registrations": how she wants to be told, and her contacts."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from vinex.notify.models import CallPreference


class PreferencesForm(forms.Form):
    language = forms.ChoiceField(label=_("Language for messages"), widget=forms.RadioSelect,
                                 choices=[("en", "English"), ("es", "Español")])
    call_preference = forms.ChoiceField(
        label=_("Phone calls"), widget=forms.RadioSelect,
        choices=[
            (CallPreference.STANDARD, _("Call me until I confirm with my PIN or reply to the text message")),
            (CallPreference.GENTLE, _("Call me once; if I do not answer, send a text message or email instead")),
            (CallPreference.NONE, _("Never call me; text messages and email only")),
        ],
        error_messages={"invalid_choice": _("Choose one of the listed options.")},
    )


class ContactAddForm(forms.Form):
    channel = forms.ChoiceField(
        label=_("How to reach you"),
        choices=[("email", _("Email")), ("sms", _("Text message")), ("voice", _("Phone call"))],
        error_messages={"invalid_choice": _("Choose email, text message or phone call.")},
    )
    value = forms.CharField(label=_("Email address or phone number"), max_length=254,
                            error_messages={"required": _("Enter an email address or a phone number.")})
    pin = forms.CharField(
        label=_("PIN for phone calls"), required=False, max_length=8,
        help_text=_("Only for a first number for calls: 4 digits you will key in to confirm that you heard a call."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
