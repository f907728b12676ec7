"""Whatever a partner agency's key sends to the partner endpoints, the answer is data or the error format."""

from __future__ import annotations

import pytest
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st

from tests.actors import ACTOR
from tests.locator.test_fuzz import FUZZ, assert_error_shape, junk
from vinex.custody.models import Agency
from vinex.custody.services import apikey_create
from vinex.policy.sharing import Purpose

pytestmark = pytest.mark.django_db
PARAMS = ("purpose", "a_number", "agency", "agency_subject_id", "booking_number", "extra")
# Every purpose, granted to the key or not: one it was not issued for is refused (403), in the error format too.
junk_or_purpose = st.one_of(junk, st.sampled_from([p.value for p in Purpose]))
ANSWERS = (200, 400, 403, 404, 422)


@FUZZ
@given(params=st.dictionaries(st.sampled_from(PARAMS), junk_or_purpose), code=junk)
def test_any_partner_query_gets_results_or_an_error(agency: Agency, params: dict[str, str], code: str) -> None:
    token = apikey_create(agency=agency, scopes=["custody:read"], purposes=["court", "law_enforcement", "research"],
                          actor=ACTOR)[1]
    client = Client(headers={"Authorization": f"Bearer {token}"})

    lookup = client.get("/api/v1/partner/subjects", params)
    export = client.get(f"/api/v1/partner/agencies/{code.replace('/', '')}/population.csv", params)

    assert lookup.status_code in ANSWERS, lookup.content
    if lookup.status_code != 200:
        assert_error_shape(lookup)
    else:
        assert isinstance(lookup.json()["results"], list)
    assert export.status_code in ANSWERS, export
    if export.status_code != 200:
        assert_error_shape(export)
