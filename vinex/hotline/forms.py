"""The console's forms. None asks for immigration status, nationality or address, and none may."""

from __future__ import annotations

from typing import Any

from django import forms
from django.conf import settings
from django.utils.translation import gettext_lazy as _

from vinex.hotline.models import CallbackOutcome, CallOutcome
from vinex.notify.models import Language
from vinex.registrations.forms import RegistrationForm

TIMEZONES = (
    "America/New_York", "America/Chicago", "America/Denver", "America/Phoenix", "America/Los_Angeles",
    "America/Anchorage", "Pacific/Honolulu", "America/Puerto_Rico", "America/Mexico_City", "America/Guatemala",
    "America/El_Salvador", "America/Tegucigalpa",
)


def _notes_field(label: Any) -> forms.CharField:
    limit = settings.VINEX_HOTLINE_NOTES_MAX
    return forms.CharField(
        label=label, required=False, max_length=limit,
        help_text=_("Personal data: only what the caller agreed to, never immigration status, nationality or "
                    "address. At most %(limit)s characters.") % {"limit": limit},
        widget=forms.Textarea(attrs={"rows": 4, "maxlength": limit}),
        error_messages={"max_length": _("Notes are limited to %(limit_value)s characters.")},
    )


class IntakeForm(forms.Form):
    """What the caller chooses to tell: an optional name, their language, short notes."""

    caller_name = forms.CharField(label=_("Caller's name (optional)"), required=False, max_length=200)
    language = forms.ChoiceField(label=_("Caller's language"), choices=Language.choices, widget=forms.RadioSelect)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["notes"] = _notes_field(_("Notes"))


class HotlineRegistrationForm(RegistrationForm):
    """The portal's registration form, filled in by staff with the caller on the line."""


class CallbackForm(forms.Form):
    due = forms.DateTimeField(
        label=_("Call back at (the caller's local time)"), input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
        widget=forms.DateTimeInput(attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"),
        error_messages={"required": _("Enter the date and time to call back."),
                        "invalid": _("Enter a date and time such as 2026-12-01 14:30.")},
    )
    timezone = forms.ChoiceField(label=_("Caller's time zone"), choices=[(tz, tz) for tz in TIMEZONES])
    phone = forms.CharField(
        label=_("Number to call"), max_length=40,
        widget=forms.TextInput(attrs={"type": "tel", "autocomplete": "off"}),
        error_messages={"required": _("Enter the number to call back.")},
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["notes"] = _notes_field(_("Notes for the callback"))


class CallbackDoneForm(forms.Form):
    outcome = forms.ChoiceField(label=_("Outcome"), choices=CallbackOutcome.choices, widget=forms.RadioSelect,
                                error_messages={"required": _("Choose the outcome of the callback.")})

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fields["notes"] = _notes_field(_("Notes"))


class EndCallForm(forms.Form):
    outcome = forms.ChoiceField(label=_("Outcome of the call"), choices=CallOutcome.choices,
                                error_messages={"required": _("Choose the outcome of the call.")})


class CodeForm(forms.Form):
    verification = forms.IntegerField(widget=forms.HiddenInput)
    code = forms.CharField(
        label=_("Code the caller reads out"), max_length=12,
        widget=forms.TextInput(attrs={"inputmode": "numeric", "autocomplete": "off"}),
        error_messages={"required": _("Enter the 6-digit code.")},
    )
