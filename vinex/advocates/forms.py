"""Forms of the advocate pages: every label and message goes through gettext, errors sit next to their field."""

from __future__ import annotations

from typing import Any

from django import forms
from django.utils.translation import gettext_lazy as _

from vinex.advocates import consent
from vinex.advocates.models import ConsentMethod
from vinex.registrations.forms import RegistrationForm
from vinex.registrations.models import Relationship


class AdvocateRegistrationForm(RegistrationForm):
    """The victim's contacts and language, as on the portal, and the consent she gave."""

    case_number = None  # type: ignore[assignment]  # a case number is the victim's own choice, on the portal
    relationship = forms.ChoiceField(
        label=_("Her relationship to the case"), initial=Relationship.VICTIM,
        choices=[(Relationship.VICTIM.value, _("Victim")), (Relationship.FAMILY.value, Relationship.FAMILY.label)],
        error_messages={"invalid_choice": _("Choose one of the listed relationships.")},
    )
    consent_version = forms.CharField(widget=forms.HiddenInput, initial=consent.CURRENT, max_length=32)
    consent_method = forms.ChoiceField(
        label=_("How she gave her consent"), widget=forms.RadioSelect, choices=ConsentMethod.choices,
        error_messages={"required": _("Choose how the victim gave her consent.")},
    )
    consent_given = forms.BooleanField(
        label=_("I read the consent text above to her (or she read it) and she agreed."),
        error_messages={"required": _("Register someone only with her consent.")},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["email"].label = _("Her email address")
        self.fields["sms"].label = _("Her mobile number for text messages")
        self.fields["voice"].label = _("Her phone number for calls")
        self.fields["pin"].help_text = _("Only with a number for calls: 4 digits she chooses and keys in to confirm "
                                         "that she heard a call.")
        self.fields["language"].label = _("Language for her messages")


class CodeForm(forms.Form):
    verification = forms.IntegerField(widget=forms.HiddenInput)
    code = forms.CharField(label=_("Code she reads out"), max_length=12,
                           error_messages={"required": _("Enter the 6-digit code.")})
