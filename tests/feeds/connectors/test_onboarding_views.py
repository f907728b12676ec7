"""``/staff/feeds/new``: an operator tests a connector (nobody told) and turns it on, for their own agency only."""

from __future__ import annotations

import pytest

from tests.accounts.helpers import staff_client
from tests.feeds.connectors.replay import (
    ADDRESS,
    CHARGE,
    EXPORT_HEADER,
    Answer,
    ReplayServer,
    export_csv,
    inmates,
    zuercher_route,
)
from vinex.accounts import matrix
from vinex.custody.models import Agency, CustodyEvent, Facility
from vinex.feeds.models import FacilityFeed, PullSource

pytestmark = pytest.mark.django_db


def zuercher_form(server: ReplayServer, facility: Facility, **extra: str) -> dict[str, str]:
    return {"facility": str(facility.pk), "kind": "zuercher", "location": server.base, "every_minutes": "30",
            "page_size": "50", **extra}


def test_an_operator_tests_then_turns_on_a_zuercher_connector(agency: Agency, server: ReplayServer) -> None:
    server.routes[("POST", "/api/portal/inmates/load")] = zuercher_route(lambda: inmates(4))
    client, _ = staff_client("olu", matrix.AGENCY_OPERATOR, agency=agency)
    main = Facility.objects.get(code="main")
    page = client.post("/staff/feeds/new", zuercher_form(server, main, test="1")).content.decode()
    assert '<span data-count="booked">4</span> booked' in page and "would be applied" in page
    assert "name, date of birth and booking date" in page
    assert not PullSource.objects.exists() and not CustodyEvent.objects.exists()

    response = client.post("/staff/feeds/new", zuercher_form(server, main, enable="1"))
    assert response.status_code == 302 and response["Location"] == "/staff/feeds/"
    source = PullSource.objects.get()
    assert (source.kind, source.enabled, source.interval_seconds, source.settings) == (
        "zuercher", True, 1800, {"page_size": 50, "max_pages": 200})
    assert FacilityFeed.objects.get(facility=main).cadence_seconds == 1800
    assert "Connector" in client.get("/staff/feeds/").content.decode()


def test_the_export_preview_shows_mapped_columns_and_the_result(agency: Agency, server: ReplayServer) -> None:
    csv = Answer(200, export_csv(inmates(2)), {"Content-Type": "text/csv"})
    server.routes[("GET", "/export.csv")] = lambda *args: csv
    client, _ = staff_client("olu", matrix.AGENCY_OPERATOR, agency=agency)
    form = {"facility": str(Facility.objects.get(code="main").pk), "kind": "export", "every_minutes": "60",
            "location": f"{server.base}/export.csv", "test": "1",
            "column_map": "booking_number = Book No\nlast_name = Last\nfirst_name = First\ndate_of_birth = DOB\n"
                          "booked_at = Booked\nstatus = Custody",
            "status_values": "IN = in_custody\nREL = not_in_custody"}
    page = client.post("/staff/feeds/new", form).content.decode()
    assert ", ".join(EXPORT_HEADER) in page
    assert "<td>01/10/1980</td>" in page and "<td>1980-01-10</td>" in page
    assert CHARGE not in page and ADDRESS not in page


def test_a_bad_column_map_is_refused_with_the_reason(agency: Agency, server: ReplayServer) -> None:
    client, _ = staff_client("olu", matrix.AGENCY_OPERATOR, agency=agency)
    form = {"facility": str(Facility.objects.get(code="main").pk), "kind": "export", "every_minutes": "60",
            "location": f"{server.base}/export.csv", "enable": "1", "column_map": "first_name = First"}
    page = client.post("/staff/feeds/new", form).content.decode()
    assert "the column map must name the export&#x27;s columns for last_name" in page
    assert not PullSource.objects.exists()


def test_an_operator_cannot_connect_another_agencys_facility_or_a_local_folder(
        agency: Agency, other_agency: Agency, server: ReplayServer, tmp_path: object) -> None:
    client, _ = staff_client("olu", matrix.AGENCY_OPERATOR, agency=agency)
    north = Facility.objects.get(code="north")
    page = client.post("/staff/feeds/new", zuercher_form(server, north, enable="1")).content.decode()
    assert "Select a valid choice" in page and not PullSource.objects.exists()
    folder = {"facility": str(Facility.objects.get(code="main").pk), "kind": "directory", "location": "/etc",
              "every_minutes": "60", "test": "1"}
    page = client.post("/staff/feeds/new", folder).content.decode()
    assert "Only an administrator may read a folder on this server" in page


def test_staff_without_an_agency_or_the_role_are_refused(agency: Agency) -> None:
    client, _ = staff_client("cleo", matrix.CALL_CENTRE)
    assert client.get("/staff/feeds/new").status_code == 403
