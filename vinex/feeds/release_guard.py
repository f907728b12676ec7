"""The false-release guard for pushed events: the roster's quarantine rule over a sliding window.

A roster that would release an implausible share of a facility is held for review; an agency pushing
the same flood as events (the bulk update that once sent ~8,000 false "released" alerts) is caught by
the same rule, counted per agency over the last ``VINEX_PUSH_RELEASE_WINDOW_SECONDS``: more than
``VINEX_ROSTER_MAX_RELEASE_SHARE`` of the agency's population and at least ``VINEX_ROSTER_MIN_RELEASES``
releases. Past it, the events are still recorded (the status follows them), but their release
notifications are held: nobody is told, the operator is alerted, and a reviewer approves (the messages
go out, once) or rejects (they never do). While an agency has releases awaiting review, its further
releases wait with them.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.db.models import Count, Min, Q
from django.utils import timezone

from vinex.audit.unit import Actor, audit_unit
from vinex.custody.models import Agency, CustodyEvent, CustodyStatus, EventSource, EventType, Subject
from vinex.feeds.models import FeedAlertRecipient, ReleaseHold, ReleaseHoldDecision
from vinex.notify.services import notification_enqueue_direct, notification_enqueue_for_events

logger = logging.getLogger(__name__)

Hold = Callable[[list[CustodyEvent]], list[CustodyEvent]]
_RELATED = ("subject__agency", "subject__facility", "facility", "to_facility")


def _chunks(values: Sequence[int], size: int = 900) -> list[Sequence[int]]:
    """Keeps each IN (...) list under SQLite's bound-parameter limit on any build."""
    return [values[start:start + size] for start in range(0, len(values), size)]


class ReleaseHoldDecisionError(ValueError):
    """The agency has no held release notifications to decide on."""


def release_guard_for(*, agency: Agency, actor: Actor) -> Hold:
    """What ``vinex.pipeline.events_ingest`` calls (inside its transaction) with the events about to
    notify: it returns those that may, holding the agency's releases when the guard is tripped."""

    def hold(events: list[CustodyEvent]) -> list[CustodyEvent]:
        return releases_hold(agency=agency, events=events, actor=actor)

    return hold


def releases_hold(*, agency: Agency, events: list[CustodyEvent], actor: Actor,
                  now: datetime | None = None) -> list[CustodyEvent]:
    """Hold the release notifications of ``events`` when the agency is past the guard; returns the rest."""
    releases = [e for e in events if e.type == EventType.RELEASED]
    if not releases:
        return events
    now = now or timezone.now()
    already_held = ReleaseHold.objects.filter(agency=agency, decision=ReleaseHoldDecision.PENDING).exists()
    if not already_held and not _tripped(agency, now):
        return events
    ReleaseHold.objects.bulk_create([ReleaseHold(agency=agency, event=e, held_at=now) for e in releases],
                                    ignore_conflicts=True)
    # Recorded as notifying when written; held, they have told nobody (yet).
    for chunk in _chunks([e.pk for e in releases]):
        CustodyEvent.objects.filter(pk__in=chunk).update(notified=False)
    if not already_held:
        _alert_operator(agency, len(releases), actor)
    logger.warning("release notifications held for review", extra={"agency": agency.code, "held": len(releases)})
    return [e for e in events if e.type != EventType.RELEASED]


def _tripped(agency: Agency, now: datetime) -> bool:
    """The roster's rule: more than the share of the population, and at least the minimum, released within
    the window. The population is who the agency holds now plus who the window released."""
    since = now - timedelta(seconds=settings.VINEX_PUSH_RELEASE_WINDOW_SECONDS)
    released = CustodyEvent.objects.filter(agency=agency, type=EventType.RELEASED, received_at__gte=since,
                                           source__in=(EventSource.API, EventSource.CONNECTOR)).count()
    if released < settings.VINEX_ROSTER_MIN_RELEASES:
        return False
    held_now = Subject.objects.filter(agency=agency, status__in=(CustodyStatus.IN_CUSTODY, CustodyStatus.ON_LEAVE))
    population = held_now.count() + released
    return released > settings.VINEX_ROSTER_MAX_RELEASE_SHARE * population


def _alert_operator(agency: Agency, count: int, actor: Actor) -> None:
    """Tell the agency's and the operator's feed alert recipients, as a silent feed does."""
    share = settings.VINEX_ROSTER_MAX_RELEASE_SHARE
    minutes = settings.VINEX_PUSH_RELEASE_WINDOW_SECONDS / 60
    subject_line = f"vinex: release notifications from {agency.code} held for review"
    body = (
        f"{agency.name} ({agency.code}) pushed more releases than {share:.0%} of its population within "
        f"{minutes:g} minutes. The events are recorded, but the {count} release notifications they would "
        "send, and those of any release that follows, are held until someone reviews them.\n\n"
        "Please check with the agency, then approve (the messages go out) or reject (they never do) on the "
        "staff feeds page, under release notifications held for review.\n"
    )
    recipients = FeedAlertRecipient.objects.filter(Q(agency=agency) | Q(agency__isnull=True)).select_related(
        "contact__registrant")
    for recipient in recipients:
        if recipient.contact.reachable:
            notification_enqueue_direct(contact=recipient.contact, template="release_hold", body=body,
                                        subject_line=subject_line, actor=actor,
                                        language=recipient.contact.registrant.language)


# --- Review ------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class HeldReleases:
    """An agency's release notifications awaiting review."""

    agency: Agency
    count: int
    since: datetime


def release_holds_pending(*, agency: Agency | None = None) -> list[HeldReleases]:
    """Agencies with release notifications awaiting review (``agency`` narrows to one)."""
    rows = ReleaseHold.objects.filter(decision=ReleaseHoldDecision.PENDING)
    if agency is not None:
        rows = rows.filter(agency=agency)
    counts = rows.values("agency_id").annotate(n=Count("id"), since=Min("held_at")).order_by("agency_id")
    agencies = Agency.objects.in_bulk([row["agency_id"] for row in counts])
    return [HeldReleases(agencies[row["agency_id"]], row["n"], row["since"]) for row in counts]


def release_holds_approve(*, agency: Agency, user: Any, note: str = "") -> int:
    """Send the agency's held release notifications, once; returns how many events were told.

    A release a newer event has since superseded (the person re-booked, say) is approved but not told:
    a superseded event never sends a stale alert.
    """
    return _decide(agency, user, ReleaseHoldDecision.APPROVED, note)


def release_holds_reject(*, agency: Agency, user: Any, note: str = "") -> int:
    """Discard the agency's held release notifications (nobody is ever told); returns how many."""
    return _decide(agency, user, ReleaseHoldDecision.REJECTED, note)


def _decide(agency: Agency, user: Any, decision: str, note: str) -> int:
    if not (user and user.is_active and user.has_perm("feeds.review_snapshot")):
        raise PermissionDenied("reviewing held releases needs the feeds.review_snapshot permission")
    actor = Actor.staff(f"user:{user.pk}")
    with transaction.atomic(), audit_unit(actor=actor) as unit:
        # Claimed with a conditional update, so two reviewers deciding at once cannot both send.
        held = list(ReleaseHold.objects.select_for_update().filter(agency=agency, decision=ReleaseHoldDecision.PENDING)
                    .values_list("pk", "event_id"))
        if not held:
            raise ReleaseHoldDecisionError(f"{agency.code} has no release notifications awaiting review")
        now = timezone.now()
        for chunk in _chunks([pk for pk, _ in held]):
            ReleaseHold.objects.filter(pk__in=chunk, decision=ReleaseHoldDecision.PENDING).update(
                decision=decision, decided_by=user, decided_at=now)
        told = _send(actor, [event_id for _, event_id in held]) if decision == ReleaseHoldDecision.APPROVED else 0
        unit.add(f"release_hold_{decision}", "agency", agency.code,
                 purpose=f"{len(held)} held release notifications; {told} told; note: {note[:200]}")
    logger.info("held releases decided", extra={"agency": agency.code, "decision": decision, "held": len(held)})
    return told


def _send(actor: Actor, event_pks: Sequence[int]) -> int:
    events = [e for chunk in _chunks(event_pks)
              for e in CustodyEvent.objects.filter(pk__in=chunk).select_related(*_RELATED)
              if e.subject.last_event_at is None or e.occurred_at >= e.subject.last_event_at]
    notification_enqueue_for_events(events=events, actor=actor)
    for chunk in _chunks([e.pk for e in events]):
        CustodyEvent.objects.filter(pk__in=chunk).update(notified=True)
    return len(events)
