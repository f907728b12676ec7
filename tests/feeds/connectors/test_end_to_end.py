"""Each connector, against its replay server: a dry run tells nobody; live pulls book, release and transfer
people and the victims following them get an email; nothing but roster fields reaches the database or the logs."""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from tests.actors import ACTOR
from tests.factories import subscribe
from tests.feeds.connectors.replay import (
    EXPORT_MAP,
    EXPORT_STATUS,
    SENSITIVE,
    Answer,
    Inmate,
    ReplayServer,
    SftpServer,
    export_csv,
    export_xlsx,
    inmates,
    jailtracker_route,
    vinex_csv,
    zuercher_route,
)
from vinex.custody.models import Agency, CustodyEvent, Facility, Subject
from vinex.feeds.connectors import connector_dry_run, pull_source_run
from vinex.feeds.models import PullSource, Snapshot
from vinex.notify.models import Notification
from vinex.notify.worker import Worker

pytestmark = pytest.mark.django_db

KINDS = ["zuercher", "jailtracker", "export-csv", "export-xlsx", "https", "directory", "sftp"]


@dataclass
class World:
    """One kind of source for each facility, and a way to change what its replay serves."""

    make_source: Callable[[Facility], PullSource]
    serve: Callable[[str, list[Inmate]], None]


def _http_world(server: ReplayServer, kind: str) -> World:
    rosters: dict[str, list[Inmate]] = {}
    locations: dict[str, str] = {}
    settings: dict[str, Any] = {}
    for code in ("main", "annex"):
        def people(code: str = code) -> list[Inmate]:
            return rosters.get(code, [])

        def body(render: Callable[[list[Inmate]], bytes], code: str = code) -> Callable[..., Answer]:
            return lambda *args: Answer(200, render(rosters.get(code, [])), {"Content-Type": "text/csv"})

        if kind == "zuercher":
            server.routes[("POST", f"/{code}/api/portal/inmates/load")] = zuercher_route(people)
            location = f"{server.base}/{code}"
            settings = {"page_size": 10}
        elif kind == "jailtracker":
            server.routes[("GET", f"/{code}/JailTracker/GetInmates")] = jailtracker_route(people)
            location = f"{server.base}/{code}/JailTracker/GetInmates"
            settings = {"page_size": 10}
        elif kind == "https":
            server.routes[("GET", f"/{code}/roster.csv")] = body(vinex_csv)
            location = f"{server.base}/{code}/roster.csv"
        else:
            render = export_xlsx if kind == "export-xlsx" else export_csv
            server.routes[("GET", f"/{code}/export")] = body(render)
            location = f"{server.base}/{code}/export"
            settings = {"export": {"column_map": EXPORT_MAP, "status_values": EXPORT_STATUS}}
        locations[code] = location

    def make_source(facility: Facility) -> PullSource:
        return PullSource.objects.create(facility=facility, kind=kind.split("-")[0], location=locations[facility.code],
                                         settings=settings, interval_seconds=900)

    return World(make_source, lambda code, people: rosters.__setitem__(code, people))


def _folder_world(root: Path, kind: str, sftp: SftpServer | None) -> World:
    written = [1_700_000_000]

    def serve(code: str, people: list[Inmate]) -> None:
        folder = root / code
        folder.mkdir(exist_ok=True)
        written[0] += 60
        path = folder / f"roster-{written[0]}.csv"
        path.write_bytes(vinex_csv(people))
        os.utime(path, (written[0], written[0]))

    def make_source(facility: Facility) -> PullSource:
        (root / facility.code).mkdir(exist_ok=True)
        if sftp is None:
            return PullSource.objects.create(facility=facility, kind="directory", location=str(root / facility.code))
        return PullSource.objects.create(
            facility=facility, kind="sftp", location=f"sftp://pine@127.0.0.1:{sftp.port}/{facility.code}",
            auth_header_value=sftp.password, settings={"host_key": sftp.public_key})

    return World(make_source, serve)


@pytest.fixture(params=KINDS)
def world(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[World]:
    kind = request.param
    if kind in ("directory", "sftp"):
        sftp = SftpServer(tmp_path) if kind == "sftp" else None
        yield _folder_world(tmp_path, kind, sftp)
        if sftp:
            sftp.close()
        return
    server = ReplayServer()
    yield _http_world(server, kind)
    server.close()


def subject(last_name: str) -> Subject:
    return Subject.objects.get(last_name__iexact=last_name)


def database_dump() -> str:
    """Every row of every table, as text."""
    lines: list[str] = []
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")  # noqa: S608 - names from the schema
            lines.extend(repr(row) for row in cursor.fetchall())
    return "\n".join(lines)


def test_dry_run_then_live_pulls_book_release_and_transfer_with_emails(
        agency: Agency, world: World, smtp_settings: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    main, annex = Facility.objects.get(code="main"), Facility.objects.get(code="annex")
    at_main, at_annex = world.make_source(main), world.make_source(annex)
    first = inmates(3)
    now = timezone.now()

    world.serve("main", first)
    assert pull_source_run(source=at_main, now=now, actor=ACTOR) == 1, at_main.last_error
    assert Subject.objects.filter(facility=main, status="IN_CUSTODY").count() == 3
    subscribe(agency, subject("Quill1").agency_subject_id, email="released@example.org")
    subscribe(agency, subject("Quill2").agency_subject_id, email="moved@example.org")

    later = [first[0], first[2], *inmates(1, start=3)]
    world.serve("main", later)
    events_before = CustodyEvent.objects.count()
    dry = connector_dry_run(source=at_main, now=now + timedelta(minutes=15))
    assert (dry.error, dry.booked, dry.released, dry.transferred, dry.would) == ("", 1, 1, 0, "be applied")
    assert dry.sample["RELEASED"] == [subject("Quill1").agency_subject_id]
    assert CustodyEvent.objects.count() == events_before and not Notification.objects.exists()

    assert pull_source_run(source=at_main, now=now + timedelta(minutes=15), actor=ACTOR) == 1, at_main.last_error
    world.serve("annex", [first[2]])
    assert pull_source_run(source=at_annex, now=now + timedelta(minutes=16), actor=ACTOR) == 1, at_annex.last_error

    kinds = Counter(CustodyEvent.objects.values_list("type", flat=True))
    assert kinds == {"BOOKED": 4, "RELEASED": 1, "TRANSFERRED": 1}
    assert subject("Quill1").status == "RELEASED" and subject("Quill2").facility == annex
    assert Snapshot.objects.filter(status="applied").count() == 3
    at_main.refresh_from_db()
    assert at_main.failures == 0
    assert at_main.identity_note.startswith("people keyed by" if at_main.kind in {
        "zuercher", "jailtracker", "export"} else "the agency's own subject ids")

    worker = Worker(threads=1)
    try:
        worker.run_once()
    finally:
        worker.close()
    assert sorted(m["To"] for m in smtp_settings.inbox.wait_for(2)) == ["moved@example.org", "released@example.org"]

    # Minimum data: the vendors' mugshots, charges, bond, race and addresses went nowhere.
    stored, logged = database_dump(), caplog.text
    for marker in SENSITIVE:
        assert marker not in stored and marker not in logged
