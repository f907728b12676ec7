"""Whatever the public sends, the locator answers in the error format, never with a 500."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from vinex.custody.models import Agency

pytestmark = pytest.mark.django_db
FUZZ = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
PARAMS = ("a_number", "country_of_birth", "first_name", "last_name", "date_of_birth", "agency", "booking_number")
junk = st.one_of(st.text(max_size=120), st.sampled_from(["", " ", "A123456789", "MX", "1980-02-30", "%", "*",
                                                           "\x00", "9" * 500, "pine", "null"]))


def assert_error_shape(response: Any) -> None:
    body = response.json()
    assert isinstance(body["detail"], list) and body["detail"]
    for error in body["detail"]:
        assert set(error) == {"loc", "msg", "type"} and error["msg"]


@FUZZ
@given(params=st.dictionaries(st.sampled_from(PARAMS), junk))
def test_any_locator_query_gets_an_answer_or_a_422(agency: Agency, settings_override: Any,
                                                    params: dict[str, str]) -> None:
    response = Client().get("/api/v1/locator", params)
    assert response.status_code in (200, 422), response.content
    if response.status_code == 422:
        assert_error_shape(response)


@pytest.fixture
def settings_override(settings: Any) -> None:
    settings.VINEX_LOCATOR_RATE = settings.VINEX_LOCATOR_SESSION_RATE = "1000000/minute"
