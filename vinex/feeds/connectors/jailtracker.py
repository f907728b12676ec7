"""JailTracker: the JSON roster endpoints of the vendor's public client.

The classic endpoint ``GET .../JailTracker/GetInmates?start=S&limit=N&sort=LastName&dir=ASC`` answers
``{"data": [...]}`` page by page; the newer ``GET .../jtclientweb/Offender/<jail>`` answers
``{"offenders": [...]}`` at once. Records carry ``ArrestNo`` (the booking), ``Jacket`` (the person's
number across bookings), ``FirstName``, ``MiddleName``, ``LastName``, ``Suffix``,
``OriginalBookDateTime`` and ``FinalReleaseDateTime`` (keys in either case); charges, holds and bond
come from other endpoints vinex never calls. See docs/connectors/jailtracker.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlencode

from vinex.feeds.connectors.base import Connector, ConnectorError, Fetched
from vinex.feeds.connectors.edge import EdgeRow, RosterWriter, changed_format, day_of, missing_fields, parse_when
from vinex.feeds.connectors.http import Client, auth_headers
from vinex.feeds.models import PullSource

EXPECTED = ("arrestno", "firstname", "lastname", "originalbookdatetime")


def _records(answer: Any) -> tuple[list[dict[str, Any]], bool]:
    """The page's records (keys lower-cased) and whether the endpoint pages (``data``) or not (``offenders``)."""
    if isinstance(answer, dict) and (answer.get("captchaRequired") or answer.get("captchaRequred")):
        raise ConnectorError("the portal asks for a captcha: ask the agency for direct access to the roster endpoint")
    if isinstance(answer, dict) and isinstance(answer.get("offenders"), list):
        items, paged = answer["offenders"], False
    elif isinstance(answer, dict) and isinstance(answer.get("data"), list):
        items, paged = answer["data"], True
    else:
        raise ConnectorError("the JailTracker answer changed format: no data or offenders list")
    return [{str(k).lower(): v for k, v in r.items()} for r in items if isinstance(r, dict)], paged


def edge_row(record: dict[str, Any]) -> EdgeRow | None:
    """The roster fields of one record; None for someone the portal shows as released."""
    if str(record.get("finalreleasedatetime") or "").strip():
        return None
    return EdgeRow(first_name=str(record.get("firstname") or ""), last_name=str(record.get("lastname") or ""),
                   date_of_birth=day_of(record.get("dob") or record.get("dateofbirth")),
                   booking_number=str(record.get("arrestno") or ""), person_id=str(record.get("jacket") or ""),
                   booked_at=parse_when(record.get("originalbookdatetime")))


class JailTrackerConnector(Connector):
    def fetch(self, source: PullSource, scratch: Path, *, fresh: bool = False) -> list[Fetched]:
        options = source.settings or {}
        size, max_pages = int(options.get("page_size", 100)), int(options.get("max_pages", 200))
        headers = auth_headers(source.auth_header_name, source.auth_header_value)
        writer = RosterWriter(scratch / "jailtracker.csv")
        client = Client()
        joiner = "&" if "?" in source.location else "?"
        try:
            for number in range(max_pages):
                query = urlencode({"start": number * size, "limit": size, "sort": "LastName", "dir": "ASC"})
                records, paged = _records(client.json("GET", f"{source.location}{joiner}{query}", headers=headers))
                if missing := missing_fields(records, EXPECTED):
                    writer.hold(changed_format("JailTracker", missing))
                for record in records:
                    if (row := edge_row(record)) is not None:
                        writer.add(row)
                if not paged or len(records) < size:
                    break
            else:
                writer.hold(f"the portal has more than {max_pages} pages of {size}; raise max_pages")
        finally:
            client.close()
        return [writer.close(origin_ref=source.location)]
