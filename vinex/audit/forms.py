"""The audit search form (GET parameters of the search page)."""

from __future__ import annotations

from django import forms

from vinex.audit.selectors import AuditQuery


class AuditSearchForm(forms.Form):
    actor = forms.CharField(required=False, max_length=100, help_text="e.g. user:42, apikey:ab12cd, public")
    action = forms.CharField(required=False, max_length=32, help_text="e.g. read, update, login_failed")
    object_type = forms.CharField(required=False, max_length=64, help_text="e.g. contact, subject")
    object_id = forms.CharField(required=False, max_length=128)
    date_from = forms.DateField(required=False, label="From (UTC)", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, label="To (UTC)", widget=forms.DateInput(attrs={"type": "date"}))
    purpose = forms.CharField(required=False, max_length=200, help_text="Why you are searching (recorded)")

    def clean(self) -> dict[str, object]:
        data = super().clean() or {}
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            raise forms.ValidationError("The start date is after the end date.")
        return data

    def query(self) -> AuditQuery:
        data = self.cleaned_data
        return AuditQuery(
            actor=data["actor"].strip(), action=data["action"].strip(), object_type=data["object_type"].strip(),
            object_id=data["object_id"].strip(), date_from=data["date_from"], date_to=data["date_to"],
        )
