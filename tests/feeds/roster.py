"""Roster files as agencies send them, and a way to send them through the API."""

from __future__ import annotations

import csv
import io
from typing import Any

from django.test import Client

HEADER = ["agency_subject_id", "booking_number", "first_name", "last_name", "date_of_birth", "country_of_birth",
          "a_number", "state_id", "fbi_number", "booked_at", "scheduled_release"]


def person(asid: str, **fields: str) -> dict[str, str]:
    return {"agency_subject_id": asid, "first_name": "Robin", "last_name": f"Quill-{asid}", **fields}


def people(count: int, *, start: int = 0, prefix: str = "S-") -> list[dict[str, str]]:
    return [person(f"{prefix}{i}") for i in range(start, start + count)]


def roster_csv(rows: list[dict[str, str]], *, header: list[str] | None = None, newline: str = "\n") -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=header or HEADER, lineterminator=newline, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def put_roster(api: Client, body: str | bytes, *, facility: str = "main", content_type: str = "text/csv") -> Any:
    data = body.encode() if isinstance(body, str) else body
    return api.put(f"/api/v1/rosters/{facility}", data=data, content_type=content_type)
