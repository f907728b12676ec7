"""Random input to the event API never gets a server error, and the answer always has its shape."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import event

pytestmark = pytest.mark.django_db

scalars = st.one_of(st.none(), st.booleans(), st.integers(), st.floats(allow_nan=False), st.text(max_size=30))
json_values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4) | st.dictionaries(
    st.text(max_size=12), inner, max_size=4), max_leaves=12)
fields = st.sampled_from(["event_id", "type", "occurred_at", "facility_code", "to_facility_code", "reason",
                          "scheduled_for", "hearing_id", "subject", "corrects_event_id"])
subject_fields = st.sampled_from(["agency_subject_id", "first_name", "last_name", "date_of_birth", "country_of_birth",
                                  "identifiers"])


@st.composite
def mangled_events(draw: st.DrawFn) -> dict[str, Any]:
    """A valid event with some fields replaced by random JSON."""
    item = event(draw(st.text(min_size=1, max_size=20)), draw(st.sampled_from(["BOOKED", "RELEASED", "TRANSFERRED"])))
    for name in draw(st.lists(fields, max_size=3)):
        item[name] = draw(json_values)
    if isinstance(item.get("subject"), dict):
        for name in draw(st.lists(subject_fields, max_size=2)):
            item["subject"][name] = draw(json_values)
    return item


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.one_of(st.lists(mangled_events(), max_size=5).map(lambda e: {"events": e}), json_values))
def test_random_batches_get_4xx_or_per_item_results(api: Client, body: Any) -> None:
    response = api.post("/api/v1/custody-events", data=json.dumps(body), content_type="application/json")
    assert response.status_code in (200, 400, 422), response.content
    payload = response.json()
    if response.status_code == 200:
        assert payload["accepted"] + payload["pending"] + payload["duplicates"] + payload["rejected"] == len(
            body["events"])
        assert all(r["status"] in ("accepted", "pending", "duplicate", "rejected") for r in payload["results"])
    else:
        assert all(set(item) == {"loc", "msg", "type"} for item in payload["detail"])
