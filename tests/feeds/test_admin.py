from __future__ import annotations

from pathlib import Path

import pytest

from tests.accounts.helpers import staff_client
from tests.actors import ACTOR
from tests.feeds.roster import people, roster_csv
from vinex.accounts import matrix
from vinex.custody.models import Agency, Facility, Subject
from vinex.feeds.models import Snapshot
from vinex.feeds.services import roster_import

pytestmark = pytest.mark.django_db


def held_snapshot(agency: Agency, tmp_path: Path) -> Snapshot:
    main = Facility.objects.get(agency=agency, code="main")
    for count in (100, 50):
        path = tmp_path / f"roster-{count}.csv"
        path.write_text(roster_csv(people(count)), encoding="utf-8")
        snapshot = roster_import(actor=ACTOR, facility=main, path=path, origin="cli")
    assert snapshot.status == "quarantined"
    return snapshot


def test_an_administrator_applies_a_held_snapshot_from_the_queue(agency: Agency, tmp_path: Path) -> None:
    held = held_snapshot(agency, tmp_path)
    client, user = staff_client("ada", matrix.ADMINISTRATOR)
    page = client.get(f"/admin/feeds/snapshot/{held.pk}/change/").content.decode()
    assert "50 of 100 people (50%) would be released" in page
    client.post("/admin/feeds/snapshot/", {"action": "apply_held", "_selected_action": [held.pk]})
    held.refresh_from_db()
    assert (held.status, held.decided_by) == ("applied", user)
    assert Subject.objects.filter(status="IN_CUSTODY").count() == 50


def test_rejecting_from_the_queue_changes_nobody(agency: Agency, tmp_path: Path) -> None:
    held = held_snapshot(agency, tmp_path)
    client, user = staff_client("ada", matrix.ADMINISTRATOR)
    client.post("/admin/feeds/snapshot/", {"action": "reject_held", "_selected_action": [held.pk]})
    held.refresh_from_db()
    assert (held.status, held.decided_by) == ("rejected", user)
    assert Subject.objects.filter(status="IN_CUSTODY").count() == 100
