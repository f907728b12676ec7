"""What each kind of pull connector may be told, validated whenever a source is saved.

One pydantic model per kind; a source's ``settings`` JSON must fit its kind's model, so a typo in the
admin, on ``/staff/feeds/new`` or on the command line is refused when it is made, not at 3 a.m. when
the scheduler runs the source. Kept apart from the connectors so the model layer can call it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from urllib.parse import urlparse

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

# Our roster columns a vendor export may be mapped to (the only ones a connector ever keeps).
MAPPABLE = ("agency_subject_id", "booking_number", "first_name", "last_name", "date_of_birth", "booked_at",
            "scheduled_release", "status")
# What a status value in an export may mean: the person is in this facility now, or is not.
STATUS_MEANINGS = ("in_custody", "not_in_custody")


class ConnectorSettingsError(ValueError):
    """A source's settings do not fit its kind; the message says which setting and why."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ExportMap(_Strict):
    """How to read an agency's own export: their column names, their date formats, their status codes."""

    # Our column -> their column header.
    column_map: dict[str, str] = Field(default_factory=dict)
    # strptime formats tried in order for dates and times (ISO 8601 is always understood).
    date_formats: list[str] = Field(default_factory=lambda: ["%m/%d/%Y", "%m/%d/%Y %H:%M", "%m/%d/%Y %I:%M %p"])
    # Their status value -> in_custody | not_in_custody; rows whose status is not in custody are left out.
    status_values: dict[str, Literal["in_custody", "not_in_custody"]] = Field(default_factory=dict)
    # The worksheet of a workbook (the first one when empty).
    sheet: str = ""

    @field_validator("column_map")
    @classmethod
    def _known_columns(cls, value: dict[str, str]) -> dict[str, str]:
        unknown = sorted(set(value) - set(MAPPABLE))
        if unknown:
            raise ValueError(f"unknown roster columns {unknown}; known: {', '.join(MAPPABLE)}")
        if any(not str(v).strip() for v in value.values()):
            raise ValueError("each mapped column needs the export's column name")
        return {k: str(v).strip() for k, v in value.items()}

    @field_validator("date_formats")
    @classmethod
    def _formats_work(cls, value: list[str]) -> list[str]:
        for fmt in value:
            try:
                datetime(2026, 1, 2, 3, 4).strftime(fmt)
            except ValueError:
                raise ValueError(f"{fmt!r} is not a date format") from None
            if "%" not in fmt:
                raise ValueError(f"{fmt!r} is not a date format")
        return value

    def check_complete(self) -> None:
        names = {"last_name", "first_name"}
        missing = sorted(names - set(self.column_map))
        if missing:
            raise ValueError(f"the column map must name the export's columns for {', '.join(missing)}")
        if "status" in self.column_map and not self.status_values:
            raise ValueError("a status column needs a value map (their code = in_custody or not_in_custody)")


class NoSettings(_Strict):
    pass


class PagedSettings(_Strict):
    """A vendor portal read page by page."""

    page_size: int = Field(default=100, ge=10, le=1000)
    max_pages: int = Field(default=200, ge=1, le=10_000)


class ExportSettings(_Strict):
    export: ExportMap = Field(default_factory=ExportMap)


class SftpSettings(_Strict):
    # The server's public key as in known_hosts ("ssh-ed25519 AAAA..."): never trusted on first use.
    host_key: str
    # An agency's own export format; without it the files are in vinex's roster format.
    export: ExportMap | None = None

    @field_validator("host_key")
    @classmethod
    def _key_shape(cls, value: str) -> str:
        parts = value.split()
        if len(parts) < 2 or not parts[0].startswith(("ssh-", "ecdsa-")):
            raise ValueError("give the server's public key as in known_hosts, e.g. 'ssh-ed25519 AAAA...'")
        return " ".join(parts[:2])


SCHEMAS: dict[str, type[_Strict]] = {
    "directory": NoSettings,
    "https": NoSettings,
    "zuercher": PagedSettings,
    "jailtracker": PagedSettings,
    "export": ExportSettings,
    "sftp": SftpSettings,
}
_URL_KINDS = {"https", "zuercher", "jailtracker"}


def _check_location(kind: str, location: str) -> None:
    address = urlparse(location)
    if kind in _URL_KINDS and address.scheme not in {"http", "https"}:
        raise ConnectorSettingsError(f"a {kind} source needs an https:// address")
    if kind == "sftp" and (address.scheme != "sftp" or not address.hostname or not address.username):
        raise ConnectorSettingsError("an SFTP source needs an address like sftp://user@host:22/outgoing")
    if kind == "export" and address.scheme not in {"http", "https", ""}:
        raise ConnectorSettingsError("an export source is a drop folder or an https:// address")


def connector_settings_clean(*, kind: str, location: str, settings: dict[str, Any] | None) -> dict[str, Any]:
    """The settings of a ``kind`` source in normal form; raises ConnectorSettingsError when they do not fit."""
    schema = SCHEMAS.get(kind)
    if schema is None:
        raise ConnectorSettingsError(f"unknown connector kind {kind!r}")
    _check_location(kind, location)
    try:
        parsed = schema.model_validate(settings or {})
        export = getattr(parsed, "export", None)
        if kind == "export" or export is not None:
            (export or ExportMap()).check_complete()
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "settings"
        raise ConnectorSettingsError(f"{where}: {first['msg']}") from None
    except ValueError as error:
        raise ConnectorSettingsError(str(error)) from None
    return parsed.model_dump(exclude_none=True)
