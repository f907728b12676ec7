from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.contrib.auth.models import Permission, User
from django.core.exceptions import PermissionDenied
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.actors import ACTOR
from tests.factories import subscribe
from tests.feeds.roster import people, person, roster_csv
from vinex.custody.models import Agency, CustodyEvent, Facility, Subject
from vinex.feeds.models import Snapshot, SnapshotData
from vinex.feeds.services import (
    SAMPLE_SIZE,
    SnapshotDecisionError,
    roster_import,
    snapshot_approve,
    snapshot_reject,
)
from vinex.notify.models import Notification

pytestmark = pytest.mark.django_db


@pytest.fixture
def reviewer(db: None) -> User:
    user = User.objects.create_user("reviewer", password="a long enough password", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="review_snapshot"))
    return User.objects.get(pk=user.pk)  # fresh, so the permission cache sees the grant


def send(agency: Agency, tmp_path: Path, rows: list[dict[str, str]], *, facility: str = "main",
         text: str | None = None) -> Snapshot:
    path = tmp_path / f"roster-{len(list(tmp_path.iterdir()))}.csv"
    path.write_text(roster_csv(rows) if text is None else text, encoding="utf-8")
    return roster_import(actor=ACTOR,
                         facility=Facility.objects.get(agency=agency, code=facility), path=path, origin="cli")


def in_custody(agency: Agency, facility: str = "main") -> set[str]:
    return set(Subject.objects.filter(agency=agency, facility__code=facility, status="IN_CUSTODY")
               .values_list("agency_subject_id", flat=True))


def test_releasing_30_percent_at_once_is_held_until_approved_then_told_once(
        agency: Agency, tmp_path: Path, reviewer: User) -> None:
    send(agency, tmp_path, people(100))
    subscribe(agency, "S-5", email="victim@example.org")
    held = send(agency, tmp_path, people(70, start=30))
    assert held.status == "quarantined"
    # The reviewer sees who would go: a sample of them, none of those staying.
    sample = held.summary["sample"]["released"]
    assert held.summary["released"] == 30 and len(sample) == SAMPLE_SIZE
    assert set(sample) <= {f"S-{i}" for i in range(30)}
    assert any("30 of 100 people (30%) would be released" in r for r in held.reasons)
    assert len(in_custody(agency)) == 100 and not Notification.objects.exists()

    applied = snapshot_approve(snapshot=held, user=reviewer, note="county moved 30 people to state prison")
    assert (applied.status, applied.released, applied.decided_by, applied.decided_at is not None) == (
        "applied", 30, reviewer, True)
    assert len(in_custody(agency)) == 70
    assert list(Notification.objects.values_list("event__type", flat=True)) == ["RELEASED"]
    assert not SnapshotData.objects.exists()
    with pytest.raises(SnapshotDecisionError):
        snapshot_approve(snapshot=held, user=reviewer)
    assert Notification.objects.count() == 1


def test_a_small_facility_may_release_a_few_people_at_once(agency: Agency, tmp_path: Path) -> None:
    send(agency, tmp_path, people(30))
    assert send(agency, tmp_path, people(25)).status == "applied"  # 5 people (17%): below the 20-person floor


def test_rejecting_keeps_everyone_and_records_who(agency: Agency, tmp_path: Path, reviewer: User) -> None:
    send(agency, tmp_path, people(100))
    held = send(agency, tmp_path, people(10))
    rejected = snapshot_reject(snapshot=held, user=reviewer, note="truncated export")
    assert (rejected.status, rejected.decided_by, rejected.decision_note) == ("rejected", reviewer, "truncated export")
    assert len(in_custody(agency)) == 100
    assert not CustodyEvent.objects.filter(type="RELEASED").exists()


def test_only_reviewers_decide(agency: Agency, tmp_path: Path) -> None:
    send(agency, tmp_path, people(100))
    held = send(agency, tmp_path, people(10))
    clerk = User.objects.create_user("clerk", password="a long enough password", is_staff=True)
    with pytest.raises(PermissionDenied):
        snapshot_approve(snapshot=held, user=clerk)
    assert Snapshot.objects.get(pk=held.pk).status == "quarantined"


def test_an_older_held_snapshot_cannot_undo_a_newer_one(agency: Agency, tmp_path: Path, reviewer: User) -> None:
    send(agency, tmp_path, people(100))
    held = send(agency, tmp_path, people(10))
    send(agency, tmp_path, people(101))
    with pytest.raises(SnapshotDecisionError, match="newer snapshot"):
        snapshot_approve(snapshot=held, user=reviewer)


def test_a_changed_header_is_held(agency: Agency, tmp_path: Path) -> None:
    send(agency, tmp_path, people(5))
    text = "agency_subject_id,first_name,last_name\n" + "".join(f"S-{i},Robin,Quill\n" for i in range(5))
    held = send(agency, tmp_path, [], text=text)
    assert held.status == "quarantined" and any("header changed" in r for r in held.reasons)


def test_a_row_count_far_from_the_trend_is_held(agency: Agency, tmp_path: Path) -> None:
    for extra in range(3):
        send(agency, tmp_path, people(100 + extra))
    held = send(agency, tmp_path, people(200))
    assert held.status == "quarantined" and any("far from the recent 101" in r for r in held.reasons)


def test_many_failing_rows_are_held(agency: Agency, tmp_path: Path) -> None:
    rows = people(50) + [person(f"B-{i}", date_of_birth="soon") for i in range(10)]
    held = send(agency, tmp_path, rows)
    assert held.status == "quarantined" and "10 of 60 rows failed validation" in held.reasons
    assert not Subject.objects.exists()


def roster_event(agency: Agency, event_id: str, type_: str, asid: str) -> dict[str, Any]:
    latest = Snapshot.objects.filter(facility__agency=agency).order_by("-received_at").first()
    assert latest is not None
    return {"event_id": event_id, "type": type_, "facility_code": "main",
            "occurred_at": (latest.received_at + timedelta(seconds=1)).isoformat(),
            "subject": {"agency_subject_id": asid, "first_name": "Robin", "last_name": "Quill"}}


def test_someone_on_leave_stays_on_leave_and_an_escapee_who_reappears_is_recaptured(
        agency: Agency, tmp_path: Path) -> None:
    from tests.custody.test_services import ingest

    send(agency, tmp_path, people(3))
    assert ingest(agency, roster_event(agency, "l1", "TEMPORARY_RELEASE", "S-1"),
                  roster_event(agency, "e1", "ESCAPED", "S-2")) == ["accepted", "accepted"]
    snapshot = send(agency, tmp_path, people(4))
    assert (snapshot.booked, snapshot.unchanged, snapshot.released) == (2, 2, 0)
    assert Subject.objects.get(agency_subject_id="S-1").status == "ON_LEAVE"
    recaptured = CustodyEvent.objects.filter(source="roster", subject__agency_subject_id="S-2").last()
    assert recaptured is not None and recaptured.type == "RECAPTURED"
    assert send(agency, tmp_path, [person("S-0"), person("S-2"), person("S-3")]).released == 0
    assert Subject.objects.get(agency_subject_id="S-1").status == "ON_LEAVE"


def test_a_refused_event_is_reported_and_the_rest_applied(agency: Agency, tmp_path: Path) -> None:
    from tests.custody.test_services import ingest

    send(agency, tmp_path, people(2))
    assert ingest(agency, roster_event(agency, "d1", "DECEASED", "S-0")) == ["accepted"]
    snapshot = send(agency, tmp_path, people(3))
    assert (snapshot.booked, snapshot.error_count) == (1, 1)
    assert snapshot.errors[0]["loc"] == ["line", 2, "agency_subject_id"]
    assert "BOOKED refused" in snapshot.errors[0]["msg"]


rosters = st.lists(st.sets(st.integers(min_value=0, max_value=40), max_size=35), min_size=1, max_size=6)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sequence=rosters)
def test_any_sequence_of_snapshots_ends_with_the_last_ones_population(
        agency: Agency, tmp_path_factory: Any, reviewer: User, sequence: list[set[int]]) -> None:
    Notification.objects.all().delete()
    CustodyEvent.objects.all().delete()
    Snapshot.objects.all().delete()
    Subject.objects.all().delete()
    folder = tmp_path_factory.mktemp("rosters")
    for ids in sequence:
        snapshot = send(agency, folder, [person(f"S-{i}") for i in sorted(ids)])
        if snapshot.status == "quarantined":
            snapshot_approve(snapshot=snapshot, user=reviewer)
    assert in_custody(agency) == {f"S-{i}" for i in sequence[-1]}


# --- Feed health -------------------------------------------------------------------------------------


def test_a_silent_feed_alerts_the_operator_once_by_email(agency: Agency, tmp_path: Path, smtp_settings: Any) -> None:
    from django.utils import timezone

    from tests.support.smtp import body_text
    from vinex.feeds.models import AgencyFeed
    from vinex.feeds.services import feed_alert_recipient_add, feed_health_check
    from vinex.notify.worker import Worker

    AgencyFeed.objects.create(agency=agency, cadence_seconds=3600)
    feed_alert_recipient_add(actor=ACTOR, value="operator@vinex.example.org")
    feed_alert_recipient_add(actor=ACTOR, value="jail-it@pine.example.org", agency=agency)
    send(agency, tmp_path, people(3))
    now = timezone.now()
    assert feed_health_check(actor=ACTOR, now=now + timedelta(minutes=119)) == []
    alerts = feed_health_check(actor=ACTOR, now=now + timedelta(minutes=121))
    assert [a.notified for a in alerts] == [2]
    assert feed_health_check(actor=ACTOR, now=now + timedelta(hours=5)) == []  # the same silence alerts once

    worker = Worker(threads=1)
    try:
        worker.run_once()
    finally:
        worker.close()
    messages = smtp_settings.inbox.wait_for(2)
    assert sorted(m["To"] for m in messages) == ["jail-it@pine.example.org", "operator@vinex.example.org"]
    assert messages[0]["Subject"] == "vinex: feed from pine/main is silent"
    assert "Nothing has arrived from Pine County Jail (pine/main) since" in body_text(messages[0])


def test_a_feed_that_speaks_again_and_falls_silent_again_alerts_again(agency: Agency, tmp_path: Path) -> None:
    from django.utils import timezone

    from vinex.feeds.services import feed_alert_recipient_add, feed_health_check

    feed_alert_recipient_add(actor=ACTOR, value="operator@vinex.example.org")
    main = Facility.objects.get(agency=agency, code="main")
    now = timezone.now()
    roster_import(actor=ACTOR,
                  facility=main, path=_file(tmp_path, people(3)), origin="cli", received_at=now - timedelta(days=6))
    assert len(feed_health_check(actor=ACTOR, now=now - timedelta(days=3))) == 1
    roster_import(actor=ACTOR,
                  facility=main, path=_file(tmp_path, people(4)), origin="cli", received_at=now - timedelta(days=2))
    assert feed_health_check(actor=ACTOR, now=now - timedelta(days=1)) == []
    assert len(feed_health_check(actor=ACTOR, now=now + timedelta(days=1))) == 1
    assert Notification.objects.filter(template="feed_stale").count() == 2


def test_pushed_events_count_as_the_feed_speaking(agency: Agency) -> None:
    from django.utils import timezone

    from tests.conftest import event
    from tests.custody.test_services import ingest
    from vinex.feeds.models import FacilityFeed
    from vinex.feeds.services import feed_events_catch_up, feed_health_check

    ingest(agency, event("b1", "BOOKED", facility="annex"))
    feed_events_catch_up()
    feed = FacilityFeed.objects.get(facility__code="annex")
    assert feed.last_event_at is not None and feed.last_snapshot_at is None
    assert feed_health_check(actor=ACTOR, now=timezone.now() + timedelta(hours=47)) == []
    assert len(feed_health_check(actor=ACTOR, now=timezone.now() + timedelta(hours=49))) == 1


def _file(folder: Path, rows: list[dict[str, str]]) -> Path:
    path = folder / f"extra-{len(list(folder.iterdir()))}.csv"
    path.write_text(roster_csv(rows), encoding="utf-8")
    return path


def test_derived_events_are_what_validation_would_have_built() -> None:
    from datetime import date, datetime

    from vinex.custody.models import EventType, ReleaseReason
    from vinex.custody.schemas import EventIn
    from vinex.feeds.services import event_in

    when = datetime.fromisoformat("2026-11-20T13:00:00+00:00")
    raws = [
        {"event_id": "roster:1:0:abc:BOOKED:S-1", "type": EventType.BOOKED, "occurred_at": when,
         "facility_code": "main",
         "subject": {"agency_subject_id": "S-1", "first_name": "Ana", "last_name": "Ortiz",
                     "date_of_birth": date(1990, 1, 2), "country_of_birth": "MX",
                     "identifiers": {"a_number": "123456789", "booking_number": "BK1"}}},
        {"event_id": "r2", "type": EventType.RELEASED, "occurred_at": when, "facility_code": "main",
         "reason": ReleaseReason.UNKNOWN,
         "subject": {"agency_subject_id": "S-2", "first_name": "Ana", "last_name": "Ortiz"}},
        {"event_id": "r3", "type": EventType.TRANSFERRED, "occurred_at": when, "facility_code": "annex",
         "to_facility_code": "main",
         "subject": {"agency_subject_id": "S-3", "first_name": "Ana", "last_name": "Ortiz"}},
        {"event_id": "r4", "type": EventType.RELEASE_SCHEDULED, "occurred_at": when, "facility_code": "main",
         "scheduled_for": datetime.fromisoformat("2026-12-01T14:00:00+00:00"),
         "subject": {"agency_subject_id": "S-4", "first_name": "Ana", "last_name": "Ortiz",
                     "identifiers": {"state_id": "ST4"}}},
    ]
    for raw in raws:
        built, validated = event_in(raw), EventIn.model_validate(raw)
        assert built.model_dump() == validated.model_dump()
        assert built.model_fields_set == validated.model_fields_set


def test_a_pending_departure_is_released_after_twice_the_cadence(agency: Agency, tmp_path: Path) -> None:
    from django.utils import timezone

    from vinex.feeds.services import pending_departures_release_due

    send(agency, tmp_path, people(30))
    send(agency, tmp_path, [person("A-1")], facility="annex")
    send(agency, tmp_path, people(29))
    assert Subject.objects.get(agency_subject_id="S-29").status == "IN_CUSTODY"
    assert pending_departures_release_due(actor=ACTOR, now=timezone.now() + timedelta(hours=47)) == 0
    assert Subject.objects.get(agency_subject_id="S-29").status == "IN_CUSTODY"
    assert pending_departures_release_due(actor=ACTOR, now=timezone.now() + timedelta(hours=49)) == 1
    assert Subject.objects.get(agency_subject_id="S-29").status == "RELEASED"
    assert CustodyEvent.objects.filter(type="RELEASED").count() == 1


def test_ids_whose_hashes_collide_are_still_told_apart(monkeypatch: pytest.MonkeyPatch) -> None:
    import polars as pl

    from vinex.feeds.services import _sides

    ids = pl.DataFrame({"agency_subject_id": ["S-1", "S-2", "S-4"], "line": [2, 3, 4]})
    population = pl.Series("agency_subject_id", ["S-1", "S-3", "S-4", "S-5"])
    honest = _sides(ids, population, kept_ids=["S-5"])
    hash_of = pl.Expr.hash

    def colliding(self: pl.Expr, seed: int = 0, **seeds: int) -> pl.Expr:
        # S-3 (held, not listed) hashes like S-2 (listed, not held): the two sides would pair them off.
        if seed:
            return hash_of(self, seed, **seeds)
        usual = hash_of(self, seed, **seeds)
        return pl.when(self == "S-3").then(hash_of(pl.lit("S-2"), seed, **seeds)).otherwise(usual)

    monkeypatch.setattr(pl.Expr, "hash", colliding)
    assert pl.DataFrame({"a": ["S-2", "S-3"]}).select(pl.col("a").hash()).n_unique() == 1
    collided = _sides(ids, population, kept_ids=["S-5"])
    assert [(ids.filter(a).get_column("agency_subject_id").to_list(), d) for a, d in (honest, collided)] == [
        (["S-2"], ["S-3"])] * 2
