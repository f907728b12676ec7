from __future__ import annotations

import json

import pytest
from django.test import Client

from tests.factories import subscribe
from tests.feeds.roster import HEADER, people, person, put_roster, roster_csv
from vinex.custody.models import Agency, CustodyEvent, Subject
from vinex.custody.services import apikey_create
from vinex.feeds.models import AgencyFeed, Snapshot
from vinex.notify.models import Notification

pytestmark = pytest.mark.django_db


def status_of(agency: Agency, asid: str) -> tuple[str, str | None]:
    subject = Subject.objects.get(agency=agency, agency_subject_id=asid)
    return subject.status, subject.facility.code if subject.facility else None


def test_a_first_snapshot_books_everyone_in_it(api: Client, agency: Agency) -> None:
    response = put_roster(api, roster_csv(people(3)))
    assert response.status_code == 200, response.content
    body = response.json()
    assert (body["status"], body["booked"], body["released"], body["unchanged"], body["errors"]) == (
        "applied", 3, 0, 0, [])
    assert status_of(agency, "S-2") == ("IN_CUSTODY", "main")
    event = CustodyEvent.objects.get(subject__agency_subject_id="S-2")
    assert (event.type, event.source, event.source_ref) == ("BOOKED", "roster", f"snapshot:{body['snapshot_id']}:row:4")


def test_a_booking_happened_when_the_agency_says_in_the_facility_time_zone(api: Client, agency: Agency) -> None:
    put_roster(api, roster_csv([person("S-1", booked_at="2026-11-20 08:00"), person("S-2", booked_at="")]))
    booked = CustodyEvent.objects.get(subject__agency_subject_id="S-1")
    assert booked.occurred_at.isoformat() == "2026-11-20T13:00:00+00:00"  # 08:00 in New York
    assert CustodyEvent.objects.get(subject__agency_subject_id="S-2").occurred_at > booked.occurred_at


def test_the_same_snapshot_twice_changes_nothing(api: Client, agency: Agency) -> None:
    first = put_roster(api, roster_csv(people(5))).json()
    events = CustodyEvent.objects.count()
    second = put_roster(api, roster_csv(people(5))).json()
    assert second["snapshot_id"] == first["snapshot_id"]
    assert CustodyEvent.objects.count() == events
    assert Snapshot.objects.count() == 1


def test_someone_missing_from_the_next_snapshot_is_released_and_told(api: Client, agency: Agency) -> None:
    put_roster(api, roster_csv(people(30)))
    subscribe(agency, "S-7", email="victim@example.org")
    body = put_roster(api, roster_csv([p for p in people(30) if p["agency_subject_id"] != "S-7"])).json()
    assert (body["status"], body["released"], body["unchanged"]) == ("applied", 1, 29)
    assert status_of(agency, "S-7") == ("RELEASED", "main")
    assert list(Notification.objects.values_list("event__type", flat=True)) == ["RELEASED"]
    assert CustodyEvent.objects.get(type="RELEASED").source_ref == f"snapshot:{body['snapshot_id']}:absent"


def test_a_bad_row_is_reported_and_its_person_keeps_their_status(api: Client, agency: Agency) -> None:
    put_roster(api, roster_csv(people(30)))
    subscribe(agency, "S-10", email="victim@example.org")
    rows = people(31)
    rows[10] = person("S-10", date_of_birth="1990-02-31")  # line 12: not a date
    body = put_roster(api, roster_csv(rows)).json()
    assert body["status"] == "applied"
    assert body["errors"] == [{"loc": ["line", 12, "date_of_birth"], "msg": "date_of_birth must be a date such as "
                               "1990-04-25", "type": "invalid_row"}]
    assert (body["booked"], body["released"], body["unchanged"]) == (1, 0, 29)
    assert status_of(agency, "S-10") == ("IN_CUSTODY", "main")
    assert status_of(agency, "S-30") == ("IN_CUSTODY", "main")
    assert not Notification.objects.exists()


def test_a_person_appearing_in_another_facility_is_one_transfer(api: Client, agency: Agency) -> None:
    put_roster(api, roster_csv(people(30)))
    subscribe(agency, "S-3", email="victim@example.org")
    moved = put_roster(api, roster_csv([person("S-3")]), facility="annex").json()
    assert (moved["transferred"], moved["booked"]) == (1, 0)
    left = put_roster(api, roster_csv([p for p in people(30) if p["agency_subject_id"] != "S-3"])).json()
    assert (left["released"], left["unchanged"]) == (0, 29)
    events = CustodyEvent.objects.filter(subject__agency_subject_id="S-3").order_by("pk")
    assert [e.type for e in events] == ["BOOKED", "TRANSFERRED"]
    assert status_of(agency, "S-3") == ("IN_CUSTODY", "annex")
    assert list(Notification.objects.values_list("event__type", flat=True)) == ["TRANSFERRED"]


def test_a_person_who_leaves_first_and_appears_in_the_next_snapshot_elsewhere_is_one_transfer(
        api: Client, agency: Agency) -> None:
    put_roster(api, roster_csv(people(30)))
    put_roster(api, roster_csv([person("A-1")]), facility="annex")
    subscribe(agency, "S-3", email="victim@example.org")
    left = put_roster(api, roster_csv([p for p in people(30) if p["agency_subject_id"] != "S-3"])).json()
    assert (left["released"], left["unchanged"]) == (0, 29)
    assert status_of(agency, "S-3") == ("IN_CUSTODY", "main")  # may be on the annex's next roster
    moved = put_roster(api, roster_csv([person("A-1"), person("S-3")]), facility="annex").json()
    assert (moved["transferred"], moved["booked"], moved["released"]) == (1, 0, 0)
    assert status_of(agency, "S-3") == ("IN_CUSTODY", "annex")
    assert list(Notification.objects.values_list("event__type", flat=True)) == ["TRANSFERRED"]


def test_a_person_on_no_other_roster_is_released_when_the_other_facility_reports(api: Client, agency: Agency) -> None:
    put_roster(api, roster_csv(people(30)))
    put_roster(api, roster_csv([person("A-1")]), facility="annex")
    put_roster(api, roster_csv([p for p in people(30) if p["agency_subject_id"] != "S-3"]))
    annex = put_roster(api, roster_csv([person("A-1"), person("A-2")]), facility="annex").json()
    assert (annex["released"], annex["booked"]) == (1, 1)
    assert status_of(agency, "S-3") == ("RELEASED", "main")
    released = CustodyEvent.objects.get(type="RELEASED")
    assert released.facility.code == "main"


def test_a_truncated_file_is_held_and_nobody_is_told(api: Client, agency: Agency) -> None:
    put_roster(api, roster_csv(people(30)))
    subscribe(agency, "S-29", email="victim@example.org")
    text = roster_csv(people(30))
    cut = text[: text.index("S-29") + 8]  # stops in the middle of S-29's row
    body = put_roster(api, cut).json()
    assert body["status"] == "quarantined"
    assert any("truncated" in r for r in body["reasons"])
    assert status_of(agency, "S-29") == ("IN_CUSTODY", "main")
    assert not Notification.objects.exists()


def test_an_empty_body_is_held(api: Client, agency: Agency) -> None:
    put_roster(api, roster_csv(people(30)))
    body = put_roster(api, "").json()
    assert body["status"] == "quarantined"
    assert "the snapshot is empty" in body["reasons"]
    assert Subject.objects.filter(status="IN_CUSTODY").count() == 30


def test_latin1_and_bom_files_parse(api: Client, agency: Agency) -> None:
    rows = [person("S-1", first_name="José", last_name="Núñez")]
    latin1 = roster_csv(rows, newline="\r\n").encode("latin-1")
    assert put_roster(api, latin1).json()["booked"] == 1
    assert Subject.objects.get(agency_subject_id="S-1").last_name == "Núñez"
    bom = b"\xef\xbb\xbf" + roster_csv([*rows, person("S-2", first_name="Zoë")]).encode()
    assert put_roster(api, bom).json()["booked"] == 1
    assert Subject.objects.get(agency_subject_id="S-2").first_name == "Zoë"


def test_a_json_list_is_a_roster_too(api: Client, agency: Agency) -> None:
    items = [{**person("S-1"), "identifiers": {"a_number": "A123-456-789"}}, *people(40, start=2), "oops"]
    body = put_roster(api, json.dumps(items), content_type="application/json").json()
    assert (body["status"], body["booked"], body["errors"][0]["loc"]) == ("applied", 41, ["row", 42, ""])
    assert Subject.objects.get(agency_subject_id="S-1").a_number == "123456789"


def test_an_agency_names_its_own_columns(api: Client, agency: Agency) -> None:
    AgencyFeed.objects.create(agency=agency, column_map={"agency_subject_id": "Inmate No", "first_name": "FNAME",
                                                        "last_name": "LNAME"})
    text = "Inmate No,FNAME,LNAME,Cell\nX-1,Ana,Ortiz,B12\n"
    assert put_roster(api, text).json()["booked"] == 1
    assert Subject.objects.get(agency_subject_id="X-1").last_name == "Ortiz"


def test_a_header_without_required_columns_is_refused(api: Client, agency: Agency) -> None:
    response = put_roster(api, "id,name\n1,Ana\n")
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["header"]


def test_the_body_is_streamed_past_the_upload_memory_cap(api: Client, agency: Agency, settings: object) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024  # type: ignore[attr-defined]
    body = put_roster(api, roster_csv(people(200))).json()
    assert body["booked"] == 200


def test_keys_without_the_roster_scope_and_unknown_facilities_are_refused(agency: Agency, api: Client) -> None:
    token = apikey_create(agency=agency, scopes=["events:write"])[1]
    events_only = Client(headers={"Authorization": f"Bearer {token}"})
    assert put_roster(events_only, roster_csv(people(1))).status_code == 403
    assert put_roster(Client(), roster_csv(people(1))).status_code == 401
    missing = put_roster(api, roster_csv(people(1)), facility="nowhere")
    assert (missing.status_code, missing.json()["detail"][0]["type"]) == (404, "not_found")


def test_a_facility_of_another_agency_is_not_found(api: Client, agency: Agency, other_agency: Agency) -> None:
    assert put_roster(api, roster_csv(people(1)), facility="north").status_code == 404


def test_header_defaults_are_documented_names() -> None:
    assert roster_csv([]).strip() == ",".join(HEADER)
