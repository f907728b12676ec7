"""/metrics benchmark: scrape time with millions of events and notifications, against the old collector.

Target: a scrape under 50 ms with 10,000,000 custody events and 10,000,000 notifications. The tables
are filled with bulk ``INSERT … SELECT`` over a recursive series (SQLite's ``generate_series``), copying
one real event and one real notification, in chunks until the target or the time budget
(``BENCH_METRICS_FILL_SECONDS`` per table, default 90) is reached; the rows reached are reported. Then
20 scrapes through Django's test client (with the scrape token), and once the old scanning collector
(``COUNT(*) … GROUP BY`` over both tables) on the same data: the naive baseline.
"""

from __future__ import annotations

import os
import secrets
import sys
import time
from typing import Any

from bench.common import bench_env, migrate, percentile, remove_env, run_in_django, write_results

TARGET_ROWS = int(os.environ.get("BENCH_METRICS_ROWS", 10_000_000))
FILL_SECONDS = float(os.environ.get("BENCH_METRICS_FILL_SECONDS", 90))
CHUNK = 500_000
SCRAPES = 20
TARGET_MS = 50.0
TOKEN = secrets.token_urlsafe(24)  # the scraper's, for this run only


def main() -> int:
    env = bench_env(extra={"VINEX_METRICS_TOKEN": TOKEN})
    try:
        run_in_django(env, migrate)
        result: dict[str, Any] = run_in_django(env, _measure)
    finally:
        remove_env(env)
    result["target_ms"] = TARGET_MS
    result["met"] = result["scrape_ms_p99"] < TARGET_MS
    path = write_results("metrics", result)
    print(f"rows: {result['events']:,} events, {result['notifications']:,} notifications "
          f"(target {TARGET_ROWS:,}; filled in {result['fill_s']:.0f} s)")
    print(f"/metrics, {SCRAPES} scrapes: p50 {result['scrape_ms_p50']:.1f} ms, p99 {result['scrape_ms_p99']:.1f} ms "
          f"(target < {TARGET_MS:.0f} ms; {result['scrape_queries']} queries each)")
    print(f"old scanning collector, once: {result['naive_ms']:.0f} ms "
          f"({result['naive_ms'] / max(result['scrape_ms_p50'], 0.001):.0f}x the p50)")
    print(f"results written to {path}")
    return 0 if result["met"] else 1


def _seed() -> None:
    """One real event and one real message, through the services, as the templates of the copies."""
    from vinex.audit.unit import Actor
    from vinex.custody.models import Agency, Facility
    from vinex.custody.schemas import EventIn
    from vinex.notify.models import Notification, NotificationStatus
    from vinex.pipeline import IncomingEvent, events_ingest, payload_hash

    agency = Agency.objects.create(code="bench", name="Bench County", jurisdiction_code="US-XX")
    Facility.objects.create(agency=agency, code="main", name="Bench Jail", timezone="UTC")
    raw = {"event_id": "seed", "type": "BOOKED", "occurred_at": "2026-01-01T00:00:00Z", "facility_code": "main",
           "subject": {"agency_subject_id": "S-1", "first_name": "Robin", "last_name": "Quill"}}
    events_ingest(agency=agency, events=[IncomingEvent(EventIn.model_validate(raw), payload_hash(raw))],
                  actor=Actor.agency(agency.code))
    from tests.factories import subscribe

    subscribe(agency, "S-1", email="victim@example.org")
    raw2 = raw | {"event_id": "seed-2", "type": "RELEASED", "occurred_at": "2026-01-02T00:00:00Z"}
    events_ingest(agency=agency, events=[IncomingEvent(EventIn.model_validate(raw2), payload_hash(raw2))],
                  actor=Actor.agency(agency.code))
    assert Notification.objects.filter(event__isnull=False).exists()
    Notification.objects.update(status=NotificationStatus.SENT)


def _fill(model: Any, replace: dict[str, str], total: int) -> tuple[int, float]:
    """Copy ``model``'s first row until ``total`` rows or the time budget; ``replace`` gives a column's
    SQL over the series number ``n`` instead of the template's value."""
    from django.db import connection, transaction

    table = model._meta.db_table
    columns = [f.column for f in model._meta.concrete_fields if f.column != "id"]
    select = ", ".join(replace.get(c, f't."{c}"') for c in columns)
    started = time.perf_counter()
    done = model.objects.count()
    while done < total and time.perf_counter() - started < FILL_SECONDS:
        count = min(CHUNK, total - done)
        with transaction.atomic(), connection.cursor() as cursor:
            # Names from the models' metadata and numbers from this loop: nothing from outside.
            quoted = ", ".join(f'"{c}"' for c in columns)
            series = "WITH RECURSIVE s(n) AS (SELECT %s UNION ALL SELECT n + 1 FROM s WHERE n < %s)"
            template = f'(SELECT * FROM "{table}" ORDER BY id LIMIT 1) AS t'  # noqa: S608
            cursor.execute(f'INSERT INTO "{table}" ({quoted}) {series} SELECT {select} FROM s, {template}',  # noqa: S608
                           [done, done + count - 1])
        done += count
    return done, time.perf_counter() - started


def _measure() -> dict[str, Any]:
    from django.conf import settings
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext
    from prometheus_client import CollectorRegistry, generate_latest

    from vinex.custody.models import CustodyEvent
    from vinex.notify.models import Notification

    sys.path.insert(0, os.getcwd())
    _seed()
    started = time.perf_counter()
    events, _ = _fill(CustodyEvent, {"event_id": "'bulk-' || n"}, TARGET_ROWS)
    # Copies carry no event (one message per event and contact); a few still wait to be sent.
    notifications, _ = _fill(Notification, {"event_id": "NULL",
                                            "status": "CASE WHEN n %% 100000 = 0 THEN 'queued' ELSE t.status END"},
                             TARGET_ROWS)
    fill_s = time.perf_counter() - started
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE")
    client = Client(headers={"Authorization": f"Bearer {settings.VINEX_METRICS_TOKEN}"})  # the parent's TOKEN
    assert client.get("/metrics").status_code == 200  # warm: imports, the page cache
    timings = []
    for _ in range(SCRAPES):
        t0 = time.perf_counter()
        response = client.get("/metrics")
        timings.append((time.perf_counter() - t0) * 1000)
        assert response.status_code == 200
    with CaptureQueriesContext(connection) as queries:
        client.get("/metrics")
    naive = CollectorRegistry()
    naive.register(_OldOutboxCollector())
    t0 = time.perf_counter()
    generate_latest(naive)
    naive_ms = (time.perf_counter() - t0) * 1000
    return {"events": events, "notifications": notifications, "fill_s": round(fill_s, 1),
            "scrapes": SCRAPES, "scrape_ms_p50": round(percentile(timings, 50), 2),
            "scrape_ms_p99": round(percentile(timings, 99), 2), "scrape_queries": len(queries),
            "naive_ms": round(naive_ms, 1), "database": "sqlite"}


class _OldOutboxCollector:
    """The collector /metrics used before: two ``COUNT(*) … GROUP BY`` over the big tables."""

    def collect(self) -> Any:
        from django.db.models import Count
        from prometheus_client.core import GaugeMetricFamily

        from vinex.custody.models import CustodyEvent
        from vinex.notify.models import Notification

        by_status = GaugeMetricFamily("vinex_notifications", "by channel and status", labels=["channel", "status"])
        for channel, status, n in Notification.objects.values_list("channel", "status").annotate(n=Count("id")
                                                                                                    ).order_by():
            by_status.add_metric([channel, status], n)
        yield by_status
        events = GaugeMetricFamily("vinex_custody_events", "by source", labels=["source"])
        for source, n in CustodyEvent.objects.values_list("source").annotate(n=Count("id")).order_by():
            events.add_metric([source], n)
        yield events


if __name__ == "__main__":
    sys.exit(main())
