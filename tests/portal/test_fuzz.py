"""Whatever the public sends to the registration API, the answer is a 202 or the error format, never 500."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st

from tests.locator.test_fuzz import FUZZ, assert_error_shape
from vinex.custody.models import Agency

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
