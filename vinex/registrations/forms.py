"""Registration forms (portal and hotline): every label and message goes through gettext, errors sit next to
their field."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from vinex.registrations.models import Relationship


class RegistrationForm(forms.Form):
    """Only what is needed to reach someone. Contact values are checked by the registration service."""

    ref = forms.CharField(widget=forms.HiddenInput, max_length=500)
    email = forms.CharField(label=_("Email address"), required=False, max_length=254,
                            widget=forms.EmailInput(attrs={"autocomplete": "email"}))
    sms = forms.CharField(label=_("Mobile number for text messages"), required=False, max_length=40,
                          widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}))
    voice = forms.CharField(label=_("Phone number for calls"), required=False, max_length=40,
                            widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "tel"}))
    pin = forms.CharField(
        label=_("PIN for phone calls"), required=False, max_length=8,
        help_text=_("Only if you give a number for calls: 4 digits you will key in to confirm that you heard a call. "
                    "Then we stop calling about that message."),
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
    )
    language = forms.ChoiceField(label=_("Language for messages"), widget=forms.RadioSelect,
                                 choices=[("en", "English"), ("es", "Español")])
    relationship = forms.ChoiceField(
        label=_("Your relationship to the case (optional)"), required=False,
        choices=[("", _("Prefer not to say")), *Relationship.choices],
        error_messages={"invalid_choice": _("Choose one of the listed relationships.")},
    )
    case_number = forms.CharField(
        label=_("Case number (optional)"), required=False, max_length=64,
        help_text=_("Only if you want us to know it. We do not need it to send you updates."),
        error_messages={"max_length": _("A case number has at most 64 characters.")},
    )

    CONTACT_FIELDS = ("email", "sms", "voice")


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("Code"), max_length=12,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "pattern": "[0-9 ]*"}),
        error_messages={"required": _("Enter the 6-digit code.")},
    )
