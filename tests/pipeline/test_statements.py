"""What one pushed event costs the database: the statements of a single-event request, counted.

An agency's system pushes each booking or release as it happens, so the statements (on PostgreSQL, round
trips, most of them while the agency's ingest lock is held) of one request bound how many events a second
a server takes. These counts may go down; a change that makes them grow fails here.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.conftest import event
from tests.factories import subscribe
from vinex.custody.models import Agency
from vinex.notify.models import Notification

pytestmark = pytest.mark.django_db

# Authentication (remembered), the agency and its facilities, the duplicate check, the subject, its
# update, the followers (with their contacts), the event, the outbox row, the audit head and entries (one
# statement on PostgreSQL, with the locks before it) and the savepoints of the test's transaction.
SINGLE_EVENT_STATEMENTS = {"sqlite": 12, "postgresql": 11}


def post(api: Client, *events: dict[str, Any]) -> dict[str, Any]:
    response = api.post("/api/v1/custody-events", {"events": list(events)}, content_type="application/json")
    assert response.status_code == 200, response.content
    body: dict[str, Any] = response.json()
    return body


def booked_and_followed(api: Client, agency: Agency, people: int) -> None:
    post(api, *(event(f"b{n}", "BOOKED", subject=f"S-{n}") for n in range(people)))
    for n in range(people):
        subscribe(agency, f"S-{n}", email=f"v{n}@example.org")


def transfer(n: int) -> dict[str, Any]:
    return event(f"t{n}", "TRANSFERRED", subject=f"S-{n}", minutes=5, to_facility_code="annex")


def test_a_single_pushed_event_that_notifies_costs_a_fixed_number_of_statements(api: Client, agency: Agency) -> None:
    booked_and_followed(api, agency, 1)

    with CaptureQueriesContext(connection) as statements:
        assert post(api, transfer(0))["accepted"] == 1

    assert Notification.objects.filter(event__event_id="t0").count() == 1
    assert len(statements) <= SINGLE_EVENT_STATEMENTS[connection.vendor]


def test_a_batch_costs_the_statements_of_one_event_and_an_id_reservation(api: Client, agency: Agency) -> None:
    booked_and_followed(api, agency, 10)
    with CaptureQueriesContext(connection) as single:
        post(api, transfer(0))

    with CaptureQueriesContext(connection) as batch:
        assert post(api, *(transfer(n) for n in range(1, 10)))["accepted"] == 9

    assert Notification.objects.filter(event__event_id__startswith="t").count() == 10
    assert len(batch) <= len(single) + 1
