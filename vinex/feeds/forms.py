"""The form on ``/staff/feeds/new``: choose a connector, say where it reads, map an export's columns."""

from __future__ import annotations

from typing import Any

from django import forms
from django.db.models import QuerySet

from vinex.custody.models import Facility
from vinex.feeds.connector_settings import MAPPABLE, STATUS_MEANINGS, ConnectorSettingsError, connector_settings_clean
from vinex.feeds.models import ConnectorKind, PullSource

# Kinds that read this server's own folders: only an administrator may point vinex at a local path.
LOCAL_KINDS = {ConnectorKind.DIRECTORY}


def _pairs(text: str, field: str) -> dict[str, str]:
    """``left = right`` lines as a mapping (blank lines and ``#`` comments ignored)."""
    pairs: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        left, sep, right = line.partition("=")
        if not sep or not left.strip() or not right.strip():
            raise forms.ValidationError(f"{field}, line {number}: write it as 'name = value'")
        pairs[left.strip()] = right.strip()
    return pairs


class FacilityChoice(forms.ModelChoiceField):
    def label_from_instance(self, obj: Facility) -> str:
        return f"{obj.agency.code}/{obj.code} — {obj.name}"


class PullSourceForm(forms.Form):
    facility = FacilityChoice(queryset=Facility.objects.none())
    kind = forms.ChoiceField(choices=ConnectorKind.choices, label="Connector")
    location = forms.CharField(max_length=500, help_text="The portal or file address (https://), an sftp:// address,"
                                                         " or (administrators) a drop folder on this server.")
    every_minutes = forms.IntegerField(min_value=5, max_value=7 * 24 * 60, initial=60, label="Check every (minutes)")
    auth_header_name = forms.CharField(max_length=64, required=False, initial="Authorization",
                                       label="Authorisation header")
    secret = forms.CharField(required=False, widget=forms.PasswordInput(render_value=True),
                             help_text="The header's value, or the SFTP password or private key. Stored encrypted.")
    page_size = forms.IntegerField(required=False, min_value=10, max_value=1000, help_text="Portals: rows per page.")
    host_key = forms.CharField(required=False, max_length=2000, help_text="SFTP: the server's key as in known_hosts.")
    column_map = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 6}),
                                 help_text="Exports: one 'roster field = export column' per line; fields: "
                                           + ", ".join(MAPPABLE) + ".")
    date_formats = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 2}),
                                   help_text="Exports: one date format per line, e.g. %m/%d/%Y (ISO always works).")
    status_values = forms.CharField(required=False, widget=forms.Textarea(attrs={"rows": 3}),
                                    help_text="Exports: one 'their status code = " + " or ".join(STATUS_MEANINGS)
                                              + "' per line.")
    sheet = forms.CharField(required=False, max_length=100, help_text="XLSX exports: the worksheet (default: first).")

    def __init__(self, *args: Any, facilities: QuerySet[Facility], local_allowed: bool, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        facility_field = self.fields["facility"]
        assert isinstance(facility_field, FacilityChoice)
        facility_field.queryset = facilities.select_related("agency").order_by("agency__code", "code")
        self.local_allowed = local_allowed

    def _export(self, data: dict[str, Any]) -> dict[str, Any] | None:
        columns = _pairs(data.get("column_map") or "", "column map")
        if not columns:
            return None
        export: dict[str, Any] = {"column_map": columns,
                                  "status_values": _pairs(data.get("status_values") or "", "status values")}
        formats = [f.strip() for f in (data.get("date_formats") or "").splitlines() if f.strip()]
        if formats:
            export["date_formats"] = formats
        if data.get("sheet"):
            export["sheet"] = data["sheet"]
        return export

    def settings_for(self, data: dict[str, Any]) -> dict[str, Any]:
        kind = data["kind"]
        settings: dict[str, Any] = {}
        if kind in (ConnectorKind.ZUERCHER, ConnectorKind.JAILTRACKER) and data.get("page_size"):
            settings["page_size"] = data["page_size"]
        if kind == ConnectorKind.SFTP:
            settings["host_key"] = data.get("host_key") or ""
        export = self._export(data)
        if export is not None and kind in (ConnectorKind.EXPORT, ConnectorKind.SFTP):
            settings["export"] = export
        return settings

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if "kind" not in data or "location" not in data:
            return data
        local = data["kind"] in LOCAL_KINDS or (data["kind"] == ConnectorKind.EXPORT and "://" not in data["location"])
        if local and not self.local_allowed:
            raise forms.ValidationError("Only an administrator may read a folder on this server; use an address.")
        try:
            data["settings"] = connector_settings_clean(kind=data["kind"], location=data["location"],
                                                        settings=self.settings_for(data))
        except ConnectorSettingsError as error:
            raise forms.ValidationError(str(error)) from None
        return data

    def unsaved_source(self) -> PullSource:
        """The source as entered, not saved (for a dry run)."""
        data = self.cleaned_data
        return PullSource(facility=data["facility"], kind=data["kind"], location=data["location"].strip(),
                          settings=data["settings"], interval_seconds=data["every_minutes"] * 60,
                          auth_header_name=data.get("auth_header_name") or "Authorization",
                          auth_header_value=data.get("secret") or "")
