"""A roster's scheduled_release column becomes RELEASE_SCHEDULED events when a date appears or changes."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from django.contrib.auth.models import User

from tests.factories import subscribe
from tests.feeds.roster import people, person
from tests.feeds.test_services import in_custody, send
from vinex.custody.models import Agency, CustodyEvent, Subject
from vinex.feeds.services import snapshot_approve
from vinex.notify.models import Notification, Tier

pytestmark = pytest.mark.django_db

DEC_1_9AM_NEW_YORK = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)


def scheduled(agency: Agency) -> list[tuple[str, datetime | None]]:
    events = CustodyEvent.objects.filter(agency=agency, type="RELEASE_SCHEDULED").order_by("pk")
    return [(e.subject.agency_subject_id, e.scheduled_for) for e in events]


def test_a_new_date_is_one_event_and_the_same_date_again_is_none(agency: Agency, tmp_path: Path) -> None:
    send(agency, tmp_path, people(3))
    rows = [*people(2), person("S-2", scheduled_release="2026-12-01T09:00:00-05:00")]
    first = send(agency, tmp_path, rows)
    assert (first.status, first.summary["release_scheduled"]) == ("applied", 1)
    assert scheduled(agency) == [("S-2", DEC_1_9AM_NEW_YORK)]
    assert Subject.objects.get(agency_subject_id="S-2").scheduled_release_at == DEC_1_9AM_NEW_YORK
    assert send(agency, tmp_path, rows).pk == first.pk  # the same file again is a no-op
    # Other news in a new file, the same date: still nothing new about S-2's release.
    assert send(agency, tmp_path, [*rows, person("S-3")]).booked == 1
    assert len(scheduled(agency)) == 1


def test_a_changed_date_is_a_new_event_and_a_date_alone_is_midnight_at_the_facility(
        agency: Agency, tmp_path: Path) -> None:
    send(agency, tmp_path, [person("S-0", scheduled_release="2026-12-01 09:00")])
    send(agency, tmp_path, [person("S-0", scheduled_release="2026-12-24")])
    assert scheduled(agency) == [("S-0", DEC_1_9AM_NEW_YORK), ("S-0", datetime(2026, 12, 24, 5, 0, tzinfo=UTC))]
    ids = CustodyEvent.objects.filter(type="RELEASE_SCHEDULED").values_list("event_id", flat=True)
    assert len(set(ids)) == 2


def test_a_cleared_date_sends_nothing_and_the_known_date_stands(agency: Agency, tmp_path: Path) -> None:
    send(agency, tmp_path, [person("S-0", scheduled_release="2026-12-01T14:00:00Z"), person("S-1")])
    cleared = send(agency, tmp_path, [person("S-0"), person("S-1", first_name="Robyn")])
    assert cleared.status == "applied"
    assert len(scheduled(agency)) == 1
    assert Subject.objects.get(agency_subject_id="S-0").scheduled_release_at == DEC_1_9AM_NEW_YORK


def test_a_booking_with_a_date_tells_both(agency: Agency, tmp_path: Path) -> None:
    send(agency, tmp_path, people(2))
    subscribe(agency, "S-0", email="victim@example.org", tier=Tier.VERIFIED_VICTIM)
    send(agency, tmp_path, [person("S-1")])
    assert Subject.objects.get(agency_subject_id="S-0").status == "RELEASED"
    Notification.objects.all().delete()
    send(agency, tmp_path, [person("S-0", scheduled_release="2026-12-01T09:00:00-05:00"), person("S-1")])
    types = list(Notification.objects.order_by("pk").values_list("event__type", flat=True))
    assert types == ["BOOKED", "RELEASE_SCHEDULED"]
    booked, release = CustodyEvent.objects.filter(subject__agency_subject_id="S-0").order_by("-pk")[:2][::-1]
    assert release.occurred_at > booked.occurred_at
    assert "Dec 1, 2026" in Notification.objects.get(event__type="RELEASE_SCHEDULED").body


def test_only_verified_victims_are_told_the_date(agency: Agency, tmp_path: Path) -> None:
    send(agency, tmp_path, people(2))
    subscribe(agency, "S-1", email="verified@example.org", tier=Tier.VERIFIED_VICTIM)
    subscribe(agency, "S-1", email="public@example.org", tier=Tier.PUBLIC)
    send(agency, tmp_path, [person("S-0"), person("S-1", scheduled_release="2026-12-01T09:00:00-05:00")])
    bodies = {n.contact.value: n.body for n in Notification.objects.select_related("contact")}
    assert "Dec 1, 2026" in bodies["verified@example.org"]
    assert "Dec 1" not in bodies["public@example.org"] and "scheduled to be released soon" in bodies[
        "public@example.org"]


def test_a_bad_date_is_reported_by_line_and_does_not_release_the_person(agency: Agency, tmp_path: Path) -> None:
    send(agency, tmp_path, people(50))
    rows = people(50)
    rows[20] = person("S-20", scheduled_release="2026-02-30")
    rows[30] = person("S-30", scheduled_release="next week")
    rows[40] = person("S-40", scheduled_release="2026-12-01T09:00:00-05:00")
    snapshot = send(agency, tmp_path, rows)
    assert (snapshot.status, snapshot.released, snapshot.error_count) == ("applied", 0, 2)
    expected = ("scheduled_release must be a date such as 2026-12-01 or a date and time such as "
                "2026-12-01T09:00:00-05:00")
    assert [(e["loc"], e["msg"]) for e in snapshot.errors] == [
        (["line", 22, "scheduled_release"], expected), (["line", 32, "scheduled_release"], expected)]
    assert in_custody(agency) == {f"S-{i}" for i in range(50)}
    assert scheduled(agency) == [("S-40", DEC_1_9AM_NEW_YORK)]


def test_a_transfer_keeps_its_date_and_brings_no_second_notice(agency: Agency, tmp_path: Path) -> None:
    dated = person("S-0", scheduled_release="2026-12-01T09:00:00-05:00")
    send(agency, tmp_path, [dated, *people(2, start=1)])
    send(agency, tmp_path, [person("A-1")], facility="annex")
    send(agency, tmp_path, people(2, start=1))
    send(agency, tmp_path, [person("A-1"), dated], facility="annex")
    subject = Subject.objects.get(agency_subject_id="S-0")
    assert subject.facility is not None
    assert (subject.facility.code, subject.scheduled_release_at) == ("annex", DEC_1_9AM_NEW_YORK)
    assert CustodyEvent.objects.filter(subject=subject, type="TRANSFERRED").count() == 1
    assert len(scheduled(agency)) == 1


def test_a_held_snapshot_tells_the_date_only_once_approved(agency: Agency, tmp_path: Path) -> None:
    reviewer = User.objects.create_superuser("reviewer", password="a long enough password")
    send(agency, tmp_path, people(100))
    held = send(agency, tmp_path, [person("S-99", scheduled_release="2026-12-01T09:00:00-05:00"), *people(60)])
    assert (held.status, held.summary["release_scheduled"], scheduled(agency)) == ("quarantined", 1, [])
    snapshot_approve(snapshot=held, user=reviewer)
    assert scheduled(agency) == [("S-99", DEC_1_9AM_NEW_YORK)]
