"""The subject rules as the event API applies them (the roster applies the same: tests/feeds/test_rules_parity.py)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from pydantic import ValidationError

from tests.conftest import event
from vinex.custody import rules
from vinex.custody.schemas import SubjectIn


def subject(**fields: Any) -> SubjectIn:
    return SubjectIn.model_validate({"agency_subject_id": "S-1", "first_name": "Ana", "last_name": "Ortiz", **fields})


@pytest.mark.parametrize("written", ["A123456789", "a 123-456-789", " A-123 456 789 ", "123\u3000456\u3000789"])
def test_an_a_number_is_read_with_or_without_its_prefix_spaces_and_dashes(written: str) -> None:
    assert subject(identifiers={"a_number": written}).identifiers.a_number == "123456789"  # type: ignore[union-attr]


@pytest.mark.parametrize("written", ["١٢٣٤٥٦٧٨٩", "１２３４５６７８９", "A123\x1c456789", "-", "AA123456789"])
def test_an_a_number_in_other_digits_or_with_control_characters_is_refused(written: str) -> None:
    with pytest.raises(ValidationError, match="a_number must be 9 digits"):
        subject(identifiers={"a_number": written})


@pytest.mark.parametrize("written", ["0", "1990-01-02T00:00:00", "1990-1-2", "19900102", 0, 631238400])
def test_a_date_of_birth_is_a_date_written_yyyy_mm_dd(written: str | int) -> None:
    with pytest.raises(ValidationError):
        subject(date_of_birth=written)
    assert str(subject(date_of_birth=" 1990-01-02 ").date_of_birth) == "1990-01-02"


@pytest.mark.parametrize(("written", "why"), [("2019-02-29", "day value is outside expected range"),
                                              ("1990-13-01", "month value is outside expected range")])
def test_a_date_of_birth_that_does_not_exist_is_refused_with_the_reason(written: str, why: str) -> None:
    with pytest.raises(ValidationError, match=why):
        subject(date_of_birth=written)


# "ſv" and "ıt" upper-case to SV and IT, and are still refused: only ASCII letters name a country.
@pytest.mark.parametrize("written", ["ß", "ﬅ", "\x1fMX", "ſv", "ıt", "ZZ", "EU"])
def test_a_country_is_two_ascii_letters(written: str) -> None:
    with pytest.raises(ValidationError, match="ISO 3166-1 alpha-2"):
        subject(country_of_birth=written)
    assert subject(country_of_birth=" mx ").country_of_birth == "MX"


@pytest.mark.django_db
def test_a_future_date_of_birth_is_reported_on_its_field(api: Client) -> None:
    item = event("b1", "BOOKED")
    item["subject"]["date_of_birth"] = (rules.today() + timedelta(days=1)).isoformat()
    body = api.post("/api/v1/custody-events", data=json.dumps({"events": [item]}),
                    content_type="application/json").json()
    assert body["results"][0]["errors"] == [{"loc": ["events", 0, "subject", "date_of_birth"],
                                             "msg": "date_of_birth is in the future", "type": "value_error"}]
