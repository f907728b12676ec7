"""The sender never starves: when the database's write lock is saturated by ingest (one batch writing,
more queued behind it), the worker still gets its turn before the queue has drained and hands the
queued message to SMTP. A functional test: it asserts the order of events, not how long anything took."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, transaction

from tests.conftest import event
from tests.custody.test_services import ingest
from tests.factories import subscribe
from tests.support.smtp import SmtpServer
from vinex.core.database import write_turn
from vinex.custody.models import Agency, Facility
from vinex.notify.models import Notification, NotificationStatus
from vinex.notify.worker import Worker

QUEUED_BATCHES = 6
EVENTS_PER_BATCH = 40


@pytest.mark.django_db(transaction=True)
def test_the_worker_sends_before_the_queued_ingest_batches_are_done(agency: Agency,
                                                                     smtp_settings: SmtpServer) -> None:
    ingest(agency, event("b1", "BOOKED"))
    subscribe(agency, email="victim@example.org")
    ingest(agency, event("r1", "RELEASED", minutes=5, reason="bond"))
    finished: list[str] = []
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
            finished.append(f"ingest {lane}")
        finally:
            connection.close()

    def worker() -> None:
        try:
            sender = Worker(threads=1)
            ready.release()
            assert sender.run_once() == 1
            finished.append("worker")
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
    time.sleep(0.5)  # set-up only: lets every queued batch and the worker go from ready to their wait
    let_go.set()
    for thread in [holder, *threads]:
        thread.join()
    assert [m["To"] for m in smtp_settings.inbox.wait_for(1)] == ["victim@example.org"]
    assert Notification.objects.get().status == NotificationStatus.SENT
    assert len(finished) == QUEUED_BATCHES + 1
    assert finished.index("worker") < QUEUED_BATCHES, f"the worker waited for every queued batch: {finished}"
