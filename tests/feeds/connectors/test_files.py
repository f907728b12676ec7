from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone

from tests.actors import ACTOR
from tests.feeds.roster import people, roster_csv
from vinex.custody.models import Agency, Facility, Subject
from vinex.feeds.connectors import pull_sources_run_due
from vinex.feeds.models import PullSource, Snapshot

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_settle(settings: Any) -> None:
    settings.VINEX_CONNECTOR_SETTLE_SECONDS = 0
    settings.VINEX_CONNECTOR_RETRY_BASE_SECONDS = 60


class AgencyGateway:
    """An agency's roster endpoint on loopback: serves ``body`` to requests carrying the right key."""

    def __init__(self) -> None:
        self.body = b""
        self.status = 200
        self.requests: list[dict[str, str]] = []
        gateway = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                gateway.requests.append(dict(self.headers))
                etag = f'"{hash(gateway.body)}"'
                if self.headers.get("X-Api-Key") != "secret-key":
                    self.send_response(401)
                    self.end_headers()
                    return
                if gateway.status != 200:
                    self.send_response(gateway.status)
                    self.end_headers()
                    return
                if self.headers.get("If-None-Match") == etag:
                    self.send_response(304)
                    self.end_headers()
                    return
                self.send_response(200)
                self.send_header("Content-Type", "text/csv; charset=utf-8")
                self.send_header("ETag", etag)
                self.send_header("Content-Length", str(len(gateway.body)))
                self.end_headers()
                self.wfile.write(gateway.body)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/roster.csv"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def gateway() -> Iterator[AgencyGateway]:
    server = AgencyGateway()
    yield server
    server.server.shutdown()


def test_a_drop_folder_imports_new_files_in_order_and_files_them(agency: Agency, tmp_path: Path) -> None:
    import os

    main = Facility.objects.get(code="main")
    PullSource.objects.create(facility=main, kind="directory", location=str(tmp_path), interval_seconds=600)
    older, newer = tmp_path / "b-first.csv", tmp_path / "a-second.csv"
    older.write_text(roster_csv(people(3)), encoding="utf-8")
    newer.write_text(roster_csv(people(4)), encoding="utf-8")
    os.utime(older, (1_700_000_000, 1_700_000_000))
    (tmp_path / "c-broken.csv").write_text("who\nx\n", encoding="utf-8")
    os.utime(tmp_path / "c-broken.csv", (1_700_000_500, 1_700_000_500))

    now = timezone.now()
    assert pull_sources_run_due(actor=ACTOR, now=now) == 2
    assert list(Snapshot.objects.order_by("pk").values_list("booked", flat=True)) == [3, 1]
    assert sorted(p.name for p in (tmp_path / "processed").iterdir()) == ["a-second.csv", "b-first.csv"]
    assert [p.name for p in (tmp_path / "failed").iterdir()] == ["c-broken.csv"]
    source = PullSource.objects.get()
    assert source.failures == 1 and "lacks required columns" in source.last_error
    assert source.next_run_at == now + timedelta(seconds=60)
    assert pull_sources_run_due(actor=ACTOR, now=now + timedelta(seconds=30)) == 0  # not due yet

    assert pull_sources_run_due(actor=ACTOR, now=now + timedelta(seconds=61)) == 0
    source.refresh_from_db()
    assert (source.failures, source.last_error, source.last_success_at) == (0, "", now + timedelta(seconds=61))


def test_an_https_source_fetches_with_its_key_and_skips_unchanged_rosters(agency: Agency,
                                                                          gateway: AgencyGateway) -> None:
    main = Facility.objects.get(code="main")
    PullSource.objects.create(facility=main, kind="https", location=gateway.url, auth_header_name="X-Api-Key",
                              auth_header_value="secret-key", interval_seconds=300)
    gateway.body = roster_csv(people(5)).encode()
    now = timezone.now()
    assert pull_sources_run_due(actor=ACTOR, now=now) == 1
    assert Subject.objects.filter(status="IN_CUSTODY").count() == 5
    assert pull_sources_run_due(actor=ACTOR, now=now + timedelta(seconds=301)) == 0  # 304: nothing new
    assert gateway.requests[-1]["If-None-Match"]
    gateway.body = roster_csv(people(6)).encode()
    assert pull_sources_run_due(actor=ACTOR, now=now + timedelta(seconds=602)) == 1
    assert Subject.objects.filter(status="IN_CUSTODY").count() == 6


def test_a_failing_source_backs_off_and_shows_its_error(agency: Agency, gateway: AgencyGateway) -> None:
    main = Facility.objects.get(code="main")
    PullSource.objects.create(facility=main, kind="https", location=gateway.url, auth_header_name="X-Api-Key",
                              auth_header_value="secret-key", interval_seconds=3600)
    gateway.status = 503
    now = timezone.now()
    pull_sources_run_due(actor=ACTOR, now=now)
    pull_sources_run_due(actor=ACTOR, now=now + timedelta(seconds=60))
    source = PullSource.objects.get()
    assert (source.failures, source.last_error) == (2, "the server answered 503")
    assert source.next_run_at == now + timedelta(seconds=60 + 120)
    assert not Snapshot.objects.exists()


def test_plain_http_elsewhere_is_refused(agency: Agency) -> None:
    main = Facility.objects.get(code="main")
    PullSource.objects.create(facility=main, kind="https", location="http://roster.example.org/x.csv")
    pull_sources_run_due(actor=ACTOR, now=timezone.now())
    assert PullSource.objects.get().last_error == "roster addresses must use https://"
