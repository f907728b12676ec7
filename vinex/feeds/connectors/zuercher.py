"""Zuercher Portal: the paged JSON inmate list a county's public portal serves.

``POST <portal>/api/portal/inmates/load`` with a search (every filter open) and ``paging: {count,
start}`` answers ``{"total_record_count": n, "records": [...]}``. Each record carries ``name``
("LAST, FIRST MIDDLE"), ``dob``, ``arrest_date`` and ``release_date`` — and also a mugshot, race,
sex, cell block, holding agency and the charges (``hold_reasons``), which are dropped here. The list
has no booking number or person id, so people are keyed by name, date of birth and booking date.
See docs/connectors/zuercher.md.
"""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import Any

from django.utils import timezone

from vinex.feeds.connectors.base import Connector, ConnectorError, Fetched
from vinex.feeds.connectors.edge import EdgeRow, RosterWriter, changed_format, day_of, missing_fields, parse_when
from vinex.feeds.connectors.http import Client, auth_headers
from vinex.feeds.models import PullSource

ENDPOINT = "/api/portal/inmates/load"
EXPECTED = ("name", "dob", "arrest_date", "release_date")


def _search(start: int, count: int) -> dict[str, Any]:
    return {"name": "", "race": "all", "sex": "all", "cell_block": "all", "held_for_agency": "any",
            "in_custody": "", "paging": {"count": count, "start": start},
            "sorting": {"sort_by_column_tag": "name", "sort_descending": False}}


def _page(answer: Any) -> tuple[list[dict[str, Any]], int]:
    if not isinstance(answer, dict) or not isinstance(answer.get("records"), list) or (
            not isinstance(answer.get("total_record_count"), int)):
        raise ConnectorError("the Zuercher answer changed format: no records list or total_record_count")
    return [r for r in answer["records"] if isinstance(r, dict)], answer["total_record_count"]


def _split_name(name: str) -> tuple[str, str]:
    last, _, rest = name.partition(",")
    first = rest.split()[0] if rest.split() else ""
    return first, last.strip()


def edge_row(record: dict[str, Any], today: date) -> EdgeRow | None:
    """The roster fields of one record; None for someone already released, or a juvenile (never taken from a portal)."""
    if record.get("is_juvenile") is True:
        return None
    released = parse_when(record.get("release_date"))
    release_day = released.date() if isinstance(released, datetime) else released
    if release_day is not None and release_day <= today:
        return None
    first, last = _split_name(str(record.get("name") or ""))
    return EdgeRow(first_name=first, last_name=last, date_of_birth=day_of(record.get("dob")),
                   booked_at=parse_when(record.get("arrest_date")), scheduled_release=released)


class ZuercherConnector(Connector):
    def fetch(self, source: PullSource, scratch: Path, *, fresh: bool = False) -> list[Fetched]:
        options = source.settings or {}
        size, max_pages = int(options.get("page_size", 100)), int(options.get("max_pages", 200))
        url = source.location.rstrip("/") + ENDPOINT
        headers = auth_headers(source.auth_header_name, source.auth_header_value)
        writer = RosterWriter(scratch / "zuercher.csv")
        client = Client()
        today = timezone.localdate()
        seen, total = 0, 0
        try:
            for _page_number in range(max_pages):
                records, total = _page(client.json("POST", url, headers=headers, json_body=_search(seen, size)))
                if missing := missing_fields(records, EXPECTED):
                    writer.hold(changed_format("Zuercher", missing))
                for record in records:
                    if (row := edge_row(record, today)) is not None:
                        writer.add(row)
                seen += len(records)
                if not records or seen >= total:
                    break
            else:
                writer.hold(f"the portal has more than {max_pages} pages of {size}; raise max_pages")
        finally:
            client.close()
        if seen < total:
            # A short list would read as many releases: hold it instead.
            writer.hold(f"the portal said {total} people but served {seen}")
        return [writer.close(origin_ref=url)]
