"""Whatever the public sends to the registration API, the answer is a 202 or the error format, never 500."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st

from tests.locator.people import book
from tests.locator.test_fuzz import FUZZ, assert_error_shape
from tests.portal.test_api_manage import Registered, registered  # noqa: F401 - the fixture
from vinex.custody.models import Agency
from vinex.locator.selectors import subject_ref_make

pytestmark = pytest.mark.django_db
json_value = st.recursive(st.none() | st.booleans() | st.integers() | st.text(max_size=40),
                          lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner,
                                                                                      max_size=3), max_leaves=8)


@pytest.fixture
def settings_override(settings: Any) -> None:
    settings.VINEX_REGISTRATION_RATE = "1000000/minute"


@FUZZ
@given(body=st.dictionaries(st.sampled_from(["subject_ref", "language", "contacts", "relationship", "case_number",
                                             "extra"]), json_value))
def test_any_registration_body_gets_a_202_or_an_error(agency: Agency, settings_override: Any,
                                                     body: dict[str, Any]) -> None:
    response = Client().post("/api/v1/registrations", body, content_type="application/json")
    assert response.status_code in (202, 400, 422), response.content
    if response.status_code != 202:
        assert_error_shape(response)


@pytest.fixture
def a_subject_ref(agency: Agency, settings: Any) -> str:
    settings.VINEX_DATA_REPORT_RATE = "1000000/minute"
    return subject_ref_make(person_id=book(agency, "S-1").person_id)


@FUZZ
@given(body=st.dictionaries(st.sampled_from(["subject_ref", "topic", "details", "reporter", "reply_to", "language",
                                             "extra"]), json_value),
       valid_ref=st.booleans())
def test_any_data_report_body_gets_a_202_or_an_error(a_subject_ref: str, body: dict[str, Any],
                                                    valid_ref: bool) -> None:
    if valid_ref:
        body = {"subject_ref": a_subject_ref, "topic": "status", "details": "wrong",
                **{k: v for k, v in body.items() if k != "subject_ref"}}
    response = Client().post("/api/v1/data-reports", body, content_type="application/json")
    assert response.status_code in (202, 400, 422), response.content
    if response.status_code != 202:
        assert_error_shape(response)


@FUZZ
@given(body=st.dictionaries(st.sampled_from(["language", "call_preference", "add_contacts", "remove_contacts", "pin",
                                             "extra"]), json_value))
def test_any_change_to_a_registration_gets_a_200_or_an_error(registered: Registered,  # noqa: F811
                                                             body: dict[str, Any]) -> None:
    response = registered.call("patch", body=body)
    assert response.status_code in (200, 400, 409, 422), response.content
    if response.status_code != 200:
        assert_error_shape(response)
