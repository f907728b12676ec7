"""Rejected events are counted as they are rejected, for the data-quality section."""

from __future__ import annotations

import json

import pytest
from django.db.models import Sum
from django.test import Client

from tests.conftest import event
from vinex.reports.models import EventRejection

pytestmark = pytest.mark.django_db


def test_events_refused_by_the_api_are_counted_for_their_agency(api: Client) -> None:
    malformed = {"event_id": "m1", "type": "NOT_A_TYPE"}
    unknown_facility = event("u1", "BOOKED", facility="nowhere")
    body = {"events": [event("b1", "BOOKED"), malformed, unknown_facility]}
    response = api.post("/api/v1/custody-events", json.dumps(body), content_type="application/json")
    assert response.json()["rejected"] == 2
    assert EventRejection.objects.aggregate(n=Sum("count"))["n"] == 2
    assert set(EventRejection.objects.values_list("agency__code", flat=True)) == {"pine"}


def test_a_batch_without_rejections_leaves_no_row(api: Client) -> None:
    body = {"events": [event("b1", "BOOKED")]}
    assert api.post("/api/v1/custody-events", json.dumps(body), content_type="application/json").status_code == 200
    assert not EventRejection.objects.exists()
