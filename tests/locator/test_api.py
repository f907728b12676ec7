from __future__ import annotations

import logging
from datetime import date
from typing import Any

import pytest
from django.test import Client

from tests.locator.logs import logged_fields
from tests.locator.people import book, release
from vinex.custody.models import Agency
from vinex.locator.selectors import subject_ref_person_id

pytestmark = pytest.mark.django_db
URL = "/api/v1/locator"
BY_NAME = {"first_name": "María José", "last_name": "García Núñez", "country_of_birth": "MX"}


def search(**params: Any) -> Any:
    return Client().get(URL, params)


def names(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return [r["name"] for r in response.json()["results"]]


def test_finds_a_person_by_a_number_with_only_public_fields(agency: Agency) -> None:
    subject = book(agency, "S-1")
    response = search(a_number="A123456789", country_of_birth="mx")
    [result] = response.json()["results"]
    assert set(result) == {"name", "status", "facility", "subject_ref"}
    assert result["name"] == "María José García Núñez"
    assert result["status"] == "IN_CUSTODY"
    assert result["facility"] == {"name": "Pine County Jail", "address": "", "phone": "+1 555 010 0101"}
    assert subject_ref_person_id(subject_ref=result["subject_ref"]) == subject.person_id
    for secret in ("1980", "123456789", "S-1"):
        assert secret not in response.content.decode()


def test_name_search_ignores_case_accents_and_spacing(agency: Agency) -> None:
    book(agency, "S-1")
    found = search(first_name="  maria   jose ", last_name="GARCIA nunez", country_of_birth="MX")
    assert names(found) == ["María José García Núñez"]


def test_date_of_birth_narrows_a_name_search(agency: Agency) -> None:
    book(agency, "S-1")
    assert names(search(**BY_NAME, date_of_birth="1980-05-17")) == ["María José García Núñez"]
    assert names(search(**BY_NAME, date_of_birth="1981-05-17")) == []


def test_booking_number_search_for_county_agencies(agency: Agency) -> None:
    book(agency, "S-1", booking_number="B-2026-77")
    assert names(search(agency="pine", booking_number="B-2026-77", last_name="garcia nunez")) == [
        "María José García Núñez"]
    assert names(search(agency="pine", booking_number="B-2026-77", date_of_birth="1980-05-17")) == [
        "María José García Núñez"]
    assert names(search(agency="pine", booking_number="B-2026-7", last_name="García Núñez")) == []


@pytest.mark.parametrize(
    "params",
    [
        {"first_name": "María", "last_name": "García Núñez", "country_of_birth": "MX"},
        {"first_name": "María José", "last_name": "García", "country_of_birth": "MX"},
        {"first_name": "Mar*", "last_name": "García Núñez", "country_of_birth": "MX"},
        {"first_name": "%", "last_name": "%", "country_of_birth": "MX"},
        {"first_name": "María José", "last_name": "García Núñez", "country_of_birth": "GT"},
        {"a_number": "123456780", "country_of_birth": "MX"},
        {"a_number": "123456789", "country_of_birth": "US"},
    ],
)
def test_partial_wildcard_or_mismatched_searches_find_nobody(agency: Agency, params: dict[str, str]) -> None:
    book(agency, "S-1")
    assert names(search(**params)) == []


def test_minors_are_never_found(agency: Agency) -> None:
    book(agency, "S-1", date_of_birth=date.today().replace(year=date.today().year - 16))
    assert names(search(a_number="123456789", country_of_birth="MX")) == []
    assert names(search(**BY_NAME)) == []


def test_protected_people_are_never_found(agency: Agency) -> None:
    book(agency, "S-1", protected=True)
    assert names(search(a_number="123456789", country_of_birth="MX")) == []
    assert names(search(**BY_NAME)) == []


def test_people_released_more_than_60_days_ago_are_not_found(agency: Agency) -> None:
    long_ago = book(agency, "S-1", days_ago=100)
    release(agency, long_ago, days_ago=61)
    recent = book(agency, "S-2", a_number="987654321", days_ago=100)
    release(agency, recent, days_ago=59)
    assert names(search(a_number="123456789", country_of_birth="MX")) == []
    [result] = search(a_number="987654321", country_of_birth="MX").json()["results"]
    assert (result["status"], result["facility"]) == ("RELEASED", None)


def test_hidden_people_look_exactly_like_unknown_people(agency: Agency) -> None:
    book(agency, "S-1", protected=True)
    hidden = search(a_number="123456789", country_of_birth="MX")
    unknown = search(a_number="111111111", country_of_birth="MX")
    assert (hidden.status_code, hidden.content) == (unknown.status_code, unknown.content)


@pytest.mark.parametrize(
    ("params", "loc"),
    [
        ({}, ["query"]),
        ({"first_name": "Ana", "country_of_birth": "MX"}, ["query"]),
        ({"a_number": "12345", "country_of_birth": "MX"}, ["query", "a_number"]),
        ({"a_number": "123456789", "country_of_birth": "Mexico"}, ["query", "country_of_birth"]),
        ({**BY_NAME, "date_of_birth": "17/05/1980"}, ["query", "date_of_birth"]),
        ({**BY_NAME, "first_name": "x" * 101}, ["query", "first_name"]),
    ],
)
def test_bad_searches_get_a_clear_422(agency: Agency, params: dict[str, str], loc: list[str]) -> None:
    response = search(**params)
    assert response.status_code == 422
    [error] = response.json()["detail"]
    assert error["loc"][: len(loc)] == loc
    assert error["msg"]


def test_searches_beyond_the_rate_get_429_with_retry_after(agency: Agency, settings: Any) -> None:
    settings.VINEX_LOCATOR_RATE = "3/minute"
    book(agency, "S-1")
    client = Client()
    codes = [client.get(URL, {"a_number": "123456789", "country_of_birth": "MX"}).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]
    refused = client.get(URL, {"a_number": "123456789", "country_of_birth": "MX"})
    assert 1 <= int(refused["Retry-After"]) <= 120  # a burst fades over at most two periods
    assert refused.json()["detail"][0]["type"] == "rate_limited"
    other_address = Client(REMOTE_ADDR="203.0.113.9")
    assert other_address.get(URL, {"a_number": "123456789", "country_of_birth": "MX"}).status_code == 200


def test_logs_carry_counts_but_never_the_search_terms(agency: Agency, caplog: pytest.LogCaptureFixture,
                                                      settings: Any) -> None:
    settings.VINEX_LOCATOR_RATE = "2/minute"
    book(agency, "S-1")
    caplog.set_level(logging.DEBUG)
    search(**BY_NAME, date_of_birth="1980-05-17")
    search(first_name="Zacarías", last_name="Quintanilla", country_of_birth="MX")
    search(a_number="A-123-456-789", country_of_birth="MX")  # refused: over the rate
    search(first_name="Zacarías", last_name="", country_of_birth="MX")  # invalid
    lines = [caplog.text, *(logged_fields(r) for r in caplog.records)]
    assert any(getattr(r, "results", None) == 1 for r in caplog.records)
    for term in ("María", "Maria", "García", "Garcia", "Zacar", "Quintanilla", "123456789", "456", "1980"):
        assert not any(term.lower() in line.lower() for line in lines), term


def test_every_person_shown_is_audited_without_the_search_terms(agency: Agency) -> None:
    from vinex.audit.models import AuditEntry

    subject = book(agency, "S-1")
    search(**BY_NAME)
    search(a_number="111111111", country_of_birth="MX")  # nobody shown, nothing to audit
    [entry] = AuditEntry.objects.filter(object_type="person")  # booking the person is audited too
    assert (entry.action, entry.object_id) == ("view", str(subject.person_id))
    assert entry.actor.startswith("public:") and "127.0.0.1" not in entry.actor
    recorded = " ".join([entry.actor, entry.purpose, entry.object_id])
    assert "García" not in recorded and "Maria" not in recorded
