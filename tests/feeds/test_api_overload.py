"""Past capacity the event API says so (503 with Retry-After) instead of letting every answer wait longer
and longer; a client that honours Retry-After loses nothing."""

from __future__ import annotations

import fcntl
import json
import threading
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

from tests.conftest import event
from tests.feeds.roster import people, put_roster, roster_csv
from vinex.custody.models import Agency, CustodyEvent
from vinex.feeds import api as feeds_api

pytestmark = pytest.mark.django_db

URL = "/api/v1/custody-events"


def post(client: Client, body: Any) -> Any:
    return client.post(URL, data=json.dumps(body), content_type="application/json")


@pytest.fixture
def busy_server(settings: Any) -> Any:
    """Another request is recording a batch in this server process, and requests wait only briefly."""
    settings.VINEX_INGEST_MAX_WAIT_SECONDS = 0.05
    settings.VINEX_INGEST_RETRY_AFTER_SECONDS = 2
    gate = feeds_api._ONE_BATCH_AT_A_TIME
    taken = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with gate:
            taken.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    taken.wait(5)
    yield release
    release.set()
    holder.join()


def test_a_request_past_capacity_is_answered_503_with_retry_after_and_nothing_is_recorded(
        api: Client, busy_server: threading.Event) -> None:
    response = post(api, {"events": [event("b1", "BOOKED")]})
    assert response.status_code == 503
    assert response["Retry-After"] == "2"
    [detail] = response.json()["detail"]
    assert detail["type"] == "overloaded"
    assert not CustodyEvent.objects.exists()


def test_a_client_that_sends_again_after_retry_after_loses_nothing(api: Client, busy_server: threading.Event) -> None:
    batch = {"events": [event("b1", "BOOKED"), event("b2", "BOOKED", subject="S-2")]}
    assert post(api, batch).status_code == 503
    busy_server.set()  # the other batch is done
    again = post(api, batch)
    assert again.status_code == 200
    assert again.json()["accepted"] == 2
    assert sorted(CustodyEvent.objects.values_list("event_id", flat=True)) == ["b1", "b2"]


def test_a_request_within_capacity_waits_for_its_turn(api: Client, settings: Any) -> None:
    settings.VINEX_INGEST_MAX_WAIT_SECONDS = 5
    gate = feeds_api._ONE_BATCH_AT_A_TIME
    gate.acquire()
    threading.Timer(0.1, gate.release).start()
    response = post(api, {"events": [event("b1", "BOOKED")]})
    assert response.status_code == 200
    assert response.json()["accepted"] == 1


def test_a_second_roster_upload_on_the_host_is_told_to_come_back(api: Client, agency: Agency, settings: Any) -> None:
    with (Path(settings.VAR_DIR) / "roster-import.lock").open("a") as other_import:
        fcntl.flock(other_import, fcntl.LOCK_EX)  # as another server process importing a roster does
        busy = put_roster(api, roster_csv(people(3)))
        fcntl.flock(other_import, fcntl.LOCK_UN)
    assert busy.status_code == 503
    assert busy["Retry-After"] == str(settings.VINEX_ROSTER_RETRY_AFTER_SECONDS)
    assert not CustodyEvent.objects.exists()
    again = put_roster(api, roster_csv(people(3)))
    assert again.status_code == 200
    assert again.json()["booked"] == 3
