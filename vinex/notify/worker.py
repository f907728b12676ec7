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

from vinex.audit.services import AuditEntryIn, audit_record_many
from vinex.core.bulk import rows_insert, rows_update
from vinex.notify import retry
from vinex.notify.channels import Channel, DeliveryError, ProviderResult, channels_build
from vinex.notify.models import (
    CLAIMABLE,
    DeliveryAttempt,
    Notification,
    NotificationStatus,
    SubscriptionStatus,
)

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
    with transaction.atomic():
        due = Notification.objects.filter(status__in=CLAIMABLE, next_attempt_at__lte=now).order_by("next_attempt_at")
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        ids = list(due.values_list("id", flat=True)[:limit])
        if not ids:
            return []
        Notification.objects.filter(id__in=ids, status__in=CLAIMABLE).update(
            status=NotificationStatus.SENDING, claimed_by=claim, claimed_at=now, updated_at=now
        )
    return list(
        Notification.objects.filter(claimed_by=claim, status=NotificationStatus.SENDING).select_related(
            "contact", "contact__registrant", "subscription"
        )
    )


def notifications_release_stale(*, now: datetime) -> int:
    """Return rows whose worker vanished mid-send to the queue (at-least-once delivery)."""
    cutoff = now - timedelta(seconds=settings.VINEX_WORKER_LEASE_SECONDS)
    return Notification.objects.filter(status=NotificationStatus.SENDING, claimed_at__lt=cutoff).update(
        status=NotificationStatus.QUEUED, claimed_by="", claimed_at=None, next_attempt_at=now, updated_at=now
    )


def _suppression_reason(notification: Notification) -> str:
    contact = notification.contact
    if contact.opted_out_at is not None:
        return "recipient opted out"
    if contact.registrant.withdrawn_at is not None:
        return "registrant withdrew"
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


def _fields_for(outcome: SendOutcome, now: datetime) -> dict[str, object]:
    """The row's new state after one attempt, as decided by the retry policy."""
    attempts = outcome.notification.attempts + (0 if outcome.suppressed_because else 1)
    base: dict[str, object] = {"attempts": attempts}
    if outcome.suppressed_because:
        return base | {"status": NotificationStatus.SUPPRESSED, "last_error": outcome.suppressed_because}
    if outcome.error is None:
        assert outcome.result is not None
        delivered = outcome.result.delivered
        return base | {
            "status": NotificationStatus.DELIVERED if delivered else NotificationStatus.SENT,
            "provider_id": outcome.result.provider_id[:64],
            "sent_at": outcome.finished_at,
            "delivered_at": outcome.finished_at if delivered else None,
            "last_error": "",
        }
    message = str(outcome.error)[:300]
    if retry.should_retry(attempts=attempts, permanent=outcome.error.permanent):
        return base | {
            "status": NotificationStatus.FAILED_TRANSIENT,
            "next_attempt_at": retry.next_attempt_at(attempts=attempts, now=now),
            "last_error": message,
        }
    return base | {"status": NotificationStatus.FAILED_PERMANENT, "last_error": message}


def _outcome_label(outcome: SendOutcome) -> str:
    if outcome.suppressed_because:
        return "suppressed"
    if outcome.error is None:
        return "sent"
    return "permanent" if outcome.error.permanent else "transient"


_RECORDED = ("status", "attempts", "provider_id", "sent_at", "delivered_at", "next_attempt_at", "last_error")


def notifications_record(*, outcomes: list[SendOutcome], worker: str, now: datetime) -> None:
    """Write each attempt's outcome, only onto rows this worker still holds.

    One statement executed for all rows (a round can hold hundreds), each guarded by the claim, so
    a row whose lease ran out and was taken by another worker is left to that worker.
    """
    rows: list[list[Any]] = []
    attempts = []
    for outcome in outcomes:
        n = outcome.notification
        fields = _fields_for(outcome, now)
        recorded = [fields.get(name, getattr(n, name)) for name in _RECORDED]
        rows.append([*recorded, now, "", None, n.pk, NotificationStatus.SENDING, n.claimed_by])
        if not outcome.suppressed_because:
            attempts.append((n.pk, fields["attempts"], worker, outcome.started_at, outcome.finished_at,
                             _outcome_label(outcome), str(outcome.error)[:300] if outcome.error else ""))
    with transaction.atomic():
        won = rows_update(Notification, (*_RECORDED, "updated_at", "claimed_by", "claimed_at"), rows,
                          match=("id", "status", "claimed_by"))
        if won != len(rows):
            # Rare: some leases expired mid-round. Keep only the attempts whose rows we still wrote.
            ours = set(Notification.objects.filter(pk__in=[a[0] for a in attempts], updated_at=now)
                       .values_list("pk", flat=True))
            attempts = [a for a in attempts if a[0] in ours]
        rows_insert(DeliveryAttempt, ("notification_id", "number", "worker", "started_at", "finished_at", "outcome",
                                      "error"), attempts)
        # Sending decrypted each recipient's address.
        audit_record_many(entries=[AuditEntryIn(f"system:{worker}", "system", "read", "contact",
                                                str(outcome.notification.contact_id), "delivery")
                                   for outcome in outcomes if not outcome.suppressed_because])


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
        outcomes = list(self._pool.map(lambda n: _deliver(self.channels.get(n.channel), n), claimed))
        notifications_record(outcomes=outcomes, worker=self.name, now=self.clock())
        for outcome in outcomes:
            logger.info(
                "notification attempt",
                extra={"notification": outcome.notification.pk, "channel": outcome.notification.channel,
                       "outcome": _outcome_label(outcome)},
            )
        return len(claimed)

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
