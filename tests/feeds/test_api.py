"""The intake API as an agency's integration meets it: event batches and roster snapshots, their status
codes, error shapes, and no loss."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from tests.actors import ACTOR
from tests.conftest import event
from tests.factories import subscribe
from tests.feeds.roster import HEADER, people, person, put_roster, roster_csv
from vinex.custody.models import Agency, ApiKey, CustodyEvent, Subject
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
    token = apikey_create(actor=ACTOR, agency=agency, scopes=["events:write"])[1]
    events_only = Client(headers={"Authorization": f"Bearer {token}"})
    assert put_roster(events_only, roster_csv(people(1))).status_code == 403
    assert put_roster(Client(), roster_csv(people(1))).status_code == 401
    missing = put_roster(api, roster_csv(people(1)), facility="nowhere")
    assert (missing.status_code, missing.json()["detail"][0]["type"]) == (404, "not_found")


def test_a_facility_of_another_agency_is_not_found(api: Client, agency: Agency, other_agency: Agency) -> None:
    assert put_roster(api, roster_csv(people(1)), facility="north").status_code == 404


def test_header_defaults_are_documented_names() -> None:
    assert roster_csv([]).strip() == ",".join(HEADER)


# --- Event batches ----------------------------------------------------------------------------------

URL = "/api/v1/custody-events"


def post(client: Client, body: Any) -> Any:
    return client.post(URL, data=json.dumps(body), content_type="application/json")


def assert_error_shape(response: Any) -> list[dict[str, Any]]:
    detail = response.json()["detail"]
    assert detail and all(set(item) == {"loc", "msg", "type"} for item in detail)
    return list(detail)


def test_a_valid_batch_is_accepted(api: Client) -> None:
    response = post(api, {"events": [event("b1", "BOOKED"), event("b2", "BOOKED", subject="S-2")]})
    assert response.status_code == 200
    assert response.json() == {
        "accepted": 2, "pending": 0, "duplicates": 0, "rejected": 0,
        "results": [{"event_id": "b1", "status": "accepted", "errors": []},
                    {"event_id": "b2", "status": "accepted", "errors": []}],
    }


def test_missing_or_wrong_key_is_401(agency: Agency) -> None:
    for headers in ({}, {"Authorization": "Bearer vx_nope_nope"}, {"Authorization": "Basic abc"}):
        response = Client(headers=headers).post(URL, data="{}", content_type="application/json")
        assert response.status_code == 401
        assert assert_error_shape(response)[0]["type"] == "unauthenticated"
        assert response["WWW-Authenticate"].startswith("Bearer")


def test_revoked_key_is_401(agency: Agency) -> None:
    key, token = apikey_create(actor=ACTOR, agency=agency)
    ApiKey.objects.filter(pk=key.pk).update(revoked_at="2026-01-01T00:00:00Z")
    response = Client(headers={"Authorization": f"Bearer {token}"}).post(URL, data="{}",
                                                                          content_type="application/json")
    assert response.status_code == 401


def test_a_key_without_the_events_scope_is_403(agency: Agency) -> None:
    _, token = apikey_create(actor=ACTOR, agency=agency, scopes=["rosters:write"])
    response = post(Client(headers={"Authorization": f"Bearer {token}"}), {"events": [event("b1", "BOOKED")]})
    assert response.status_code == 403
    assert not CustodyEvent.objects.exists()


@pytest.mark.parametrize("body", ['{"events": [', '{"events": [{"event_id": "\\ud800"}]}', '{"events": NaN}'])
def test_malformed_json_is_400(api: Client, body: str) -> None:
    # Not JSON, a lone surrogate (no character at all), a number JSON does not have.
    response = api.post(URL, data=body, content_type="application/json")
    assert response.status_code == 400
    assert assert_error_shape(response)[0]["loc"] == ["body"]


@pytest.mark.parametrize("body", [[], {"events": "nope"}, {"events": None}, {}, {"events": [1]}, "text"])
def test_wrong_types_get_a_4xx_with_field_errors(api: Client, body: Any) -> None:
    response = post(api, body)
    assert response.status_code in (200, 422)
    if response.status_code == 422:
        assert_error_shape(response)
    else:
        assert response.json()["rejected"] == 1


def test_item_errors_name_the_field(api: Client) -> None:
    bad_type = event("x1", "EXPLODED")
    no_zone = event("x2", "BOOKED") | {"occurred_at": "2026-11-20T10:00:00"}
    bad_a_number = event("x3", "BOOKED")
    bad_a_number["subject"]["identifiers"] = {"a_number": "12345"}
    transfer_without_target = event("x4", "TRANSFERRED")
    body = post(api, {"events": [bad_type, no_zone, bad_a_number, transfer_without_target]}).json()
    assert body["rejected"] == 4
    locs = [r["errors"][0]["loc"] for r in body["results"]]
    assert locs[0] == ["events", 0, "type"]
    assert locs[1] == ["events", 1, "occurred_at"]
    assert locs[2] == ["events", 2, "subject", "identifiers", "a_number"]
    assert "to_facility_code" in body["results"][3]["errors"][0]["msg"]


def test_unknown_facility_and_another_agencys_facility_are_rejected_per_item(api: Client,
                                                                            other_agency: Agency) -> None:
    body = post(api, {"events": [event("b1", "BOOKED", facility="north"), event("b2", "BOOKED"),
                                 event("b3", "BOOKED", subject="S-3", facility="nowhere")]}).json()
    assert [r["status"] for r in body["results"]] == ["rejected", "accepted", "rejected"]
    assert body["results"][0]["errors"][0]["type"] == "unknown_facility"
    assert list(CustodyEvent.objects.values_list("event_id", flat=True)) == ["b2"]


def test_an_event_that_cannot_follow_yet_is_pending_with_a_reason(api: Client) -> None:
    post(api, {"events": [event("b1", "BOOKED"), event("r1", "RELEASED", minutes=1)]})
    body = post(api, {"events": [event("r2", "RELEASED", minutes=2)]}).json()
    assert (body["pending"], body["rejected"], body["results"][0]["status"]) == (1, 0, "pending")
    assert "RELEASED" in body["results"][0]["errors"][0]["msg"]


def test_resending_is_reported_as_duplicate_and_loses_nothing(api: Client) -> None:
    batch = {"events": [event("b1", "BOOKED"), event("r1", "RELEASED", minutes=1)]}
    post(api, batch)
    body = post(api, batch).json()
    assert (body["accepted"], body["duplicates"]) == (0, 2)
    assert CustodyEvent.objects.count() == 2


def test_more_than_10000_events_is_422_and_nothing_is_recorded(api: Client) -> None:
    events = [event(f"b{n}", "BOOKED", subject=f"S-{n}") for n in range(10_001)]
    response = post(api, {"events": events})
    assert response.status_code == 422
    assert "10000" in assert_error_shape(response)[0]["msg"]
    assert not CustodyEvent.objects.exists()


def test_an_oversize_body_is_413(api: Client, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    response = post(api, {"events": [event(f"b{n}", "BOOKED") for n in range(20)]})
    assert response.status_code == 413
    assert assert_error_shape(response)[0]["type"] == "body_too_large"


def test_openapi_documents_the_event_schema(client: Client) -> None:
    schema = client.get("/api/v1/openapi.json").json()
    body = schema["paths"]["/api/v1/custody-events"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/EventBatch"}
    assert "EventIn" in schema["components"]["schemas"]
    assert "BOOKED" in json.dumps(schema["components"]["schemas"])


def test_control_characters_are_refused_per_item(api: Client) -> None:
    bad = event("b\x00", "BOOKED")
    worse = event("b2", "BOOKED")
    worse["subject"]["last_name"] = "Quill\x00"
    body = post(api, {"events": [bad, worse, event("b3", "BOOKED", subject="S-3")]}).json()
    assert [r["status"] for r in body["results"]] == ["rejected", "rejected", "accepted"]
    assert body["results"][1]["errors"][0]["loc"] == ["events", 1, "subject", "last_name"]


@pytest.mark.parametrize(("field", "value"), [("event_id", "b\x00"), ("facility_code", "ma\tin"),
                                              ("court_name", "Court\x1f"), ("corrects_event_id", "e\n1")])
def test_a_control_character_is_a_value_error_on_its_field(api: Client, field: str, value: str) -> None:
    body = post(api, {"events": [event("b1", "BOOKED") | {field: value}]}).json()
    assert body["results"][0]["errors"] == [
        {"loc": ["events", 0, field], "msg": "control characters are not allowed", "type": "value_error"}]


def test_a_long_value_with_a_control_character_reports_its_length(api: Client) -> None:
    item = event("b1", "BOOKED")
    item["subject"]["first_name"] = "x" * 101 + "\x00"
    error = post(api, {"events": [item]}).json()["results"][0]["errors"][0]
    assert (error["loc"], error["type"]) == (["events", 0, "subject", "first_name"], "string_too_long")
