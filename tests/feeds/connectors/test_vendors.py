"""Zuercher Portal and JailTracker as their portals really behave: pages, empty pages, error pages, slow
answers, a changed format, and records that carry no id."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from tests.actors import ACTOR
from tests.feeds.connectors.replay import (
    Answer,
    ReplayServer,
    inmates,
    jailtracker_record,
    jailtracker_route,
    json_answer,
    zuercher_record,
    zuercher_route,
)
from vinex.custody.models import Agency, Facility, Subject
from vinex.feeds.connectors import pull_source_run
from vinex.feeds.models import PullSource, Snapshot

pytestmark = pytest.mark.django_db

ZUERCHER = ("POST", "/api/portal/inmates/load")
JAILTRACKER = ("GET", "/GetInmates")


def source(server: ReplayServer, kind: str, **settings: Any) -> PullSource:
    location = server.base if kind == "zuercher" else f"{server.base}/GetInmates"
    return PullSource.objects.create(facility=Facility.objects.get(code="main"), kind=kind, location=location,
                                     settings={"page_size": 10, **settings}, interval_seconds=900)


def pull(pulled: PullSource) -> int:
    return pull_source_run(source=pulled, now=timezone.now(), actor=ACTOR)


def in_custody() -> int:
    return Subject.objects.filter(status="IN_CUSTODY").count()


def test_zuercher_is_read_page_by_page_and_keyed_by_name_birth_and_booking_date(
        agency: Agency, server: ReplayServer) -> None:
    people = inmates(25)
    server.routes[ZUERCHER] = zuercher_route(lambda: people)
    pulled = source(server, "zuercher")
    assert pull(pulled) == 1
    assert [r[0] for r in server.requests] == ["POST"] * 3  # 10 + 10 + 5
    assert in_custody() == 25
    assert pulled.identity_note == "people keyed by name, date of birth and booking date (hashed) (25)"
    robin = Subject.objects.get(last_name__iexact="Quill3")
    assert robin.agency_subject_id.startswith("H-") and str(robin.date_of_birth) == "1983-04-13"
    # The same people served again in another order keep their keys: nothing changes.
    people.reverse()
    pull(pulled)
    assert Snapshot.objects.latest("pk").booked == 0 and in_custody() == 25


def test_a_short_zuercher_list_is_held_rather_than_releasing_the_rest(agency: Agency, server: ReplayServer) -> None:
    people = inmates(25)
    server.routes[ZUERCHER] = zuercher_route(lambda: people)
    pulled = source(server, "zuercher")
    pull(pulled)

    def empty_after_first_page(path: str, query: Any, body: Any) -> Answer:
        start = body["paging"]["start"]
        page = [zuercher_record(p) for p in people[:10]] if start == 0 else []
        return json_answer({"total_record_count": 25, "records": page})

    server.routes[ZUERCHER] = empty_after_first_page
    pull(pulled)
    held = Snapshot.objects.latest("pk")
    assert held.status == "quarantined" and "the portal said 25 people but served 10" in held.reasons
    assert in_custody() == 25


@pytest.mark.parametrize(("answer", "error"), [
    (Answer(200, b"<html><body>Site maintenance</body></html>", {"Content-Type": "text/html"}),
     "the source answered 200 with a web page instead of data"),
    (Answer(502, b"<html>Bad gateway</html>", {"Content-Type": "text/html"}), "the server answered 502"),
    (Answer(200, b'{"total_record_count": 3, "records": [', {"Content-Type": "application/json"}),
     "the source's answer is not valid JSON"),
    (Answer(200, b'{"inmates": []}', {"Content-Type": "application/json"}),
     "the Zuercher answer changed format: no records list or total_record_count"),
])
def test_zuercher_failures_turn_the_source_red_and_change_nobody(agency: Agency, server: ReplayServer,
                                                                 answer: Answer, error: str) -> None:
    people = inmates(5)
    server.routes[ZUERCHER] = zuercher_route(lambda: people)
    pulled = source(server, "zuercher")
    pull(pulled)
    server.routes[ZUERCHER] = lambda *args: answer
    assert pull(pulled) == 0
    assert (pulled.failures, pulled.last_error) == (1, error)
    assert in_custody() == 5 and Snapshot.objects.count() == 1


def test_a_portal_slower_than_the_timeout_is_a_failure(agency: Agency, server: ReplayServer, settings: Any) -> None:
    settings.VINEX_CONNECTOR_TIMEOUT_SECONDS = 0.3
    server.routes[ZUERCHER] = lambda *args: Answer(200, b'{"total_record_count": 0, "records": []}', delay=1.0)
    pulled = source(server, "zuercher")
    assert pull(pulled) == 0
    assert pulled.last_error == "the source did not answer in time"


def test_a_changed_zuercher_format_holds_the_roster(agency: Agency, server: ReplayServer) -> None:
    people = inmates(5)
    server.routes[ZUERCHER] = zuercher_route(lambda: people)
    pulled = source(server, "zuercher")
    pull(pulled)

    def renamed(path: str, query: Any, body: Any) -> Answer:
        records = [{**zuercher_record(p), "birth_date": "01/01/1980"} for p in people]
        for record in records:
            del record["dob"]
        return json_answer({"total_record_count": 5, "records": records})

    server.routes[ZUERCHER] = renamed
    pull(pulled)
    held = Snapshot.objects.latest("pk")
    assert held.status == "quarantined"
    assert "the Zuercher answer changed format: dob missing" in held.reasons
    assert any("5 of 5 rows cannot be keyed" in r for r in held.reasons)
    assert in_custody() == 5  # nobody released on the strength of it


def test_rows_that_cannot_be_keyed_hold_the_roster_with_the_reason(agency: Agency, server: ReplayServer) -> None:
    people = inmates(4)
    no_birth_date = {**zuercher_record(people[0]), "dob": None}
    server.routes[ZUERCHER] = lambda *args: json_answer(
        {"total_record_count": 4, "records": [no_birth_date] + [zuercher_record(p) for p in people[1:]]})
    pull(source(server, "zuercher"))
    held = Snapshot.objects.get()
    assert held.status == "quarantined"
    assert held.reasons[0] == ("1 of 4 rows cannot be keyed: no person number, no booking number, and name, date of"
                               " birth or booking date missing")


def test_jailtracker_pages_until_a_short_page_and_keys_by_jacket(agency: Agency, server: ReplayServer) -> None:
    people = inmates(20)  # two full pages, then an empty one
    server.routes[JAILTRACKER] = jailtracker_route(lambda: people)
    pulled = source(server, "jailtracker")
    assert pull(pulled) == 1
    starts = [r[1].split("start=")[1].split("&")[0] for r in server.requests]
    assert starts == ["0", "10", "20"]
    assert in_custody() == 20
    robin = Subject.objects.get(last_name="Quill4")
    assert robin.agency_subject_id == "P-J504" and pulled.identity_note == (
        "people keyed by the agency's own person number (20)")


def test_jailtracker_leaves_out_released_people_and_reads_the_newer_offenders_list(
        agency: Agency, server: ReplayServer) -> None:
    people = inmates(3)
    released = {**jailtracker_record(people[2]), "FinalReleaseDateTime": "11/21/2026T09:00:00"}
    newer = [{k[0].lower() + k[1:]: v for k, v in r.items()}
             for r in [jailtracker_record(people[0]), jailtracker_record(people[1]), released]]
    server.routes[JAILTRACKER] = lambda *args: json_answer({"offenders": newer, "captchaRequired": False})
    pull(source(server, "jailtracker"))
    assert set(Subject.objects.values_list("agency_subject_id", flat=True)) == {"P-J500", "P-J501"}


def test_a_jailtracker_portal_asking_for_a_captcha_is_a_clear_failure(agency: Agency, server: ReplayServer) -> None:
    server.routes[JAILTRACKER] = lambda *args: json_answer({"captchaRequired": True, "offenders": None})
    pulled = source(server, "jailtracker")
    pull(pulled)
    assert pulled.last_error.startswith("the portal asks for a captcha")


def test_a_jailtracker_roster_without_booking_numbers_is_held(agency: Agency, server: ReplayServer) -> None:
    records = [{k: v for k, v in jailtracker_record(p).items() if k != "ArrestNo"} for p in inmates(3)]
    server.routes[JAILTRACKER] = lambda *args: json_answer({"data": records})
    pull(source(server, "jailtracker"))
    assert "the JailTracker answer changed format: arrestno missing" in Snapshot.objects.get().reasons


def test_a_failing_portal_backs_off_then_its_feed_is_reported_silent(agency: Agency, server: ReplayServer) -> None:
    from vinex.feeds.services import feed_alert_recipient_add, feed_health_check

    feed_alert_recipient_add(actor=ACTOR, value="jail-it@pine.example.org", agency=agency)
    server.routes[ZUERCHER] = lambda *args: Answer(503, b"")
    pulled = source(server, "zuercher")
    now = timezone.now()
    pull_source_run(source=pulled, now=now, actor=ACTOR)
    pull_source_run(source=pulled, now=now + timedelta(seconds=60), actor=ACTOR)
    assert pulled.failures == 2 and pulled.next_run_at == now + timedelta(seconds=60 + 120)
    alerts = feed_health_check(actor=ACTOR, now=now + timedelta(days=3))
    assert [a.facility.code for a in alerts] == ["main"] and alerts[0].notified == 1


def test_a_portal_that_drops_a_third_of_the_jail_is_held_like_a_pushed_roster(
        agency: Agency, server: ReplayServer) -> None:
    people = inmates(100)
    server.routes[ZUERCHER] = zuercher_route(lambda: people)
    pulled = source(server, "zuercher", page_size=100)
    pull(pulled)
    del people[:30]
    pull(pulled)
    held = Snapshot.objects.latest("pk")
    assert held.status == "quarantined" and held.released == 30
    assert any("30 of 100 people (30%) would be released" in r for r in held.reasons)
    assert in_custody() == 100
