"""The sender never starves: when the database's write lock is saturated by ingest (one batch writing,
more queued behind it), the worker still gets its turn before the queue has drained and hands the
queued message to SMTP. A functional test: it asserts the order of events, not how long anything took."""

from __future__ import annotations

import os
import threading
import time
from datetime import datetime
from pathlib import Path

import pytest
from django.db import connection, transaction
from django.utils import timezone

from tests.conftest import event
from tests.custody.test_services import ingest
from tests.factories import subscribe
from tests.support.smtp import SmtpServer
from vinex.core.database import write_turn
from vinex.custody.models import Agency, Facility
from vinex.notify.models import DeliveryAttempt, Notification, NotificationStatus
from vinex.notify.worker import Worker

QUEUED_BATCHES = 6
EVENTS_PER_BATCH = 40


def waiting_for(*, queue: int, turn: int, timeout: float = 30.0) -> None:
    """Until ``queue`` writers wait for a place in the write queue and ``turn`` for the turn itself (blocked
    ``flock`` calls on the two files beside the database, as ``/proc/locks`` lists them)."""
    name = str(connection.settings_dict["NAME"])
    inodes = {os.stat(f"{name}.write-queue").st_ino: queue, os.stat(f"{name}.write-turn").st_ino: turn}
    deadline = time.monotonic() + timeout
    while (blocked := _blocked_flocks(inodes)) != inodes:
        assert time.monotonic() < deadline, f"writers waiting by lock file inode: {blocked}, expected {inodes}"
        time.sleep(0.01)


def _blocked_flocks(inodes: dict[int, int]) -> dict[int, int]:
    counts = dict.fromkeys(inodes, 0)
    for line in Path("/proc/locks").read_text().splitlines():
        fields = line.split()
        if "->" in fields and "FLOCK" in fields:  # a waiter: "1: -> FLOCK ADVISORY WRITE pid maj:min:inode ..."
            inode = int(fields[fields.index("FLOCK") + 4].rsplit(":", 1)[1])
            if inode in counts:
                counts[inode] += 1
    return counts


@pytest.mark.django_db(transaction=True)
def test_the_worker_sends_before_the_queued_ingest_batches_are_done(agency: Agency,
                                                                     smtp_settings: SmtpServer) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL has no database write lock: the worker's claim skips the rows ingest holds "
                    "(FOR UPDATE SKIP LOCKED), so there is no turn to wait for")
    ingest(agency, event("b1", "BOOKED"))
    subscribe(agency, email="victim@example.org")
    ingest(agency, event("r1", "RELEASED", minutes=5, reason="bond"))
    batches_done: list[datetime] = []
    writing = threading.Event()
    let_go = threading.Event()
    ready = threading.Semaphore(0)  # each queued batch and the worker, about to ask for its turn

    def batch_being_written() -> None:
        try:
            with write_turn(), transaction.atomic():
                Facility.objects.filter(agency=agency, code="annex").update(name="Pine Annex")  # holds the lock
                writing.set()
                let_go.wait(30)
        finally:
            connection.close()

    def queued_batch(lane: int) -> None:
        try:
            batch = [event(f"q{lane}-{i}", "BOOKED", subject=f"Q{lane}-{i}") for i in range(EVENTS_PER_BATCH)]
            ready.release()
            assert ingest(agency, *batch) == ["accepted"] * EVENTS_PER_BATCH
            batches_done.append(timezone.now())
        finally:
            connection.close()

    def worker() -> None:
        try:
            sender = Worker(threads=1)
            ready.release()
            assert sender.run_once() == 1
        finally:
            connection.close()

    holder = threading.Thread(target=batch_being_written)
    holder.start()
    writing.wait(10)
    threads = [threading.Thread(target=queued_batch, args=(lane,)) for lane in range(QUEUED_BATCHES)]
    threads.append(threading.Thread(target=worker))
    for thread in threads:
        thread.start()
    for _ in threads:
        assert ready.acquire(timeout=30)
    # Let go only once every queued batch waits in the queue and the worker for the turn, as the kernel
    # sees them: with a fixed pause, a machine too busy to bring them there in time failed the test.
    waiting_for(queue=QUEUED_BATCHES, turn=1)
    let_go.set()
    for thread in [holder, *threads]:
        thread.join()
    assert [m["To"] for m in smtp_settings.inbox.wait_for(1)] == ["victim@example.org"]
    assert Notification.objects.get().status == NotificationStatus.SENT
    assert len(batches_done) == QUEUED_BATCHES
    # The hand-over began (its attempt's start) while queued batches were still being written: the worker
    # took its turns without waiting for the queue to drain. (Its whole round also includes the SMTP exchange,
    # which on a busy machine may outlast the batches: that is not waiting for the database.)
    started = DeliveryAttempt.objects.get().started_at
    assert started < max(batches_done), f"sending began at {started}, after every batch: {sorted(batches_done)}"
