"""The edge every vendor record passes: keep only roster fields, give each person a stable key.

Vendor portals serve far more than vinex may hold: mugshots, charges, bond amounts, race, addresses.
A connector reads a record into ``EdgeRow`` (the roster fields alone) and nothing else of it goes any
further: not to disk, not to the database, not to a log line. Records that lack an agency subject
id are keyed deterministically (``subject_key``), and a roster with rows that cannot be keyed is held
for review with the reason rather than guessed.
"""

from __future__ import annotations

import csv
import hashlib
import unicodedata
from collections import Counter
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

from vinex.feeds.connectors.base import Fetched

# The only columns a connector writes: vinex's roster fields.
KEPT = ("agency_subject_id", "booking_number", "first_name", "last_name", "date_of_birth", "booked_at",
        "scheduled_release")

KEYED_BY = {
    "id": "the agency's own person number",
    "booking": "booking number",
    "derived": "name, date of birth and booking date (hashed)",
}


@dataclass(frozen=True)
class EdgeRow:
    """One person on a roster, as much as vinex keeps of them (text in, normalised by the roster parser)."""

    first_name: str
    last_name: str
    date_of_birth: date | None = None
    booking_number: str = ""
    person_id: str = ""
    booked_at: datetime | date | None = None
    scheduled_release: datetime | date | None = None


def _fold(text: str) -> str:
    """Case, accents and spacing do not change who someone is."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return " ".join(plain.casefold().split())


def _day(value: datetime | date | None) -> str:
    if value is None:
        return ""
    return (value.date() if isinstance(value, datetime) else value).isoformat()


def subject_key(row: EdgeRow) -> tuple[str, str] | None:
    """A deterministic agency_subject_id for ``row`` and how it was made; None when the row cannot be keyed.

    The agency's own person number when the vendor serves one; else the booking number; else a hash
    of name, date of birth and booking date (all three needed: two people may share a name and a
    birthday, rarely a booking day too). A re-arrest with a new booking number is a new subject
    here; linkage joins the two by name and date of birth.
    """
    if row.person_id.strip():
        return _bounded("P", row.person_id.strip()), "id"
    if row.booking_number.strip():
        return _bounded("B", row.booking_number.strip()), "booking"
    if row.first_name.strip() and row.last_name.strip() and row.date_of_birth and row.booked_at:
        basis = "|".join((_fold(row.last_name), _fold(row.first_name), row.date_of_birth.isoformat(),
                          _day(row.booked_at)))
        return "H-" + hashlib.sha256(basis.encode()).hexdigest()[:32], "derived"
    return None


def _bounded(prefix: str, value: str) -> str:
    key = f"{prefix}-{value}"
    # agency_subject_id holds 64 characters; a longer vendor id is hashed rather than cut (cutting could merge two).
    return key if len(key) <= 64 else f"{prefix}-" + hashlib.sha256(value.encode()).hexdigest()[:40]


def _moment(value: datetime | date | None) -> str:
    if value is None:
        return ""
    return value.isoformat(timespec="seconds") if isinstance(value, datetime) else value.isoformat()


class RosterWriter:
    """Writes ``EdgeRow``s as a vinex roster CSV, counting how people were keyed and which rows could not be."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.keyed: Counter[str] = Counter()
        self.unkeyed = 0
        self.total = 0
        self.reasons: list[str] = []
        self._handle = path.open("w", encoding="utf-8", newline="")
        self._writer = csv.writer(self._handle)
        self._writer.writerow(KEPT)

    def add(self, row: EdgeRow) -> None:
        self.total += 1
        key = subject_key(row)
        if key is None:
            self.unkeyed += 1
            return
        subject_id, how = key
        self.keyed[how] += 1
        self._writer.writerow((subject_id, row.booking_number.strip()[:32], row.first_name.strip(),
                               row.last_name.strip(), row.date_of_birth.isoformat() if row.date_of_birth else "",
                               _moment(row.booked_at), _moment(row.scheduled_release)))

    def hold(self, reason: str) -> None:
        """Hold the roster for review, whatever its rows look like (a changed format, an unknown status)."""
        if reason not in self.reasons:
            self.reasons.append(reason)

    def close(self, **extra: object) -> Fetched:
        self._handle.close()
        reasons = list(self.reasons)
        if self.unkeyed:
            reasons.append(f"{self.unkeyed} of {self.total} rows cannot be keyed: no person number, no booking number,"
                           " and name, date of birth or booking date missing")
        return Fetched(path=self.path, content_type="text/csv", identity=self.identity(),
                       hold_reasons=tuple(reasons), **extra)  # type: ignore[arg-type]

    def identity(self) -> str:
        if not self.keyed:
            return "no one keyed yet"
        parts = [f"{KEYED_BY[how]} ({count})" for how, count in sorted(self.keyed.items())]
        return "people keyed by " + ", ".join(parts)


def missing_fields(records: list[dict[str, object]], expected: tuple[str, ...]) -> list[str]:
    """Expected vendor fields absent from any record (a null value is fine: the field is still there)."""
    absent: set[str] = set()
    for record in records:
        absent.update(name for name in expected if name not in record)
    return sorted(absent)


def changed_format(vendor: str, missing: list[str]) -> str:
    return f"the {vendor} answer changed format: {', '.join(missing)} missing"


# Date formats vendor portals were found to use, after ISO 8601.
VENDOR_FORMATS = ("%m/%d/%Y", "%m/%d/%Y %H:%M:%S", "%m/%d/%Y %H:%M", "%m/%d/%Y %I:%M:%S %p", "%m/%d/%Y %I:%M %p",
                  "%m/%d/%YT%H:%M:%S")


def parse_when(value: object, formats: tuple[str, ...] | list[str] = VENDOR_FORMATS) -> datetime | date | None:
    """A date or a date and time from a vendor's text (ISO 8601 or one of ``formats``); None when blank or unreadable.

    A time without an offset stays naive: the roster parser reads it as the facility's local time.
    """
    if isinstance(value, datetime):
        return value
    if isinstance(value, date):
        return value
    text = str(value or "").strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text)
        return moment.date() if len(text) <= 10 else moment
    except ValueError:
        pass
    for fmt in formats:
        try:
            moment = datetime.strptime(text, fmt)
        except ValueError:
            continue
        return moment if "%H" in fmt or "%I" in fmt else moment.date()
    return None


def day_of(value: object, formats: tuple[str, ...] | list[str] = VENDOR_FORMATS) -> date | None:
    moment = parse_when(value, formats)
    return moment.date() if isinstance(moment, datetime) else moment
