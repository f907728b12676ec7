"""A quarter of activity built through the public services, and the counts it must give, worked out here
from what was sent (never read back from the database)."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone

from tests.actors import ACTOR
from tests.factories import subscribe
from vinex.custody.models import Agency
from vinex.custody.schemas import EventIn
from vinex.notify.lifecycle import notification_move, notifications_claim
from vinex.notify.models import Notification, NotificationStatus
from vinex.pipeline import IncomingEvent, events_ingest, payload_hash
from vinex.reports.quarter import Quarter

PINE_PEOPLE = 15
PINE_RELEASED = 12
STATE_PEOPLE = 3
LATENCIES_S = [1, 2, 2, 3, 3, 3, 4, 5, 8, 13, 21, 34]  # one per followed release


def current_quarter() -> Quarter:
    now = timezone.now()
    return Quarter(now.year, (now.month - 1) // 3 + 1)


def raw(event_id: str, type_: str, subject: str, occurred: datetime, *, facility: str = "main",
        **extra: Any) -> dict[str, Any]:
    return {"event_id": event_id, "type": type_, "occurred_at": occurred.isoformat(), "facility_code": facility,
            "subject": {"agency_subject_id": subject, "first_name": "Robin", "last_name": subject}, **extra}


def ingest(agency: Agency, raws: list[dict[str, Any]], received_at: datetime) -> list[str]:
    events = [IncomingEvent(EventIn.model_validate(r), payload_hash(r)) for r in raws]
    return [o.status for o in events_ingest(agency=agency, events=events, actor=ACTOR, received_at=received_at)]


@dataclass
class Activity:
    quarter: Quarter
    events: dict[tuple[str, str], int] = field(default_factory=dict)  # (agency, type) -> count
    people: dict[tuple[str, str], int] = field(default_factory=dict)  # (agency, status) -> count
    notifications: dict[tuple[str, str], int] = field(default_factory=dict)  # (channel, status) -> count
    subscriptions: int = 0
    late: dict[str, int] = field(default_factory=dict)
    corrections: dict[str, int] = field(default_factory=dict)
    rejected: dict[str, int] = field(default_factory=dict)
    latencies_ms: list[int] = field(default_factory=list)


def quarter_of_activity(pine: Agency, state: Agency) -> Activity:
    """Pine books 15 people and releases 12 (one release is then corrected away); State books 3; one of
    Pine's events is rejected; 12 releases are followed by email and handed over with known latencies."""
    quarter = current_quarter()
    start = quarter.start
    activity = Activity(quarter)
    booked = [raw(f"b{i}", "BOOKED", f"P{i}", start + timedelta(minutes=i)) for i in range(PINE_PEOPLE)]
    # Received 30 hours after the fact: late, for the data-quality section.
    assert ingest(pine, booked[:2], start + timedelta(hours=30)) == ["accepted"] * 2
    assert ingest(pine, booked[2:], start + timedelta(hours=1)) == ["accepted"] * (PINE_PEOPLE - 2)
    for i in range(PINE_RELEASED):
        subscribe(pine, f"P{i}", email=f"v{i}@example.org")
    released_at = start + timedelta(hours=2)
    releases = [raw(f"r{i}", "RELEASED", f"P{i}", released_at + timedelta(minutes=i), reason="bond")
                for i in range(PINE_RELEASED)]
    unknown_facility = raw("x1", "BOOKED", "P99", released_at, facility="nowhere")
    outcomes = ingest(pine, [*releases, unknown_facility], released_at + timedelta(minutes=30))
    assert outcomes == ["accepted"] * PINE_RELEASED + ["rejected"]
    # The last release was a mistake: a correction retracts it (and its person is in custody again).
    correction = raw("c1", "CORRECTION", f"P{PINE_RELEASED - 1}", released_at + timedelta(hours=1))
    assert ingest(pine, [correction], released_at + timedelta(hours=1, minutes=1)) == ["accepted"]
    state_booked = [raw(f"s{i}", "BOOKED", f"S{i}", start + timedelta(minutes=i), facility="north")
                    for i in range(STATE_PEOPLE)]
    assert ingest(state, state_booked, start + timedelta(hours=1)) == ["accepted"] * STATE_PEOPLE

    handed_over = released_at + timedelta(minutes=30)
    ids = list(Notification.objects.filter(event__type="RELEASED").order_by("event__event_id")
               .values_list("pk", flat=True))
    assert len(ids) == PINE_RELEASED
    notifications_claim(ids=ids, claim="test", now=handed_over)
    for pk, seconds in zip(ids, LATENCIES_S, strict=True):
        assert notification_move(notification_id=pk, to=NotificationStatus.SENT,
                                 sent_at=handed_over + timedelta(seconds=seconds))
    activity.latencies_ms = [s * 1000 for s in LATENCIES_S]

    activity.events = {("pine", "BOOKED"): PINE_PEOPLE, ("pine", "RELEASED"): PINE_RELEASED - 1,
                       ("state", "BOOKED"): STATE_PEOPLE}
    activity.people = {("pine", "RELEASED"): PINE_RELEASED - 1, ("pine", "IN_CUSTODY"): PINE_PEOPLE - PINE_RELEASED + 1,
                       ("state", "IN_CUSTODY"): STATE_PEOPLE}
    # The correction tells the one follower of that person that they are in custody after all (still queued).
    activity.notifications = {("email", "sent"): PINE_RELEASED, ("email", "queued"): 1}
    activity.subscriptions = PINE_RELEASED
    activity.late = {"pine": 2}
    activity.corrections = {"pine": 1}
    activity.rejected = {"pine": 1}
    return activity
