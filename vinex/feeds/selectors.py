"""Reads for feeds: a facility's population as a column, subjects by id, feed health, the review queue."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import polars as pl
from django.conf import settings
from django.db import connection
from django.db.models import F
from django.db.models.expressions import RawSQL

from vinex.audit.unit import Actor, audit_unit
from vinex.custody.models import Agency, CustodyStatus, Facility, Subject
from vinex.feeds.models import (
    FacilityFeed,
    FeedAlertRecipient,
    PendingDeparture,
    PullSource,
    Snapshot,
    SnapshotStatus,
)

# Keeps every IN (...) list under SQLite's bound-parameter limit on any build.
IN_CHUNK = 900


def _text_column(name: str, sql: str, params: list[Any]) -> pl.Series:
    """The values of ``SELECT <name> <sql>`` (a text column) as a polars Series.

    SQLite and PostgreSQL hand the whole result over as one JSON array that polars decodes: for a
    million rows that is several times faster than building a million Python tuples and strings.
    """
    if connection.vendor not in _JSON_ARRAY:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT {name} {sql}", params)
            return pl.Series(name, [row[0] for row in cursor.fetchall()], dtype=pl.String)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {_JSON_ARRAY[connection.vendor].format(name)} {sql}", params)
        (text,) = cursor.fetchone()
    if text == "[]":
        return pl.Series(name, [], dtype=pl.String)
    return pl.Series(name, [text]).str.json_decode(pl.List(pl.String)).explode()


# Aggregates that return a column as one JSON array of text, per database vendor.
_JSON_ARRAY = {"sqlite": "json_group_array({})", "postgresql": "coalesce(json_agg({}), '[]')::text"}


def population_ids(*, facility: Facility) -> pl.Series:
    """agency_subject_id of everyone vinex holds in custody at ``facility`` now (one query, no ORM objects)."""
    table = connection.ops.quote_name(Subject._meta.db_table)
    return _text_column("agency_subject_id", f"FROM {table} WHERE facility_id = %s AND status = %s",
                        [facility.pk, CustodyStatus.IN_CUSTODY])


def scheduled_releases(*, facility: Facility) -> pl.DataFrame:
    """agency_subject_id and stored scheduled release (UTC) of the people in custody at ``facility`` who have one."""
    rows = Subject.objects.filter(facility=facility, status=CustodyStatus.IN_CUSTODY,
                                  scheduled_release_at__isnull=False).values_list("agency_subject_id",
                                                                                  "scheduled_release_at")
    schema: dict[str, pl.DataType] = {"agency_subject_id": pl.String(), "_stored_release": pl.Datetime("us", "UTC")}
    return pl.DataFrame(list(rows), schema=schema, orient="row")


@dataclass(frozen=True)
class KnownSubject:
    agency_subject_id: str
    status: str
    facility_code: str | None
    last_event_at: datetime | None
    first_name: str
    last_name: str
    scheduled_release_at: datetime | None = None


def subjects_known(*, facility: Facility, ids: Iterable[str]) -> dict[str, KnownSubject]:
    """The agency's stored subjects among ``ids``, with what a diff needs to know of each."""
    found: dict[str, KnownSubject] = {}
    columns = ("agency_subject_id", "status", "facility__code", "last_event_at", "first_name", "last_name",
               "scheduled_release_at")
    for batch in _id_batches(list(ids)):
        rows = Subject.objects.filter(agency_id=facility.agency_id, agency_subject_id__in=batch).values_list(*columns)
        for row in rows:
            found[row[0]] = KnownSubject(*row)
    return found


def _id_batches(ids: list[str]) -> Iterator[RawSQL | list[str]]:
    """``ids`` for an ``__in`` lookup: one bound parameter on SQLite and PostgreSQL (a JSON or an SQL
    array), so ten thousand ids are one query; chunks under the bound-parameter limit elsewhere."""
    if not ids:
        return
    if connection.vendor == "sqlite":
        yield RawSQL("SELECT value FROM json_each(%s)", [json.dumps(ids)])
    elif connection.vendor == "postgresql":
        yield RawSQL("SELECT unnest(%s::text[])", [ids])
    else:
        for start in range(0, len(ids), IN_CHUNK):
            yield ids[start : start + IN_CHUNK]


def snapshot_latest(*, facility: Facility) -> Snapshot | None:
    return Snapshot.objects.filter(facility=facility).order_by("-received_at", "-pk").first()


def snapshots_recent_applied(*, facility: Facility, limit: int) -> list[Snapshot]:
    return list(Snapshot.objects.filter(facility=facility, status=SnapshotStatus.APPLIED)
                .order_by("-received_at", "-pk")[:limit])


def snapshots_held(*, agency: Agency | None = None) -> list[Snapshot]:
    held = Snapshot.objects.filter(status=SnapshotStatus.QUARANTINED)
    if agency is not None:
        held = held.filter(facility__agency=agency)
    return list(held.select_related("facility__agency").order_by("received_at"))


@dataclass(frozen=True)
class FeedStatus:
    """Whether one facility's feed is speaking: silent for more than twice its cadence is stale."""

    feed: FacilityFeed
    label: str
    cadence: timedelta
    last_success_at: datetime | None
    silent_since: datetime
    stale: bool

    def seconds_silent(self, now: datetime) -> float:
        return max(0.0, (now - self.silent_since).total_seconds())


def feed_cadence(feed: FacilityFeed) -> timedelta:
    agency_feed = getattr(feed.facility.agency, "feed", None)
    seconds = feed.cadence_seconds or (agency_feed.cadence_seconds if agency_feed else None)
    return timedelta(seconds=seconds or settings.VINEX_FEED_DEFAULT_CADENCE_SECONDS)


def feed_statuses(*, now: datetime, agency: Agency | None = None) -> list[FeedStatus]:
    """Every monitored facility feed (of ``agency`` when given), stale ones first."""
    statuses = []
    feeds = FacilityFeed.objects.filter(monitored=True).select_related("facility__agency__feed")
    if agency is not None:
        feeds = feeds.filter(facility__agency=agency)
    for feed in feeds:
        moments = [m for m in (feed.last_snapshot_at, feed.last_event_at) if m is not None]
        last = max(moments) if moments else None
        silent_since = last or feed.created_at
        cadence = feed_cadence(feed)
        label = f"{feed.facility.agency.code}/{feed.facility.code}"
        statuses.append(FeedStatus(feed, label, cadence, last, silent_since, now - silent_since > 2 * cadence))
    return sorted(statuses, key=lambda s: (not s.stale, s.label))


def pull_sources_all(*, agency: Agency | None = None) -> list[PullSource]:
    sources = PullSource.objects.select_related("facility__agency")
    if agency is not None:
        sources = sources.filter(facility__agency=agency)
    return list(sources.order_by("facility__agency__code", "pk"))


def roster_fed_facilities(*, facility: Facility) -> list[int]:
    """Ids of the agency's other facilities that send roster snapshots."""
    return list(FacilityFeed.objects.filter(facility__agency_id=facility.agency_id, last_snapshot_at__isnull=False)
                .exclude(facility=facility).order_by("facility_id").values_list("facility_id", flat=True))


def pending_departures(*, agency_id: int) -> list[PendingDeparture]:
    return list(PendingDeparture.objects.filter(facility__agency_id=agency_id))


def pending_departures_overdue(*, now: datetime) -> list[PendingDeparture]:
    """Pending departures older than twice their facility feed's cadence."""
    pendings = PendingDeparture.objects.select_related("facility__agency__feed", "facility__feed", "snapshot")
    overdue = []
    for pending in pendings:
        feed = getattr(pending.facility, "feed", None)
        cadence = feed_cadence(feed) if feed else timedelta(seconds=settings.VINEX_FEED_DEFAULT_CADENCE_SECONDS)
        if now - pending.noticed_at > 2 * cadence:
            overdue.append(pending)
    return overdue


@dataclass(frozen=True)
class DelayNotice:
    """What the public status page says of a silent feed: a facility and a time, never a person."""

    facility_name: str
    agency_name: str
    since: datetime


def delay_notices(*, now: datetime) -> list[DelayNotice]:
    """Facilities whose notifications may be delayed because their feed has gone silent."""
    return [
        DelayNotice(s.feed.facility.name, s.feed.facility.agency.name, s.silent_since)
        for s in feed_statuses(now=now)
        if s.stale
    ]


@dataclass(frozen=True)
class AlertRecipientView:
    """One person told when a feed goes silent: whose feeds (an agency code, or None for every feed) and how."""

    pk: int
    agency_code: str | None
    channel: str
    value: str
    reachable: bool


def feed_alert_recipients(*, actor: Actor, agency: Agency | None = None,
                          operator: bool = False) -> list[AlertRecipientView]:
    """Who hears of silent feeds: everyone, or only ``agency``'s recipients, or only the operator's.

    Contact values are decrypted here, so the read is recorded in the audit log.
    """
    found = FeedAlertRecipient.objects.select_related("agency", "contact")
    if agency is not None:
        found = found.filter(agency=agency)
    elif operator:
        found = found.filter(agency__isnull=True)
    recipients = list(found.order_by(F("agency__code").asc(nulls_first=True), "pk"))  # the operator first
    with audit_unit(actor=actor) as unit:
        unit.add_many("read", "contact", [r.contact_id for r in recipients], purpose="feed alert recipients")
    return [AlertRecipientView(r.pk, r.agency.code if r.agency else None, r.contact.channel, r.contact.value,
                               r.contact.reachable) for r in recipients]
