"""The agency event API as an agency's integration meets it: status codes, error shapes, no loss."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client

from tests.conftest import event
from vinex.custody.models import Agency, ApiKey, CustodyEvent
from vinex.custody.services import apikey_create

pytestmark = pytest.mark.django_db
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
        "accepted": 2, "duplicates": 0, "rejected": 0,
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
    key, token = apikey_create(agency=agency)
    ApiKey.objects.filter(pk=key.pk).update(revoked_at="2026-01-01T00:00:00Z")
    response = Client(headers={"Authorization": f"Bearer {token}"}).post(URL, data="{}",
                                                                          content_type="application/json")
    assert response.status_code == 401


def test_a_key_without_the_events_scope_is_403(agency: Agency) -> None:
    _, token = apikey_create(agency=agency, scopes=["rosters:write"])
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


def test_an_invalid_transition_is_rejected_with_a_reason(api: Client) -> None:
    post(api, {"events": [event("b1", "BOOKED"), event("r1", "RELEASED", minutes=1)]})
    body = post(api, {"events": [event("r2", "RELEASED", minutes=2)]}).json()
    assert body["results"][0]["status"] == "rejected"
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
