"""Any arrival order of a valid history, with copies, ends where the history sent in order ends.

Two twins get the same history: one in order, one shuffled with some events sent twice. The stored
history, the status, the facility and the locator's answer must then be the same, and the shuffled twin
must never hear more messages than the one whose agency sent everything in order.
"""

from __future__ import annotations

import itertools
import json
import zlib
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.actors import ACTOR
from tests.factories import subscribe
from vinex.custody import statemachine as sm
from vinex.custody.models import Agency, CustodyEvent, EventType, Facility, Subject
from vinex.custody.schemas import EventIn
from vinex.notify.models import Notification
from vinex.pipeline import IncomingEvent, events_ingest, payload_hash

pytestmark = pytest.mark.django_db

FACILITIES = ("main", "annex", "west")
_twins = itertools.count(1)
_clients = itertools.count(1)
Deliver = Callable[[Agency, list[dict[str, Any]]], list[str]]


@pytest.fixture
def west(agency: Agency) -> Facility:
    return Facility.objects.create(agency=agency, code="west", name="Pine West Unit")


def raw(twin: str, n: int, type_: str, at: datetime, facility: str, **extra: Any) -> dict[str, Any]:
    """Event ``n`` of a twin's history: the same facts for both twins, their own ids and A-number."""
    return {
        "event_id": f"{twin}-{n:02d}", "type": type_, "occurred_at": at.isoformat(), "facility_code": facility,
        "subject": {"agency_subject_id": twin, "first_name": "Robin", "last_name": f"Quill {twin}",
                    "date_of_birth": "1980-05-17", "country_of_birth": "MX",
                    "identifiers": {"a_number": f"{zlib.crc32(twin.encode()) % 10**9:09d}"}},
        **extra,
    }


def by_service(agency: Agency, raws: list[dict[str, Any]]) -> list[str]:
    incoming = [IncomingEvent(EventIn.model_validate(r), payload_hash(r)) for r in raws]
    return [o.status for o in events_ingest(actor=ACTOR, agency=agency, events=incoming)]


def by_http(api: Client) -> Deliver:
    def deliver(agency: Agency, raws: list[dict[str, Any]]) -> list[str]:
        response = api.post("/api/v1/custody-events", data=json.dumps({"events": raws}),
                            content_type="application/json")
        assert response.status_code == 200, response.content
        return [r["status"] for r in response.json()["results"]]
    return deliver


def outcome(agency: Agency, twin: str) -> dict[str, Any]:
    """Everything a user could notice about a twin, with the twin's own name and ids taken out."""
    subject = Subject.objects.get(agency=agency, agency_subject_id=twin)
    history = sorted(
        (e.event_id.removeprefix(twin), e.type, e.occurred_at, e.facility.code,
         e.to_facility.code if e.to_facility else None, e.reason, e.scheduled_for)
        for e in CustodyEvent.objects.filter(subject=subject).select_related("facility", "to_facility"))
    # Each search from its own address: the locator's per-address limit is not what is tested here.
    client = next(_clients)
    found = Client(REMOTE_ADDR=f"10.9.{client // 250}.{client % 250}").get(
        "/api/v1/locator", {"a_number": subject.a_number, "country_of_birth": "MX"})
    assert found.status_code == 200, found.content
    locator = [(r["status"], r["facility"]) for r in found.json()["results"]]
    return {
        "history": history, "status": subject.status, "reason": subject.status_reason,
        "facility": subject.facility.code if subject.facility else None,
        "status_changed_at": subject.status_changed_at, "scheduled_release_at": subject.scheduled_release_at,
        "last_event_at": subject.last_event_at, "pending_events": subject.pending_events, "locator": locator,
    }


def messages(agency: Agency, twin: str) -> int:
    return Notification.objects.filter(event__subject__agency=agency, event__subject__agency_subject_id=twin).count()


# --- The reproduction by hand ------------------------------------------------------------------------


def test_transfers_sent_before_the_events_that_explain_them_are_held_then_applied(agency: Agency) -> None:
    t = [timezone.now() - timedelta(days=2) + timedelta(hours=h) for h in range(6)]
    history = {
        0: ("BOOKED", "main", {}),
        1: ("TRANSFERRED", "main", {"to_facility_code": "annex"}),
        2: ("TRANSFERRED", "annex", {"to_facility_code": "main"}),
        3: ("RELEASED", "main", {"reason": "bond"}),
        4: ("BOOKED", "annex", {}),
        5: ("TRANSFERRED", "annex", {"to_facility_code": "main"}),
    }

    def send(twin: str, n: int) -> str:
        type_, facility, extra = history[n]
        [status] = by_service(agency, [raw(twin, n, type_, t[n], facility, **extra)])
        return status

    for twin in ("IN", "OUT"):
        assert send(twin, 0) == "accepted"
        subscribe(agency, twin, email=f"{twin.lower()}@example.org")
    assert [send("IN", n) for n in (1, 2, 3, 4, 5)] == ["accepted"] * 5
    assert [send("OUT", n) for n in (5, 2, 4, 1, 3)] == ["pending", "pending", "accepted", "accepted", "accepted"]

    shuffled, in_order = outcome(agency, "OUT"), outcome(agency, "IN")
    assert shuffled == in_order
    assert (shuffled["status"], shuffled["facility"], shuffled["pending_events"]) == ("IN_CUSTODY", "main", 0)
    assert shuffled["locator"] == [("IN_CUSTODY", {"name": "Pine County Jail", "address": "",
                                                   "phone": "+1 555 010 0101"})]
    assert messages(agency, "OUT") <= messages(agency, "IN") == 5


def test_a_held_event_that_becomes_the_newest_word_is_told_once(agency: Agency, west: Facility) -> None:
    t = [timezone.now() - timedelta(days=1) + timedelta(hours=h) for h in range(3)]
    by_service(agency, [raw("S", 0, "BOOKED", t[0], "main")])
    subscribe(agency, "S", email="v@example.org")
    # The move from the annex is early: the transfer that put the person there has not arrived.
    assert by_service(agency, [raw("S", 2, "TRANSFERRED", t[2], "annex", to_facility_code="west")]) == ["pending"]
    assert messages(agency, "S") == 0
    assert Subject.objects.get(agency_subject_id="S").facility_id != west.pk
    assert by_service(agency, [raw("S", 1, "TRANSFERRED", t[1], "main", to_facility_code="annex")]) == ["accepted"]
    # The transfer to the annex is superseded by the move it explains: only that move is told, once.
    told = Notification.objects.filter(event__subject__agency_subject_id="S").values_list("event__event_id", flat=True)
    assert list(told) == ["S-02"]
    assert CustodyEvent.objects.get(event_id="S-02").notified
    subject = Subject.objects.get(agency_subject_id="S")
    assert (subject.facility_id, subject.pending_events) == (west.pk, 0)


def test_an_event_that_can_never_be_valid_is_still_rejected(agency: Agency) -> None:
    at = timezone.now()
    assert by_service(agency, [raw("S", 0, "BOOKED", at, "nowhere"),
                               raw("S", 1, "CORRECTION", at, "main", corrects_event_id="never-sent")]) == [
        "rejected", "rejected"]


# --- Property: arbitrary permutations with copies ----------------------------------------------------


def _moves(state: sm.CustodyState) -> list[tuple[str, str, dict[str, Any]]]:
    """The events that may follow ``state`` (a facility to act at, and extra fields)."""
    here = state.facility_code or "main"
    status = state.status
    found: list[tuple[str, str, dict[str, Any]]] = []
    if status == "IN_CUSTODY":
        found += [("TRANSFERRED", here, {"to_facility_code": f}) for f in FACILITIES if f != here]
        found += [("RELEASED", here, {"reason": "bond"}), ("TEMPORARY_RELEASE", here, {}), ("ESCAPED", here, {}),
                  ("RELEASE_SCHEDULED", here, {"scheduled_for": "2027-03-01T12:00:00+00:00"})]
    elif status == "ON_LEAVE":
        found += [("RETURNED_TO_CUSTODY", here, {}), ("RELEASED", here, {"reason": "parole"}), ("ESCAPED", here, {})]
    elif status == "ESCAPED":
        found += [("RECAPTURED", f, {}) for f in FACILITIES]
    if status in ("RELEASED", "ESCAPED", "IN_CUSTODY"):
        found += [("BOOKED", f, {}) for f in FACILITIES]
    return found


@st.composite
def histories(draw: st.DrawFn) -> list[tuple[str, str, dict[str, Any]]]:
    """A valid history after a booking at the main jail: each step a possible next step."""
    state = sm.CustodyState(sm.S.IN_CUSTODY, facility_code="main")
    steps: list[tuple[str, str, dict[str, Any]]] = [("BOOKED", "main", {})]
    for _ in range(draw(st.integers(2, 8))):
        type_, facility, extra = draw(st.sampled_from(_moves(state)))
        facts = sm.EventFacts("x", type_, timezone.now(), 0, facility, extra.get("to_facility_code"),
                              extra.get("reason", ""), timezone.now() if type_ == EventType.RELEASE_SCHEDULED else None)
        assert sm.transition_error(state, facts) is None
        state = sm.apply(state, facts)
        steps.append((type_, facility, extra))
    return steps


def _check_any_order_converges(agency: Agency, deliver: Deliver, data: st.DataObject) -> None:
    steps = data.draw(histories())
    start = timezone.now() - timedelta(days=5)
    number = next(_twins)
    twins = (f"IN{number}", f"OUT{number}")

    def event_of(twin: str, n: int) -> dict[str, Any]:
        type_, facility, extra = steps[n]
        return raw(twin, n, type_, start + timedelta(hours=n), facility, **extra)

    for twin in twins:  # both are booked, in order, and followed
        assert deliver(agency, [event_of(twin, 0)]) == ["accepted"]
        subscribe(agency, twin, email=f"{twin.lower()}@example.org")
    rest = list(range(1, len(steps)))
    for n in rest:
        assert deliver(agency, [event_of(twins[0], n)]) == ["accepted"]

    copies = data.draw(st.lists(st.sampled_from(rest), max_size=3), label="sent twice")
    arrival = data.draw(st.permutations(rest + copies), label="arrival order")
    size = data.draw(st.integers(1, 3), label="batch size")
    statuses: list[str] = []
    for first in range(0, len(arrival), size):
        statuses += deliver(agency, [event_of(twins[1], n) for n in arrival[first:first + size]])
    assert "rejected" not in statuses

    assert outcome(agency, twins[1]) == outcome(agency, twins[0])
    assert outcome(agency, twins[1])["pending_events"] == 0
    assert messages(agency, twins[1]) <= messages(agency, twins[0])


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_arrival_order_through_the_service_converges(agency: Agency, west: Facility, data: st.DataObject) -> None:
    _check_any_order_converges(agency, by_service, data)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_arrival_order_through_the_http_api_converges(agency: Agency, west: Facility, api: Client,
                                                          data: st.DataObject) -> None:
    _check_any_order_converges(agency, by_http(api), data)
