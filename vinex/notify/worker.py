"""The notification worker: claims outbox rows, sends them, records what happened.

Any number of workers on any number of machines may run at once. A row is taken with a conditional
update (``… WHERE status IN ('queued','failed_transient')``), under ``FOR UPDATE SKIP LOCKED`` where the
database has it, so two workers never send the same row. While it sends, a worker renews a short lease
on the rows it holds (a heartbeat, every third of ``VINEX_WORKER_HEARTBEAT_LEASE_SECONDS``) and records
each outcome as soon as it is known, so a worker killed mid-round leaves behind only the rows still
unsent, and only for seconds: before claiming, every worker returns rows whose lease ran out to the queue
(taking over a dead worker's claim is part of claiming; ``vinex scheduler`` does the same as a backstop).

Providers that asked us to wait (a 429) or whose circuit breaker is open (``vinex.notify.breaker``) are
not sent to: their rows are not claimed, and rows already claimed go back to the queue unsent, without
counting as a failed attempt. The worker does nothing else: periodic jobs never delay a send.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import socket
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ALL_COMPLETED, FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.db.models import F
from django.utils import timezone

from vinex.audit.unit import Actor, audit_unit
from vinex.core.bulk import rows_insert
from vinex.core.database import write_turn
from vinex.notify import breaker, lifecycle, retry
from vinex.notify.channels import Channel, DeliveryError, ProviderResult, channels_build
from vinex.notify.metrics import notification_attempts_count, notification_deferrals_count
from vinex.notify.models import (
    BreakerState,
    CallPreference,
    DeliveryAttempt,
    Notification,
    NotificationStatus,
    SubscriptionStatus,
)
from vinex.notify.models import Channel as ChannelKind
from vinex.notify.services import notification_receipts_apply
from vinex.notify.voice import voice_calls_apply_ended

logger = logging.getLogger(__name__)

# How long a round waits, after an outcome, for others to record with it (far less than one SMTP exchange
# with a slow server, so a crash in the wait can at most send again what was handed over in it).
_RECORD_GATHER_SECONDS = 0.02


@dataclass(frozen=True)
class SendOutcome:
    notification: Notification
    started_at: datetime
    finished_at: datetime
    result: ProviderResult | None = None
    error: DeliveryError | None = None
    suppressed_because: str = ""
    # Not sent: its provider is paused until then (a 429's Retry-After, an open breaker).
    deferred_until: datetime | None = None
    deferred_because: str = ""
    throttled: bool = False  # deferred because the provider answered 429


def default_worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def notifications_claim(*, worker: str, limit: int, now: datetime, skip_channels: frozenset[str] = frozenset()
                        ) -> list[Notification]:
    """Take up to ``limit`` due rows for this worker; rows another worker holds are skipped, and so are rows
    of ``skip_channels`` (their provider is paused)."""
    claim = f"{worker}:{uuid.uuid4().hex[:12]}"
    # The senders' turn comes before any ingest still waiting (see write_turn): they never starve.
    with write_turn(priority=True), transaction.atomic():
        due = Notification.objects.filter(status__in=lifecycle.NOTIFICATION_CLAIMABLE, next_attempt_at__lte=now
                                          ).order_by("next_attempt_at")
        if skip_channels:
            due = due.exclude(channel__in=skip_channels)
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        ids = list(due.values_list("id", flat=True)[:limit])
        if not ids:
            return []
        lifecycle.notifications_claim(ids=ids, claim=claim, now=now)
    # The event's arrival comes along for the hand-off histogram (vinex_event_to_handoff_seconds).
    return list(
        Notification.objects.filter(claimed_by=claim, status=NotificationStatus.SENDING).select_related(
            "contact", "contact__registrant", "subscription"
        ).annotate(event_received_at=F("event__received_at"))
    )


def notifications_release_stale(*, now: datetime) -> int:
    """Return rows whose worker vanished mid-send to the queue (at-least-once delivery): a live worker
    renews its lease every few seconds, so a lease that ran out means the worker is gone."""
    cutoff = now - timedelta(seconds=settings.VINEX_WORKER_HEARTBEAT_LEASE_SECONDS)
    with write_turn(priority=True):
        return lifecycle.notifications_requeue_abandoned(claimed_before=cutoff, now=now)


def notifications_renew_lease(*, claim: str, now: datetime) -> int:
    """The heartbeat: push the lease of the rows still being sent under ``claim`` forward to ``now``."""
    with write_turn(priority=True):
        return Notification.objects.filter(status=NotificationStatus.SENDING, claimed_by=claim).update(claimed_at=now)


def notifications_defer(*, outcomes: list[SendOutcome], now: datetime) -> int:
    """Put rows whose provider is paused back in the queue, due when the pause ends; not an attempt."""
    moved = 0
    with write_turn(priority=True), transaction.atomic():
        for outcome in outcomes:
            n = outcome.notification
            assert outcome.deferred_until is not None
            moved += lifecycle.notifications_move(
                Notification.objects.filter(pk=n.pk, status=NotificationStatus.SENDING, claimed_by=n.claimed_by),
                to=NotificationStatus.QUEUED, now=now, claimed_by="", claimed_at=None,
                next_attempt_at=outcome.deferred_until, last_error=outcome.deferred_because[:300])
    return moved


def _suppression_reason(notification: Notification) -> str:
    contact = notification.contact
    if contact.opted_out_at is not None:
        return "recipient opted out"
    if contact.undeliverable_at is not None:
        return "address undeliverable (bounced)"
    if contact.registrant.withdrawn_at is not None:
        return "registrant withdrew"
    if (notification.channel == ChannelKind.VOICE and notification.event_id is not None
            and contact.registrant.call_preference == CallPreference.NONE):
        return "registrant chose no calls"
    subscription = notification.subscription
    if subscription is not None and subscription.status != SubscriptionStatus.ACTIVE:
        return f"subscription {subscription.status}"
    return ""


def _deliver(channel: Channel | None, notification: Notification) -> SendOutcome:
    started = timezone.now()
    reason = _suppression_reason(notification)
    if reason:
        return SendOutcome(notification, started, started, suppressed_because=reason)
    if channel is None:
        error = DeliveryError(f"no channel configured for {notification.channel}", permanent=True)
        return SendOutcome(notification, started, timezone.now(), error=error)
    try:
        result = channel.send(notification)
    except DeliveryError as error:
        return SendOutcome(notification, started, timezone.now(), error=error)
    except Exception as error:
        logger.exception("unexpected error in channel %s", notification.channel)
        error = DeliveryError(type(error).__name__, permanent=False)
        return SendOutcome(notification, started, timezone.now(), error=error)
    return SendOutcome(notification, started, timezone.now(), result=result)


def _fields_for(outcome: SendOutcome, now: datetime) -> tuple[NotificationStatus, dict[str, object]]:
    """The row's new status and fields after one attempt, as decided by the retry policy."""
    attempts = outcome.notification.attempts + (0 if outcome.suppressed_because else 1)
    base: dict[str, object] = {"attempts": attempts}
    if outcome.suppressed_because:
        return NotificationStatus.SUPPRESSED, base | {"last_error": outcome.suppressed_because}
    if outcome.error is None:
        assert outcome.result is not None
        delivered = outcome.result.delivered
        return NotificationStatus.DELIVERED if delivered else NotificationStatus.SENT, base | {
            "provider_id": outcome.result.provider_id[:64],
            "sent_at": outcome.finished_at,
            "delivered_at": outcome.finished_at if delivered else None,
            "last_error": "",
        }
    message = str(outcome.error)[:300]
    if retry.should_retry(attempts=attempts, permanent=outcome.error.permanent):
        return NotificationStatus.FAILED_TRANSIENT, base | {
            "next_attempt_at": retry.next_attempt_at(attempts=attempts, now=now),
            "last_error": message,
        }
    return NotificationStatus.FAILED_PERMANENT, base | {"last_error": message}


def _outcome_label(outcome: SendOutcome) -> str:
    if outcome.suppressed_because:
        return "suppressed"
    if outcome.error is None:
        return "sent"
    return "permanent" if outcome.error.permanent else "transient"


def notifications_record(*, outcomes: list[SendOutcome], worker: str, now: datetime) -> None:
    """Write each attempt's outcome, only onto rows this worker still holds.

    A receipt or call report that arrived while a row was still ``sending`` (the provider was faster
    than this round) is applied right after, so it is not lost.
    """
    deferred = [outcome for outcome in outcomes if outcome.deferred_until is not None]
    if deferred:
        notifications_defer(outcomes=deferred, now=now)
        notification_deferrals_count(outcomes=[(o.notification.channel, o.deferred_because) for o in deferred])
        outcomes = [outcome for outcome in outcomes if outcome.deferred_until is None]
        if not outcomes:
            return
    rows: list[tuple[int, str, NotificationStatus, list[Any]]] = []
    attempts = []
    sent: list[Notification] = []
    counted = []
    for outcome in outcomes:
        n = outcome.notification
        status, fields = _fields_for(outcome, now)
        counted.append((n, status, outcome.finished_at if outcome.result is not None else None))
        rows.append((n.pk, n.claimed_by, status, [fields.get(name, getattr(n, name))
                                                  for name in lifecycle.ATTEMPT_COLUMNS]))
        if status == NotificationStatus.SENT:
            n.provider_id = str(fields["provider_id"])
            sent.append(n)
        if not outcome.suppressed_because:
            attempts.append((n.pk, fields["attempts"], worker, outcome.started_at, outcome.finished_at,
                             _outcome_label(outcome), str(outcome.error)[:300] if outcome.error else ""))
    # The worker acts as itself: its name is in every attempt it records, and in the audit log.
    with write_turn(priority=True), audit_unit(actor=Actor.system(worker)) as unit:
        won = lifecycle.notifications_record_attempts(rows=rows, now=now)
        if won != len(rows):
            # Rare: some leases expired mid-round. Keep only the attempts whose rows we still wrote.
            ours = set(Notification.objects.filter(pk__in=[r[0] for r in rows], updated_at=now)
                       .values_list("pk", flat=True))
            attempts = [a for a in attempts if a[0] in ours]
            sent = [n for n in sent if n.pk in ours]
            counted = [c for c in counted if c[0].pk in ours]
        rows_insert(DeliveryAttempt, ("notification_id", "number", "worker", "started_at", "finished_at", "outcome",
                                      "error"), attempts)
        _early_reports_apply(sent)
        # Sending decrypted each recipient's address.
        unit.add_many("read", "contact", [outcome.notification.contact_id for outcome in outcomes
                                          if not outcome.suppressed_because], purpose="delivery")
    notification_attempts_count(recorded=counted)


def _early_reports_apply(sent: list[Notification]) -> None:
    """Apply what the provider reported while these rows were still ``sending`` (a fast "delivered",
    a call that ended before this round finished): until now there was no sent message to apply it to."""
    if not sent:
        return
    # Only text messages get delivery receipts; an email's SMTP acceptance is as far as it goes.
    notification_receipts_apply(notifications=[n for n in sent if n.channel == ChannelKind.SMS])
    voice_calls_apply_ended(notifications=[n for n in sent if n.channel == ChannelKind.VOICE])


def by_contact(claimed: list[Notification]) -> list[list[Notification]]:
    """The claimed rows grouped by recipient, each group in the order its messages were created.

    A group is sent in order on one thread, so a registrant is never told of a release before they
    were told they are registered; different recipients still go out in parallel.
    """
    groups: dict[int, list[Notification]] = {}
    for notification in claimed:
        groups.setdefault(notification.contact_id, []).append(notification)
    return [sorted(group, key=lambda n: (n.created_at, n.pk)) for group in groups.values()]


class ProviderGate:
    """One round's view of provider health: which providers to leave alone, and the one probe this worker
    may send to a provider whose breaker is due for a try. Sending threads read and update it in memory
    (a 429 holds the rest of the round at once); the database is written by the recording thread."""

    def __init__(self, *, health: dict[str, breaker.ProviderHealth], now: datetime, mine: set[str]) -> None:
        self.health = health
        self.held: dict[str, datetime] = {}
        self.probes: dict[str, int] = {}
        for provider, state in health.items():
            if provider not in mine:
                continue  # a provider this worker does not send through: it must not take that probe
            until = state.hold_until(now)
            if until is not None:
                self.held[provider] = until
            elif state.state != BreakerState.CLOSED:
                # Pause over: one worker wins the probe, the others keep away for another cool-down.
                if breaker.provider_probe_take(provider=provider, now=now):
                    self.probes[provider] = 1
                else:
                    self.held[provider] = now + timedelta(seconds=settings.VINEX_BREAKER_COOLDOWN_SECONDS)
        self._lock = threading.Lock()

    def hold(self, provider: str, now: datetime) -> datetime | None:
        """Until when this message must wait, or None to send it now."""
        if not provider:
            return None
        with self._lock:
            until = self.held.get(provider)
            if until is not None and until > now:
                return until
            if provider not in self.probes:
                return None
            if self.probes[provider] > 0:
                self.probes[provider] -= 1
                return None
        # Another message is the probe; this one waits a moment for its verdict.
        return now + timedelta(seconds=1)

    def seen(self, provider: str, outcome: SendOutcome, now: datetime) -> SendOutcome:
        """Take note of an attempt; a 429 turns it into a deferral and holds the provider for this round."""
        error = outcome.error
        if not provider or error is None or error.retry_after is None:
            return outcome
        until = now + timedelta(seconds=error.retry_after)
        with self._lock:
            self.held[provider] = max(until, self.held.get(provider, until))
        return dataclasses.replace(outcome, error=None, deferred_until=until, deferred_because=str(error),
                                   throttled=True)

    def persist(self, outcomes: list[tuple[str, SendOutcome]], now: datetime) -> bool:
        """Write what these attempts say about their providers, for every worker to see; True if anything
        was written."""
        wrote = False
        for provider, outcome in outcomes:
            if not provider:
                continue
            if outcome.throttled and outcome.deferred_until is not None:
                breaker.provider_backoff(provider=provider, seconds=(outcome.deferred_until - now).total_seconds(),
                                         now=now, error=outcome.deferred_because)
                wrote = True
            elif outcome.error is not None and outcome.error.provider_fault:
                paused = breaker.provider_fault(provider=provider, now=now, error=str(outcome.error))
                wrote = True
                self.health[provider] = breaker.ProviderHealth(BreakerState.OPEN if paused else BreakerState.CLOSED,
                                                               1, paused, None)
                if paused is not None:
                    with self._lock:
                        self.held[provider] = paused
            elif outcome.result is not None:
                state = self.health.get(provider)
                if state is not None and not state.clean:
                    breaker.provider_success(provider=provider, now=now)
                    self.health.pop(provider, None)
                    wrote = True
        return wrote


class Worker:
    """Polls the outbox and delivers; ``run_once`` does one claim-send-record round."""

    def __init__(
        self,
        *,
        name: str | None = None,
        channels: dict[str, Channel] | None = None,
        threads: int | None = None,
        batch: int | None = None,
        clock: Callable[[], datetime] = timezone.now,
    ) -> None:
        self.name = name or default_worker_name()
        self.channels = channels if channels is not None else channels_build()
        self.batch = batch or settings.VINEX_WORKER_BATCH
        self.clock = clock
        self._pool = ThreadPoolExecutor(max_workers=threads or settings.VINEX_WORKER_THREADS, thread_name_prefix="send")
        self.stopping = threading.Event()
        self._released_at: datetime | None = None
        self._health: dict[str, breaker.ProviderHealth] = {}
        self._health_at = float("-inf")

    def run_once(self) -> int:
        """Deliver what is due now; returns how many rows were handled."""
        now = self.clock()
        self._release_stale(now)
        gate = ProviderGate(health=self._provider_health(), now=now,
                            mine={channel.provider for channel in self.channels.values() if channel.provider})
        skip = frozenset(name for name, channel in self.channels.items() if channel.provider in gate.held)
        claimed = notifications_claim(worker=self.name, limit=self.batch, now=now, skip_channels=skip)
        if not claimed:
            return 0
        beating = threading.Event()
        heartbeat = threading.Thread(target=self._heartbeat, args=(claimed[0].claimed_by, beating), daemon=True)
        heartbeat.start()
        try:
            pending: set[Future[list[SendOutcome]]] = {
                self._pool.submit(self._deliver_in_order, group, gate) for group in by_contact(claimed)}
            while pending:
                # Each outcome is written as soon as it is known, with those known within a moment of it: a crash
                # later in the round cannot send it again. Messages to a nearby server finish within milliseconds
                # of each other, and one write for several costs one commit and one turn at the audit log's head
                # (which every writer, ingest included, queues for) instead of one each.
                done, pending = wait(pending, return_when=FIRST_COMPLETED)
                if pending:
                    more, pending = wait(pending, timeout=_RECORD_GATHER_SECONDS, return_when=ALL_COMPLETED)
                    done |= more
                self._record([outcome for future in done for outcome in future.result()], gate)
        finally:
            beating.set()
            heartbeat.join()
        return len(claimed)

    def _record(self, outcomes: list[SendOutcome], gate: ProviderGate) -> None:
        now = self.clock()
        if gate.persist([(self._provider_of(o.notification), o) for o in outcomes], now):
            self._health_at = float("-inf")  # read the shared state afresh next round
        notifications_record(outcomes=outcomes, worker=self.name, now=now)
        # One line for the outcomes recorded together (each attempt is a DeliveryAttempt row already): a line
        # per message cost a tenth of the worker's time at peak.
        labels = ["deferred" if o.deferred_until else _outcome_label(o) for o in outcomes]
        attempts = [[o.notification.pk, o.notification.channel, label]
                    for o, label in zip(outcomes, labels, strict=True)]
        logger.info("notification attempts", extra={"outcomes": dict(Counter(labels)), "attempts": attempts})

    def _provider_of(self, notification: Notification) -> str:
        channel = self.channels.get(notification.channel)
        return channel.provider if channel is not None else ""

    def _provider_health(self) -> dict[str, breaker.ProviderHealth]:
        # Read at most once a second: an idle worker polls ten times a second.
        if time.monotonic() - self._health_at >= 1.0:
            self._health, self._health_at = breaker.providers_health(), time.monotonic()
        return dict(self._health)

    def _release_stale(self, now: datetime) -> None:
        """Take back rows a dead worker held (their lease ran out), checked four times per lease."""
        every = timedelta(seconds=settings.VINEX_WORKER_HEARTBEAT_LEASE_SECONDS / 4)
        if self._released_at is None or not self._released_at <= now < self._released_at + every:
            self._released_at = now
            if released := notifications_release_stale(now=now):
                logger.warning("requeued messages of a vanished worker", extra={"count": released})

    def _heartbeat(self, claim: str, stop: threading.Event) -> None:
        try:
            while not stop.wait(settings.VINEX_WORKER_HEARTBEAT_LEASE_SECONDS / 3):
                notifications_renew_lease(claim=claim, now=self.clock())
        except Exception:
            logger.exception("lease renewal failed")
        finally:
            connection.close()

    def _deliver_in_order(self, group: list[Notification], gate: ProviderGate) -> list[SendOutcome]:
        outcomes = []
        for n in group:
            provider = self._provider_of(n)
            now = self.clock()
            until = gate.hold(provider, now)
            if until is not None:
                outcomes.append(SendOutcome(n, now, now, deferred_until=until, deferred_because=f"{provider} paused"))
                continue
            outcomes.append(gate.seen(provider, _deliver(self.channels.get(n.channel), n), self.clock()))
        return outcomes

    def run_forever(self) -> None:
        logger.info("worker started", extra={"worker": self.name})
        while not self.stopping.is_set():
            try:
                handled = self.run_once()
            except Exception:
                logger.exception("worker round failed")
                close_old_connections()
                handled = 0
            if handled < self.batch:
                self.stopping.wait(settings.VINEX_WORKER_POLL_SECONDS)
        self.close()
        logger.info("worker stopped", extra={"worker": self.name})

    def close(self) -> None:
        self._pool.shutdown(wait=True)
        for channel in self.channels.values():
            channel.close()
