"""The public form for reporting wrong data about a person found with the locator."""

from __future__ import annotations

from django import forms
from django.utils.translation import gettext_lazy as _

from vinex.privacy.models import ReporterKind, ReportTopic


class DataReportForm(forms.Form):
    """Reporting wrong data about a person found with the locator (``ref`` is the search result's token)."""

    ref = forms.CharField(widget=forms.HiddenInput, max_length=500)
    topic = forms.ChoiceField(label=_("What is wrong?"), choices=ReportTopic.choices, widget=forms.RadioSelect)
    details = forms.CharField(label=_("Tell us more"), max_length=2000,
                              widget=forms.Textarea(attrs={"rows": 5, "maxlength": 2000}),
                              help_text=_("For example: the date you were told, and what is really the case."))
    reporter = forms.ChoiceField(label=_("Who are you?"), choices=ReporterKind.choices, initial=ReporterKind.OTHER)
    reply_to = forms.CharField(label=_("Email or phone for our answer (optional)"), required=False, max_length=254)
