"""Loopback servers that answer like the vendors' systems, with the shapes recorded in docs/connectors/.

Every record is full of what vinex must never keep (mugshots, charges, bond, race, addresses): the
markers below, which a test looks for in the database and the logs afterwards.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

MUGSHOT = "iVBORw0KGgoMUGSHOTMARKER"
CHARGE = "CHARGEMARKER burglary second degree"
BOND = "BONDMARKER 5000.00"
RACE = "RACEMARKER"
ADDRESS = "ADDRESSMARKER 12 Elm Street"
SENSITIVE = (MUGSHOT, CHARGE, BOND, RACE, ADDRESS)


@dataclass(frozen=True)
class Inmate:
    first: str
    last: str
    dob: str  # MM/DD/YYYY as the portals write it
    booking: str
    jacket: str
    booked: str  # MM/DD/YYYY HH:MM:SS


def inmates(count: int, *, start: int = 0) -> list[Inmate]:
    return [Inmate(f"Robin{i}", f"Quill{i}", f"0{1 + i % 9}/1{i % 10}/198{i % 10}", f"BK{1000 + i}", f"J{500 + i}",
                   "11/20/2026 08:30:00") for i in range(start, start + count)]


def zuercher_record(person: Inmate) -> dict[str, Any]:
    return {"name": f"{person.last.upper()}, {person.first.upper()} LEE", "race": RACE, "sex": "M",
            "cell_block": "B-2", "arrest_date": person.booked.split()[0], "held_for_agency": "PINE SO",
            "mugshot": MUGSHOT, "dob": person.dob, "hold_reasons": CHARGE, "is_juvenile": False,
            "release_date": "", "bond": BOND, "address": ADDRESS}


def jailtracker_record(person: Inmate) -> dict[str, Any]:
    month, day, rest = person.booked.split("/")
    year, clock = rest.split()
    return {"RowIndex": 1, "AgencyName": "Pine County SO", "ArrestNo": person.booking, "Jacket": person.jacket,
            "FirstName": person.first, "MiddleName": "L", "LastName": person.last, "Suffix": "",
            "OriginalBookDateTime": f"{int(month)}/{int(day)}/{year}T{clock}", "FinalReleaseDateTime": None,
            "Race": RACE, "Charges": [{"ChargeDescription": CHARGE, "BondAmount": BOND}], "Address": ADDRESS,
            "Photo": MUGSHOT}


EXPORT_HEADER = ["Book No", "Last", "First", "DOB", "Booked", "Custody", "Race", "Charges", "Bond", "Home Address"]
EXPORT_MAP = {"booking_number": "Book No", "last_name": "Last", "first_name": "First", "date_of_birth": "DOB",
              "booked_at": "Booked", "status": "Custody"}
EXPORT_STATUS = {"IN": "in_custody", "REL": "not_in_custody"}


def export_rows(people: list[Inmate], released: list[Inmate] = ()) -> list[list[str]]:  # type: ignore[assignment]
    rows = [[p.booking, p.last, p.first, p.dob, p.booked, "IN", RACE, CHARGE, BOND, ADDRESS] for p in people]
    return rows + [[p.booking, p.last, p.first, p.dob, p.booked, "REL", RACE, CHARGE, BOND, ADDRESS]
                   for p in released]


def export_csv(people: list[Inmate], header: list[str] = EXPORT_HEADER) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(header)
    writer.writerows(export_rows(people))
    return buffer.getvalue().encode()


def export_xlsx(people: list[Inmate]) -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(EXPORT_HEADER)
    for row in export_rows(people):
        sheet.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def vinex_csv(people: list[Inmate]) -> bytes:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["agency_subject_id", "booking_number", "first_name", "last_name", "date_of_birth"])
    for p in people:
        month, day, year = p.dob.split("/")
        writer.writerow([p.jacket, p.booking, p.first, p.last, f"{year}-{month}-{day}"])
    return buffer.getvalue().encode()


@dataclass
class Answer:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


Route = Callable[[str, dict[str, list[str]], Any], Answer]


class ReplayServer:
    """A loopback HTTP server: ``routes[(method, path)]`` answers each request; every request is recorded."""

    def __init__(self) -> None:
        self.routes: dict[tuple[str, str], Route] = {}
        self.requests: list[tuple[str, str, dict[str, str]]] = []
        replay = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self, method: str) -> None:
                address = urlparse(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length)) if length else None
                replay.requests.append((method, self.path, dict(self.headers)))
                route = replay.routes.get((method, address.path))
                answer = route(address.path, parse_qs(address.query), body) if route else Answer(404, b"not here")
                if answer.delay:
                    time.sleep(answer.delay)
                try:
                    self.send_response(answer.status)
                    for name, value in answer.headers.items():
                        self.send_header(name, value)
                    self.send_header("Content-Length", str(len(answer.body)))
                    self.end_headers()
                    self.wfile.write(answer.body)
                except (BrokenPipeError, ConnectionResetError):
                    pass

            def do_GET(self) -> None:
                self._answer("GET")

            def do_POST(self) -> None:
                self._answer("POST")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def json_answer(value: Any) -> Answer:
    return Answer(200, json.dumps(value).encode(), {"Content-Type": "application/json; charset=utf-8"})


def zuercher_route(people: Callable[[], list[Inmate]]) -> Route:
    def answer(path: str, query: dict[str, list[str]], body: Any) -> Answer:
        start, count = body["paging"]["start"], body["paging"]["count"]
        everyone = people()
        page = [zuercher_record(p) for p in everyone[start : start + count]]
        return json_answer({"total_record_count": len(everyone), "records": page})

    return answer


def jailtracker_route(people: Callable[[], list[Inmate]]) -> Route:
    def answer(path: str, query: dict[str, list[str]], body: Any) -> Answer:
        start, limit = int(query["start"][0]), int(query["limit"][0])
        page = [jailtracker_record(p) for p in people()[start : start + limit]]
        return json_answer({"data": page, "totalCount": len(people())})

    return answer


class SftpServer:
    """A real SFTP server on loopback (asyncssh), serving ``root``, with a host key made for this test."""

    def __init__(self, root: Path, *, username: str = "pine", password: str = "drop-secret") -> None:
        import asyncssh

        self.root, self.username, self.password = root, username, password
        self.host_key = asyncssh.generate_private_key("ssh-ed25519")
        self.public_key = self.host_key.export_public_key("openssh").decode().strip()
        self.loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self.port = 0
        server = self

        class Auth(asyncssh.SSHServer):
            def password_auth_supported(self) -> bool:
                return True

            def validate_password(self, username: str, password: str) -> bool:
                return username == server.username and password == server.password

        async def start() -> Any:
            return await asyncssh.listen("127.0.0.1", 0, server_host_keys=[self.host_key], server_factory=Auth,
                                         sftp_factory=lambda chan: asyncssh.SFTPServer(chan, chroot=str(root).encode()))

        def run() -> None:
            asyncio.set_event_loop(self.loop)
            self.listener = self.loop.run_until_complete(start())
            self.port = self.listener.sockets[0].getsockname()[1]
            self._ready.set()
            self.loop.run_forever()

        threading.Thread(target=run, daemon=True).start()
        assert self._ready.wait(10), "the SFTP server did not start"

    def close(self) -> None:
        self.loop.call_soon_threadsafe(self.listener.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
