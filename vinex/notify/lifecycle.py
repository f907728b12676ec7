"""The one owner of ``Notification.status``, ``Subscription.status``, ``Subscription.tier`` and
``Registrant.withdrawn_at``: which changes are allowed, and the only code that writes them.

The tables are pure data (``can_move`` and friends need no database). The writers are guarded
conditional updates (``… WHERE status IN <the states allowed to move there>``), so a change that the
table refuses is never written, whoever asks and whatever the row became meanwhile: a late "delivered"
receipt cannot revive a failed message, and a withdrawn subscription cannot become active again. A
refused change is a no-op that says so: the writers return whether (or how many rows) moved, and log
single-row refusals.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from django.db.models import QuerySet
from django.utils import timezone

from vinex.core.bulk import rows_update
from vinex.notify.models import (
    Notification,
    NotificationStatus,
    Registrant,
    Subscription,
    SubscriptionStatus,
    Tier,
)

logger = logging.getLogger(__name__)

N = NotificationStatus
S = SubscriptionStatus

# --- Notification status -------------------------------------------------------------------------

# Where a notification may go from each status. Terminal statuses lead nowhere.
NOTIFICATION_MOVES: Mapping[N, frozenset[N]] = {
    # Claimed by a worker; suppressed when the recipient opts out or withdraws before it leaves; a
    # provider's "delivered" for a copy handed over before a lease ran out ends it without a resend.
    N.QUEUED: frozenset({N.SENDING, N.SUPPRESSED, N.DELIVERED}),
    # What the worker records after one attempt; back to the queue when the worker's lease ran out;
    # delivered when a PIN confirms a call before the worker recorded placing it.
    N.SENDING: frozenset({N.QUEUED, N.SENT, N.DELIVERED, N.FAILED_TRANSIENT, N.FAILED_PERMANENT, N.SUPPRESSED}),
    # Handed over: receipts, call outcomes and PINs decide the rest.
    N.SENT: frozenset({N.DELIVERED, N.FAILED_TRANSIENT, N.FAILED_PERMANENT}),
    # Waiting for its next try; a late confirmation (receipt, PIN by text reply) makes that try needless.
    N.FAILED_TRANSIENT: frozenset({N.SENDING, N.SUPPRESSED, N.DELIVERED}),
    N.DELIVERED: frozenset(),
    N.FAILED_PERMANENT: frozenset(),
    N.SUPPRESSED: frozenset(),
}

# For each status, the statuses a row may come from: the WHERE clause of every guarded update.
NOTIFICATION_SOURCES: Mapping[N, frozenset[N]] = {
    target: frozenset(source for source, targets in NOTIFICATION_MOVES.items() if target in targets) for target in N
}

# Nothing will ever happen to these again.
NOTIFICATION_TERMINAL = frozenset(status for status, targets in NOTIFICATION_MOVES.items() if not targets)
# Rows a worker may take.
NOTIFICATION_CLAIMABLE = NOTIFICATION_SOURCES[N.SENDING]
# Rows whose message has left (or never will): their bodies are no longer needed to send anything.
NOTIFICATION_FINISHED = NOTIFICATION_TERMINAL | {N.SENT}
# Rows that may still leave: the ones an opt-out or a withdrawal stops at once.
NOTIFICATION_WAITING = NOTIFICATION_SOURCES[N.SUPPRESSED] - {N.SENDING}


def notification_can_move(current: str, to: str) -> bool:
    """Whether a notification in ``current`` may move to ``to`` (staying put is not a move)."""
    return N(to) in NOTIFICATION_MOVES[N(current)]


def notifications_move(rows: QuerySet[Notification], *, to: N, now: datetime | None = None, **fields: Any) -> int:
    """Move every row of ``rows`` that may go to ``to``, setting ``fields`` with it; the others stay
    as they are. Returns how many moved."""
    _refuse_status_in(fields)
    now = now or timezone.now()
    return rows.filter(status__in=NOTIFICATION_SOURCES[to]).update(status=to, updated_at=now, **fields)


def notification_move(*, notification_id: int, to: N, now: datetime | None = None, why: str = "",
                      **fields: Any) -> bool:
    """Move one notification to ``to`` if its current status allows; False (and a log line) if not."""
    moved = notifications_move(Notification.objects.filter(pk=notification_id), to=to, now=now, **fields)
    if not moved:
        current = Notification.objects.filter(pk=notification_id).values_list("status", flat=True).first()
        logger.info("notification transition refused", extra={
            "notification": notification_id, "from": current, "to": str(to), "why": why})
    return bool(moved)


def notifications_claim(*, ids: Sequence[int], claim: str, now: datetime) -> int:
    """Take these rows for one worker's claim (only those still claimable: another worker may have won)."""
    return notifications_move(Notification.objects.filter(id__in=ids), to=N.SENDING, now=now, claimed_by=claim,
                              claimed_at=now)


def notifications_requeue_abandoned(*, claimed_before: datetime, now: datetime) -> int:
    """Rows still ``sending`` under a claim older than ``claimed_before`` go back to the queue."""
    abandoned = Notification.objects.filter(status=N.SENDING, claimed_at__lt=claimed_before)
    return notifications_move(abandoned, to=N.QUEUED, now=now, claimed_by="", claimed_at=None, next_attempt_at=now)


def notifications_suppress_waiting(*, rows: QuerySet[Notification], reason: str, now: datetime | None = None) -> int:
    """Stop every message of ``rows`` that has not left yet (an opt-out, a withdrawal)."""
    return notifications_move(rows.filter(status__in=NOTIFICATION_WAITING), to=N.SUPPRESSED, now=now,
                              last_error=reason)


# How one attempt can end (going back to the queue is for abandoned claims, not for an attempt).
ATTEMPT_OUTCOMES = NOTIFICATION_MOVES[N.SENDING] - {N.QUEUED}
# The columns an attempt's outcome sets, after ``status``; the worker fills them in this order.
ATTEMPT_COLUMNS = ("attempts", "provider_id", "sent_at", "delivered_at", "next_attempt_at", "last_error")


def notifications_record_attempts(*, rows: Sequence[tuple[int, str, N, Sequence[Any]]], now: datetime) -> int:
    """Write the outcome of one attempt per row, each only while the row is still ``sending`` under
    the claim that made the attempt: a row whose lease ran out and was taken by another worker is
    left to that worker. Rows are ``(id, claimed_by, new status, values of ATTEMPT_COLUMNS)``.

    One statement executed for all rows, as a round can hold hundreds. Returns how many were written.
    """
    values = []
    for notification_id, claimed_by, status, attempt_values in rows:
        if status not in ATTEMPT_OUTCOMES:
            raise ValueError(f"an attempt cannot end in {status!r}")
        values.append([status, *attempt_values, now, "", None, notification_id, N.SENDING, claimed_by])
    return rows_update(Notification, ("status", *ATTEMPT_COLUMNS, "updated_at", "claimed_by", "claimed_at"), values,
                       match=("id", "status", "claimed_by"))


# --- Subscription status and tier ----------------------------------------------------------------

SUBSCRIPTION_MOVES: Mapping[S, frozenset[S]] = {
    S.PENDING: frozenset({S.ACTIVE, S.SUSPENDED, S.WITHDRAWN}),
    S.ACTIVE: frozenset({S.SUSPENDED, S.WITHDRAWN}),
    S.SUSPENDED: frozenset({S.ACTIVE, S.WITHDRAWN}),
    # A withdrawal is final: coming back is a new registration, verified again.
    S.WITHDRAWN: frozenset(),
}
SUBSCRIPTION_SOURCES: Mapping[S, frozenset[S]] = {
    target: frozenset(source for source, targets in SUBSCRIPTION_MOVES.items() if target in targets) for target in S
}
SUBSCRIPTION_TERMINAL = frozenset(status for status, targets in SUBSCRIPTION_MOVES.items() if not targets)
# How a subscription may start: pending verification, or active when staff set it up in person.
SUBSCRIPTION_INITIAL = frozenset({S.PENDING, S.ACTIVE})

# Tiers only widen (each one discloses more); a subscription is never quietly narrowed or reset.
TIER_MOVES: Mapping[Tier, frozenset[Tier]] = {
    Tier.PUBLIC: frozenset({Tier.VERIFIED_VICTIM, Tier.OFFICER_APPROVED}),
    Tier.VERIFIED_VICTIM: frozenset({Tier.OFFICER_APPROVED}),
    Tier.OFFICER_APPROVED: frozenset(),
}
TIER_SOURCES: Mapping[Tier, frozenset[Tier]] = {
    target: frozenset(source for source, targets in TIER_MOVES.items() if target in targets) for target in Tier
}


def subscription_can_move(current: str, to: str) -> bool:
    return S(to) in SUBSCRIPTION_MOVES[S(current)]


def tier_can_move(current: str, to: str) -> bool:
    return Tier(to) in TIER_MOVES[Tier(current)]


def subscription_move(*, subscription: Subscription, to: S, now: datetime | None = None) -> bool:
    """Move the subscription to ``to`` if its status (in the database) allows; the object follows.

    False, with a log line, when refused (e.g. a withdrawn subscription made active).
    """
    moved = Subscription.objects.filter(pk=subscription.pk, status__in=SUBSCRIPTION_SOURCES[to]).update(
        status=to, updated_at=now or timezone.now())
    return _follow(subscription, "status", to, bool(moved))


def subscription_raise_tier(*, subscription: Subscription, to: Tier, now: datetime | None = None) -> bool:
    """Widen the subscription's tier to ``to``; False (and a log line) when it is already there or wider."""
    moved = Subscription.objects.filter(pk=subscription.pk, tier__in=TIER_SOURCES[to]).update(
        tier=to, updated_at=now or timezone.now())
    return _follow(subscription, "tier", to, bool(moved))


def subscriptions_withdraw(*, subscriptions: QuerySet[Subscription], now: datetime | None = None) -> int:
    return subscriptions.filter(status__in=SUBSCRIPTION_SOURCES[S.WITHDRAWN]).update(
        status=S.WITHDRAWN, updated_at=now or timezone.now())


def _follow(subscription: Subscription, field: str, to: str, moved: bool) -> bool:
    if moved:
        setattr(subscription, field, to)
    else:
        current = Subscription.objects.filter(pk=subscription.pk).values_list(field, flat=True).first()
        setattr(subscription, field, current)
        logger.info("subscription transition refused",
                    extra={"subscription": subscription.pk, "field": field, "from": current, "to": str(to)})
    return moved


# --- Registrant withdrawal ------------------------------------------------------------------------


def registrants_withdraw(*, registrants: QuerySet[Registrant], when: datetime) -> int:
    """Mark these registrants withdrawn (the first withdrawal's time stays) and withdraw every
    subscription they hold. Returns how many registrants were newly withdrawn."""
    ids = list(registrants.filter(withdrawn_at__isnull=True).values_list("pk", flat=True))
    if not ids:
        return 0
    subscriptions_withdraw(subscriptions=Subscription.objects.filter(registrant_id__in=ids), now=when)
    return Registrant.objects.filter(pk__in=ids, withdrawn_at__isnull=True).update(withdrawn_at=when)


def registrant_withdraw(*, registrant: Registrant, when: datetime) -> bool:
    """Withdraw one registrant; False when they had already withdrawn (the object shows since when)."""
    moved = bool(registrants_withdraw(registrants=Registrant.objects.filter(pk=registrant.pk), when=when))
    registrant.withdrawn_at = when if moved else Registrant.objects.values_list(
        "withdrawn_at", flat=True).get(pk=registrant.pk)
    return moved


def _refuse_status_in(fields: Mapping[str, Any]) -> None:
    if "status" in fields:
        raise TypeError("pass the new status as ``to``")


# --- Suspension by a privacy officer ---------------------------------------------------------------


def subscription_suspend(*, subscription: Subscription, now: datetime | None = None) -> bool:
    """Pause an active subscription (a privacy officer's decision): nothing more is sent for it, including
    messages already queued. False when it was not active."""
    now = now or timezone.now()
    moved = Subscription.objects.filter(pk=subscription.pk, status=S.ACTIVE).update(status=S.SUSPENDED,
                                                                                   updated_at=now)
    if moved:
        notifications_suppress_waiting(rows=Notification.objects.filter(subscription_id=subscription.pk),
                                       reason="subscription suspended", now=now)
    return _follow(subscription, "status", S.SUSPENDED, bool(moved))


def subscription_lift(*, subscription: Subscription, now: datetime | None = None) -> bool:
    """Make a suspended subscription active again; False when it was not suspended."""
    moved = Subscription.objects.filter(pk=subscription.pk, status=S.SUSPENDED).update(
        status=S.ACTIVE, updated_at=now or timezone.now())
    return _follow(subscription, "status", S.ACTIVE, bool(moved))
