"""Roster snapshots delivered out of order: a late snapshot never undoes a newer one.

A snapshot is a whole state, not a list of changes, so an older one diffed against the newer state would
re-book the people the newer one released and release those it booked. It is recorded as ``rejected``
with the reason and changes nothing; the newest snapshot's population stands.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from tests.actors import ACTOR
from tests.feeds.roster import person, put_roster, roster_csv
from vinex.custody.models import Agency, CustodyEvent, Facility, Subject
from vinex.feeds.models import Snapshot
from vinex.feeds.services import roster_import

pytestmark = pytest.mark.django_db


def send(facility: Facility, tmp_path: Path, ids: list[str], at: datetime) -> Snapshot:
    path = tmp_path / f"roster-{len(list(tmp_path.iterdir()))}.csv"
    path.write_text(roster_csv([person(i) for i in ids]), encoding="utf-8")
    return roster_import(actor=ACTOR, facility=facility, path=path, origin="cli", received_at=at)


def statuses(facility: Facility) -> dict[str, tuple[str, str | None]]:
    """Each person's status and facility, by their id (the agency's prefix taken off)."""
    return {s.agency_subject_id: (s.status, s.facility.code if s.facility else None)
            for s in Subject.objects.filter(agency=facility.agency).select_related("facility")}


def test_a_late_snapshot_is_rejected_and_the_newer_state_stands(agency: Agency, other_agency: Agency,
                                                                 tmp_path: Path) -> None:
    in_order, shuffled = Facility.objects.get(code="main"), Facility.objects.get(code="north")
    t1, t2, t3 = (timezone.now() - timedelta(hours=h) for h in (3, 2, 1))
    snapshots = {t1: ["A", "B", "C"], t2: ["A", "B"], t3: ["A", "D"]}
    for at in (t1, t2, t3):
        assert send(in_order, tmp_path, snapshots[at], at).status == "applied"
    for at in (t1, t3):
        assert send(shuffled, tmp_path, snapshots[at], at).status == "applied"
    events_before = CustodyEvent.objects.filter(subject__agency=other_agency).count()

    late = send(shuffled, tmp_path, snapshots[t2], t2)

    assert (late.status, late.booked, late.released) == ("rejected", 0, 0)
    assert "a late snapshot never undoes a newer one" in late.reasons[0]
    assert CustodyEvent.objects.filter(subject__agency=other_agency).count() == events_before
    expected = {"A": "IN_CUSTODY", "B": "RELEASED", "C": "RELEASED", "D": "IN_CUSTODY"}
    assert statuses(in_order) == {k: (status, "main") for k, status in expected.items()}
    assert statuses(shuffled) == {k: (status, "north") for k, status in expected.items()}


def test_a_late_snapshot_does_not_re_book_someone_a_newer_one_released(agency: Agency, tmp_path: Path) -> None:
    main = Facility.objects.get(code="main")
    t1, t2, t3 = (timezone.now() - timedelta(hours=h) for h in (3, 2, 1))
    send(main, tmp_path, ["A", "B"], t1)
    send(main, tmp_path, ["A"], t3)
    assert send(main, tmp_path, ["A", "B"], t2).status == "rejected"
    assert Subject.objects.get(agency_subject_id="B").status == "RELEASED"


def test_the_api_takes_the_moment_a_snapshot_describes(agency: Agency, api: Client) -> None:
    def put(ids: list[str], at: datetime) -> Any:
        url_at = at.isoformat().replace("+", "%2B")
        response = api.put(f"/api/v1/rosters/main?as_of={url_at}", data=roster_csv([person(i) for i in ids]),
                           content_type="text/csv")
        assert response.status_code == 200, response.content
        return response.json()

    now = timezone.now()
    assert put(["A", "B"], now - timedelta(hours=2))["status"] == "applied"
    assert put(["A"], now - timedelta(hours=1))["status"] == "applied"
    late = put(["A", "B"], now - timedelta(hours=1, minutes=30))
    assert (late["status"], late["booked"]) == ("rejected", 0)
    assert Subject.objects.get(agency_subject_id="B").status == "RELEASED"
    # Without as_of the snapshot describes the moment it arrives, as before.
    assert put_roster(api, roster_csv([person("A"), person("B")])).json()["booked"] == 1
