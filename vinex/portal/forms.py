"""The portal's forms: every label and message goes through gettext, errors sit next to their field."""

from __future__ import annotations

from datetime import date
from typing import Any

from babel import Locale
from django import forms
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from vinex.custody.schemas import iso_country_codes, normalise_a_number
from vinex.locator.selectors import ByANumber, ByBooking, ByName, LocatorQuery, agency_choices
from vinex.portal.models import Relationship
from vinex.privacy.models import ReporterKind, ReportTopic

NAME_MAX = 100


def country_choices() -> list[tuple[str, str]]:
    """ISO country codes with their names in the active language, sorted by name."""
    locale = Locale.parse(translation.get_language() or "en", sep="-")
    names = {code: str(locale.territories.get(code, code)) for code in iso_country_codes()}
    return [("", str(_("Choose a country"))), *sorted(names.items(), key=lambda item: item[1])]


class CountryField(forms.ChoiceField):
    def __init__(self, **kwargs: Any) -> None:
        super().__init__(choices=country_choices, label=_("Country of birth"), **kwargs)
        self.error_messages["invalid_choice"] = _("Choose a country from the list.")


class SearchForm(forms.Form):
    """Base for the three kinds of search; ``query()`` builds the locator query from clean data."""

    kind = ""

    def query(self) -> LocatorQuery:
        raise NotImplementedError


class ANumberSearchForm(SearchForm):
    kind = "a_number"
    a_number = forms.CharField(
        label=_("A-number"), max_length=20,
        help_text=_("The 9-digit Alien Registration Number, e.g. A123456789."),
        error_messages={"required": _("Enter the A-number.")},
    )
    country_of_birth = CountryField(error_messages={"required": _("Choose the country of birth.")})

    def clean_a_number(self) -> str:
        try:
            return normalise_a_number(self.cleaned_data["a_number"])
        except ValueError:
            raise forms.ValidationError(_("An A-number has 9 digits, e.g. A123456789."), code="invalid") from None

    def query(self) -> LocatorQuery:
        return ByANumber(self.cleaned_data["a_number"], self.cleaned_data["country_of_birth"])


class NameSearchForm(SearchForm):
    kind = "name"
    first_name = forms.CharField(label=_("First name"), max_length=NAME_MAX,
                                 error_messages={"required": _("Enter the first name, exactly as it is written.")})
    last_name = forms.CharField(label=_("Last name"), max_length=NAME_MAX,
                                error_messages={"required": _("Enter the last name, exactly as it is written.")})
    country_of_birth = CountryField(error_messages={"required": _("Choose the country of birth.")})
    date_of_birth = forms.DateField(
        label=_("Date of birth (optional)"), required=False, widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": _("Enter a date such as 1980-05-17.")},
    )

    def clean_date_of_birth(self) -> date | None:
        born: date | None = self.cleaned_data.get("date_of_birth")
        if born and born > timezone.localdate():
            raise forms.ValidationError(_("The date of birth cannot be in the future."), code="future")
        return born

    def query(self) -> LocatorQuery:
        data = self.cleaned_data
        return ByName(data["first_name"], data["last_name"], data["country_of_birth"], data.get("date_of_birth"))


class BookingSearchForm(SearchForm):
    kind = "booking"
    agency = forms.ChoiceField(label=_("Agency"), choices=lambda: [("", _("Choose an agency")), *agency_choices()],
                               error_messages={"required": _("Choose the agency."),
                                               "invalid_choice": _("Choose an agency from the list.")})
    booking_number = forms.CharField(label=_("Booking number"), max_length=32,
                                     error_messages={"required": _("Enter the booking number.")})

    def query(self) -> LocatorQuery:
        return ByBooking(self.cleaned_data["agency"], self.cleaned_data["booking_number"])


SEARCH_FORMS: dict[str, type[SearchForm]] = {f.kind: f for f in (ANumberSearchForm, NameSearchForm, BookingSearchForm)}


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


class DataReportForm(forms.Form):
    """Reporting wrong data about a person found with the locator (``ref`` is the search result's token)."""

    ref = forms.CharField(widget=forms.HiddenInput, max_length=500)
    topic = forms.ChoiceField(label=_("What is wrong?"), choices=ReportTopic.choices, widget=forms.RadioSelect)
    details = forms.CharField(label=_("Tell us more"), max_length=2000,
                              widget=forms.Textarea(attrs={"rows": 5, "maxlength": 2000}),
                              help_text=_("For example: the date you were told, and what is really the case."))
    reporter = forms.ChoiceField(label=_("Who are you?"), choices=ReporterKind.choices, initial=ReporterKind.OTHER)
    reply_to = forms.CharField(label=_("Email or phone for our answer (optional)"), required=False, max_length=254)
