"""Record custody events and queue the messages they cause, in one transaction."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import replace
from datetime import datetime

from django.dispatch import Signal
from django.utils import timezone

from vinex.audit.unit import Actor
from vinex.custody.contacts import subject_contacts_record
from vinex.custody.ingest import FacilitiesChanged, IncomingEvent, ItemOutcome, Recorded, event_ingest
from vinex.custody.models import Agency, CustodyEvent
from vinex.linkage.services import SubjectLinker
from vinex.notify.selectors import Followers
from vinex.notify.services import notification_enqueue_for_events
from vinex.pipeline.metrics import events_count

#: Sent with ``agency``, ``count`` and ``at`` when events of a batch were rejected (quarterly reports count them).
events_rejected = Signal()


def events_ingest(*, agency: Agency, events: Sequence[IncomingEvent], actor: Actor,
                  received_at: datetime | None = None,
                  hold: Callable[[list[CustodyEvent]], list[CustodyEvent]] | None = None) -> list[ItemOutcome]:
    """Record a batch of ``agency``'s events and queue a message for every active subscriber's reachable
    contact about each event that is the newest word on a person and changes what a victim knows.

    Returns one outcome per event, in order: accepted, duplicate (its ``event_id`` is known) or rejected
    (with the reasons). Custody's ingest opens the transaction (``actor``'s audit unit) and holds the
    write locks; new and changed subjects are linked to the people other agencies hold (so a victim's
    subscription follows the person), then the contacts and the messages are written inside it, and the
    unit's entries last. ``hold`` (the false-release guard of pushed batches) gets the events about to
    notify, inside the transaction, and returns those that may; it records the rest for review.
    """
    try:
        outcomes = _recorded(agency, events, actor, received_at, hold)
    except FacilitiesChanged:  # rolled back whole; the agency is read again this time
        outcomes = _recorded(agency, events, actor, received_at, hold)
    events_count(events=events, outcomes=outcomes)
    rejected = sum(o.status == "rejected" for o in outcomes)
    if rejected:  # as documented: only a batch with rejected events is reported
        events_rejected.send(sender=events_ingest, agency=agency, at=received_at or timezone.now(), count=rejected)
    return outcomes


def _recorded(agency: Agency, events: Sequence[IncomingEvent], actor: Actor, received_at: datetime | None,
              hold: Callable[[list[CustodyEvent]], list[CustodyEvent]] | None) -> list[ItemOutcome]:
    linker = SubjectLinker()
    # Read once: who follows the batch's people decides which events notify, then whom they notify.
    followers = Followers()

    def fan_out(recorded: Recorded) -> None:
        if hold is not None and recorded.events_to_notify:
            recorded = replace(recorded, events_to_notify=hold(recorded.events_to_notify))
        _fan_out(recorded, actor=actor, followers=followers)
        linker.followers_catch_up(notified=recorded.events_to_notify)

    return event_ingest(agency=agency, events=events, actor=actor, received_at=received_at,
                        followed=followers.followed, recorded=fan_out, link=linker.link)


def _fan_out(recorded: Recorded, *, actor: Actor, followers: Followers) -> None:
    if recorded.contacts_by_subject:
        subject_contacts_record(contacts_by_subject=recorded.contacts_by_subject)
    notification_enqueue_for_events(events=recorded.events_to_notify, actor=actor, followers=followers)
