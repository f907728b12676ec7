"""The locator's search forms (portal and hotline): every label and message goes through gettext, errors sit
next to their field."""

from __future__ import annotations

from datetime import date
from typing import Any

from babel import Locale
from django import forms
from django.utils import timezone, translation
from django.utils.translation import gettext_lazy as _

from vinex.custody.schemas import iso_country_codes, normalise_a_number
from vinex.locator.selectors import ByANumber, ByBooking, ByName, LocatorQuery, agency_choices

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
    # Booking numbers are often sequential: a second fact keeps anyone from counting through them.
    last_name = forms.CharField(label=_("Last name (or the date of birth below)"), max_length=NAME_MAX, required=False)
    date_of_birth = forms.DateField(
        label=_("Date of birth (or the last name above)"), required=False,
        widget=forms.DateInput(attrs={"type": "date"}),
        error_messages={"invalid": _("Enter a date such as 1980-05-17.")},
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if not (data.get("last_name", "").strip() or data.get("date_of_birth")) and "date_of_birth" not in self.errors:
            self.add_error("last_name", forms.ValidationError(
                _("Enter the last name or the date of birth as well."), code="second_fact"))
        return data

    def query(self) -> LocatorQuery:
        data = self.cleaned_data
        return ByBooking(data["agency"], data["booking_number"], data.get("last_name", "").strip(),
                         data.get("date_of_birth"))


SEARCH_FORMS: dict[str, type[SearchForm]] = {f.kind: f for f in (ANumberSearchForm, NameSearchForm, BookingSearchForm)}


def search_forms(submitted: SearchForm | None = None) -> dict[str, SearchForm]:
    """A blank form of each kind for a staff screen, with the one just submitted (and its errors) in its place."""
    forms = {kind: cls(prefix=kind) for kind, cls in SEARCH_FORMS.items()}
    if submitted is not None:
        forms[submitted.kind] = submitted
    return forms
