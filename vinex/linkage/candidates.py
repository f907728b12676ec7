"""Who a new or changed subject might be: candidates from other agencies, found through indexed lookups.

A batch of a thousand subjects against ten million must not scan anybody: each lookup reads one index
(A-number, FBI number, state id, the folded name) with the batch's values in an IN list, and only the
few subjects found are scored by ``vinex.linkage.engine.pairs_score``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import Any

import polars as pl

from vinex.core.bulk import rows_select
from vinex.custody.models import Agency, Subject

_COLUMNS = ("id", "agency_id", "person_id", "first_name", "last_name", "date_of_birth", "country_of_birth",
            "a_number", "fbi_number", "state_id", "name_key")
# A name shared by more people than this on one birthday is no lead worth scoring (nor a likely one).
_MAX_PER_NAME = 20


@dataclass(frozen=True, slots=True)
class Identity:
    """What linkage compares of a subject."""

    id: int
    agency_id: int
    person_id: int
    first_name: str
    last_name: str
    date_of_birth: date | None
    country_of_birth: str
    a_number: str
    fbi_number: str
    state_id: str
    name_key: str

    def swapped_key(self) -> str:
        first, _, last = self.name_key.partition("|")
        return f"{last}|{first}"


def identities_load(subject_ids: Sequence[int]) -> list[Identity]:
    """The identities of these subjects."""
    return [Identity(*row) for row in rows_select(Subject, _COLUMNS, among=("id", list(subject_ids)))]


def candidates_find(subjects: Sequence[Identity]) -> list[Identity]:
    """Subjects of other agencies and other people that share a strong identifier with one of ``subjects``,
    or its name (either order) and date of birth (or the day and month swapped)."""
    found: dict[int, Identity] = {}
    for column in ("a_number", "fbi_number", "state_id"):
        values = sorted({getattr(s, column) for s in subjects if getattr(s, column)})
        if values:
            found.update((i.id, i) for i in _load(column, values))
    keys = sorted({k for s in subjects if s.date_of_birth for k in (s.name_key, s.swapped_key())})
    if keys:
        births = {(k, d) for s in subjects if s.date_of_birth for k in (s.name_key, s.swapped_key())
                  for d in _birthdays(s.date_of_birth)}
        by_name = [i for i in _load("name_key", keys) if (i.name_key, i.date_of_birth) in births]
        found.update((i.id, i) for i in by_name[: _MAX_PER_NAME * len(subjects)])
    return [c for c in found.values() if any(_other(s, c) for s in subjects)]


def _load(column: str, values: list[Any]) -> list[Identity]:
    return [Identity(*row) for row in rows_select(Subject, _COLUMNS, among=(column, values))]


def _birthdays(day: date) -> set[date]:
    try:
        return {day, day.replace(month=day.day, day=day.month)}
    except ValueError:
        return {day}


def _other(subject: Identity, candidate: Identity) -> bool:
    return candidate.agency_id != subject.agency_id and candidate.person_id != subject.person_id


def records_frame(identities: Iterable[Identity], states: dict[int, str]) -> pl.DataFrame:
    """The records ``pairs_score`` takes, one per identity (``record_id`` is the subject id)."""
    rows = [{"record_id": str(i.id), "first_name": i.first_name, "last_name": i.last_name,
             "date_of_birth": i.date_of_birth.isoformat() if i.date_of_birth else None,
             "country_of_birth": i.country_of_birth or None, "a_number": i.a_number or None,
             "fbi_number": i.fbi_number or None, "state_id": i.state_id or None,
             "state": states.get(i.agency_id)} for i in identities]
    return pl.DataFrame(rows, schema={c: pl.Utf8 for c in ("record_id", "first_name", "last_name", "date_of_birth",
                                                             "country_of_birth", "a_number", "fbi_number",
                                                             "state_id", "state")})


def agency_states(agency_ids: Iterable[int]) -> dict[int, str]:
    """The state of each agency (``US-XX`` from its jurisdiction code): a state id means something only there."""
    codes = Agency.objects.filter(pk__in=set(agency_ids)).values_list("pk", "jurisdiction_code")
    return {pk: "-".join(code.split("-")[:2]).upper() for pk, code in codes}
