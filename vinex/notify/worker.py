"""The notification worker: claims outbox rows, sends them, records what happened.

Any number of workers on any number of machines may run at once. A row is taken with a conditional
update (``… WHERE status IN ('queued','failed_transient')``), under ``FOR UPDATE SKIP LOCKED`` where the
database has it, so two workers never send the same row; a worker that dies mid-send leaves rows in
``sending`` that go back to the queue when their lease runs out (``notifications_release_stale``, a job
of ``vinex scheduler``). The worker does nothing else: periodic jobs never delay a send.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection, transaction
from django.utils import timezone

from vinex.audit.unit import Actor, audit_unit
from vinex.core.bulk import rows_insert
from vinex.core.database import write_turn
from vinex.notify import lifecycle, retry
from vinex.notify.channels import Channel, DeliveryError, ProviderResult, channels_build
from vinex.notify.metrics import notification_attempts_count
from vinex.notify.models import CallPreference, DeliveryAttempt, Notification, NotificationStatus, SubscriptionStatus
from vinex.notify.models import Channel as ChannelKind
from vinex.notify.services import notification_receipts_apply
from vinex.notify.voice import voice_calls_apply_ended

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SendOutcome:
    notification: Notification
    started_at: datetime
    finished_at: datetime
    result: ProviderResult | None = None
    error: DeliveryError | None = None
    suppressed_because: str = ""


def default_worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def notifications_claim(*, worker: str, limit: int, now: datetime) -> list[Notification]:
    """Take up to ``limit`` due rows for this worker; rows another worker holds are skipped."""
    claim = f"{worker}:{uuid.uuid4().hex[:12]}"
    # The senders' turn comes before any ingest still waiting (see write_turn): they never starve.
    with write_turn(priority=True), transaction.atomic():
        due = Notification.objects.filter(status__in=lifecycle.NOTIFICATION_CLAIMABLE, next_attempt_at__lte=now
                                          ).order_by("next_attempt_at")
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        ids = list(due.values_list("id", flat=True)[:limit])
        if not ids:
            return []
        lifecycle.notifications_claim(ids=ids, claim=claim, now=now)
    return list(
        Notification.objects.filter(claimed_by=claim, status=NotificationStatus.SENDING).select_related(
            "contact", "contact__registrant", "subscription"
        )
    )


def notifications_release_stale(*, now: datetime) -> int:
    """Return rows whose worker vanished mid-send to the queue (at-least-once delivery)."""
    cutoff = now - timedelta(seconds=settings.VINEX_WORKER_LEASE_SECONDS)
    return lifecycle.notifications_requeue_abandoned(claimed_before=cutoff, now=now)


def _suppression_reason(notification: Notification) -> str:
    contact = notification.contact
    if contact.opted_out_at is not None:
        return "recipient opted out"
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

    def run_once(self) -> int:
        """Deliver what is due now; returns how many rows were handled."""
        now = self.clock()
        claimed = notifications_claim(worker=self.name, limit=self.batch, now=now)
        if not claimed:
            return 0
        outcomes = [outcome for group in self._pool.map(self._deliver_in_order, by_contact(claimed))
                    for outcome in group]
        notifications_record(outcomes=outcomes, worker=self.name, now=self.clock())
        for outcome in outcomes:
            logger.info(
                "notification attempt",
                extra={"notification": outcome.notification.pk, "channel": outcome.notification.channel,
                       "outcome": _outcome_label(outcome)},
            )
        return len(claimed)

    def _deliver_in_order(self, group: list[Notification]) -> list[SendOutcome]:
        return [_deliver(self.channels.get(n.channel), n) for n in group]

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
