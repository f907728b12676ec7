"""The locator cannot be used to list an agency's population (issue 15, items 2, 4 and 17)."""

from __future__ import annotations

import base64
import logging
from datetime import timedelta
from typing import Any

import pytest
from django.contrib.sessions.models import Session
from django.core import mail
from django.test import Client
from django.utils import timezone

from tests.locator.people import book
from vinex.custody.models import Agency, Facility, PublicLocator, Subject
from vinex.locator.jobs import sessions_clear
from vinex.locator.selectors import subject_ref_client, subject_ref_person_id

pytestmark = pytest.mark.django_db
URL = "/api/v1/locator"
BY_A_NUMBER = {"a_number": "123456789", "country_of_birth": "MX"}
BY_NAME = {"first_name": "María José", "last_name": "García Núñez", "country_of_birth": "MX"}


def found(response: Any) -> list[str]:
    assert response.status_code == 200, response.content
    return [r["name"] for r in response.json()["results"]]


# --- Booking numbers need a second fact -------------------------------------------------------------


def test_a_booking_number_alone_is_not_a_search(agency: Agency) -> None:
    book(agency, "S-1", booking_number="1001")
    response = Client().get(URL, {"agency": "pine", "booking_number": "1001"})
    assert response.status_code == 422
    assert "last_name or date_of_birth" in response.json()["detail"][0]["msg"]


def test_a_booking_number_with_the_wrong_last_name_or_birth_date_finds_nobody(agency: Agency) -> None:
    book(agency, "S-1", booking_number="1001")
    client = Client()
    assert found(client.get(URL, {"agency": "pine", "booking_number": "1001", "last_name": "Smith"})) == []
    assert found(client.get(URL, {"agency": "pine", "booking_number": "1001", "date_of_birth": "1980-05-18"})) == []
    assert found(client.get(URL, {"agency": "pine", "booking_number": "1001", "last_name": "GARCIA NUNEZ"})) == [
        "María José García Núñez"]


def test_the_portal_booking_search_asks_for_the_last_name_or_birth_date(agency: Agency) -> None:
    book(agency, "S-1", booking_number="1001")
    form = {"kind": "booking", "booking-agency": "pine", "booking-booking_number": "1001"}
    response = Client().post("/search/", form, HTTP_ACCEPT_LANGUAGE="en")
    assert response.status_code == 422
    assert "Enter the last name or the date of birth as well." in response.content.decode()
    answered = Client().post("/search/", {**form, "booking-date_of_birth": "1980-05-17"}, HTTP_ACCEPT_LANGUAGE="en")
    assert "María José García Núñez" in answered.content.decode()


# --- Unknown age fails closed -----------------------------------------------------------------------


def test_a_person_whose_date_of_birth_is_unknown_is_not_found_by_name(agency: Agency) -> None:
    book(agency, "S-1", date_of_birth=None)
    assert found(Client().get(URL, BY_NAME)) == []


# --- Clients are counted per IPv6 network and per session even without a cookie ------------------------


def test_addresses_of_one_ipv6_network_share_one_limit(agency: Agency, settings: Any) -> None:
    settings.VINEX_LOCATOR_RATE = "3/minute"
    codes = [Client(REMOTE_ADDR=f"2001:db8:1:2::{n:x}").get(URL, BY_A_NUMBER).status_code for n in range(1, 5)]
    assert codes == [200, 200, 200, 429]
    assert Client(REMOTE_ADDR="2001:db8:1:3::1").get(URL, BY_A_NUMBER).status_code == 200


def test_the_ipv6_network_size_is_configurable(agency: Agency, settings: Any) -> None:
    settings.VINEX_LOCATOR_RATE = "2/minute"
    settings.VINEX_IPV6_CLIENT_PREFIX = 48
    codes = [Client(REMOTE_ADDR=f"2001:db8:1:{n:x}::1").get(URL, BY_A_NUMBER).status_code for n in range(1, 4)]
    assert codes == [200, 200, 429]


def test_dropping_the_session_cookie_does_not_reset_the_session_limit(agency: Agency, settings: Any) -> None:
    settings.VINEX_LOCATOR_SESSION_RATE = "3/minute"
    form = {"kind": "a_number", "a_number-a_number": "A123456789", "a_number-country_of_birth": "MX"}
    codes = [Client().post("/search/", form).status_code for _ in range(4)]  # a fresh client: no cookie each time
    assert codes == [200, 200, 200, 429]


def test_a_client_keeping_its_session_has_its_own_count(agency: Agency, settings: Any) -> None:
    settings.VINEX_LOCATOR_SESSION_RATE = "2/minute"
    form = {"kind": "a_number", "a_number-a_number": "A123456789", "a_number-country_of_birth": "MX"}
    browser = Client()
    assert [browser.post("/search/", form).status_code for _ in range(3)] == [200, 200, 429]
    assert Client().post("/search/", form).status_code == 200  # a new visitor: the fresh bucket holds one search


def test_expired_sessions_are_cleared(agency: Agency) -> None:
    Client().post("/search/", {"kind": "a_number", "a_number-a_number": "A123456789",
                               "a_number-country_of_birth": "MX"})
    assert Session.objects.count() == 1
    Session.objects.update(expire_date=timezone.now() - timedelta(seconds=1))
    sessions_clear(now=timezone.now())
    assert Session.objects.count() == 0


# --- Global and per-agency budgets ------------------------------------------------------------------


def test_past_the_global_budget_everyone_is_refused_and_the_operator_told(
        agency: Agency, settings: Any, caplog: pytest.LogCaptureFixture) -> None:
    settings.VINEX_LOCATOR_GLOBAL_BUDGET = "3/hour"
    settings.VINEX_LOCATOR_ALERT_EMAILS = ("operator@example.org",)
    codes = [Client(REMOTE_ADDR=f"198.51.100.{n}").get(URL, BY_A_NUMBER).status_code for n in range(1, 6)]
    assert codes == [200, 200, 200, 429, 429]
    assert [m.to for m in mail.outbox] == [["operator@example.org"]]  # told once, not once per refusal
    assert "global search budget was crossed" in mail.outbox[0].subject
    assert any(r.levelno == logging.WARNING and r.getMessage() == "search budget crossed" for r in caplog.records)


def test_past_an_agency_budget_its_booking_numbers_find_nobody(agency: Agency, settings: Any) -> None:
    settings.VINEX_LOCATOR_AGENCY_BUDGET = "2/hour"
    settings.VINEX_LOCATOR_ALERT_EMAILS = ("operator@example.org",)
    book(agency, "S-1", booking_number="1001")
    search = {"agency": "pine", "booking_number": "1001", "last_name": "García Núñez"}
    answers = [found(Client(REMOTE_ADDR=f"198.51.100.{n}").get(URL, search)) for n in range(1, 4)]
    assert answers == [["María José García Núñez"]] * 2 + [[]]
    assert "agency:pine" in mail.outbox[0].subject
    assert found(Client().get(URL, BY_A_NUMBER)) == ["María José García Núñez"]  # other searches go on


# --- The agency's public-locator switch ---------------------------------------------------------------


def test_an_agency_can_hide_its_people_from_the_public_locator(agency: Agency) -> None:
    book(agency, "S-1", booking_number="1001")
    Agency.objects.filter(pk=agency.pk).update(public_locator=PublicLocator.HIDDEN)
    client = Client()
    assert found(client.get(URL, BY_A_NUMBER)) == []
    assert found(client.get(URL, BY_NAME)) == []
    assert found(client.get(URL, {"agency": "pine", "booking_number": "1001", "last_name": "García Núñez"})) == []


def test_an_agency_can_refuse_a_number_searches_only(agency: Agency) -> None:
    book(agency, "S-1")
    Agency.objects.filter(pk=agency.pk).update(public_locator=PublicLocator.NOT_BY_A_NUMBER)
    assert found(Client().get(URL, BY_A_NUMBER)) == []
    assert found(Client().get(URL, BY_NAME)) == ["María José García Núñez"]


def test_an_agency_refusing_immigration_enforcement_is_never_searched_by_a_number(agency: Agency) -> None:
    book(agency, "S-1")
    Agency.objects.filter(pk=agency.pk).update(sharing_policy={"deny_purposes": ["immigration_enforcement"]})
    assert found(Client().get(URL, BY_A_NUMBER)) == []
    assert found(Client().get(URL, BY_NAME)) == ["María José García Núñez"]


def test_where_a_linked_person_is_held_by_a_hiding_agency_is_not_shown(agency: Agency, other_agency: Agency) -> None:
    Facility.objects.create(agency=other_agency, code="main", name="North Prison Main", timezone="America/Chicago")
    first = book(agency, "S-1", days_ago=10)
    held = book(other_agency, "X-9", days_ago=1)
    Subject.objects.filter(pk=held.pk).update(person_id=first.person_id)
    shown = Client().get(URL, BY_NAME).json()["results"]
    assert [r["facility"]["name"] for r in shown] == ["North Prison Main"]  # while the agency shows its people
    Agency.objects.filter(pk=other_agency.pk).update(public_locator=PublicLocator.HIDDEN)
    [result] = Client().get(URL, BY_NAME).json()["results"]
    assert result["facility"] is None


# --- subject_ref ------------------------------------------------------------------------------------


def test_a_subject_ref_reveals_no_internal_id_and_names_the_searching_client(agency: Agency) -> None:
    subject = book(agency, "S-1")
    [result] = Client(REMOTE_ADDR="198.51.100.7").get(URL, BY_A_NUMBER).json()["results"]
    ref = result["subject_ref"]
    readable = base64.urlsafe_b64decode(ref.split(":")[0] + "==").decode("latin-1")
    assert f'"p":{subject.person_id}' not in readable and f'"s":{subject.pk}' not in readable
    assert subject_ref_person_id(subject_ref=ref) == subject.person_id
    assert subject_ref_client(subject_ref=ref)
    [again] = Client(REMOTE_ADDR="198.51.100.8").get(URL, BY_A_NUMBER).json()["results"]
    assert subject_ref_client(subject_ref=again["subject_ref"]) != subject_ref_client(subject_ref=ref)
