"""Running pull sources: on their facility's cadence in the scheduler, or once as a dry run.

A live run imports each fetched roster exactly like a pushed one (``roster_import``), so the
false-release guard, quarantine and feed health apply unchanged; what the connector found wrong at
the edge (a changed format, rows that cannot be keyed) holds the snapshot for review. A failing
source is retried with backoff; its facility's feed stays silent and alerts like any silent feed.
A dry run fetches and diffs without storing anything or telling anyone.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from vinex.audit.unit import Actor
from vinex.feeds.connectors.base import ConnectorError, Fetched
from vinex.feeds.connectors.registry import CONNECTORS
from vinex.feeds.models import FacilityFeed, PullSource
from vinex.feeds.parsing import RosterFormatError, detect_kind, roster_parse
from vinex.feeds.services import agency_column_map, quarantine_reasons, roster_diff, roster_import

logger = logging.getLogger(__name__)


@contextmanager
def _scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="vinex-pull-") as folder:
        yield Path(folder)


def _retry_delay(source: PullSource) -> timedelta:
    backoff = settings.VINEX_CONNECTOR_RETRY_BASE_SECONDS * 2 ** max(0, source.failures - 1)
    return timedelta(seconds=min(backoff, source.interval_seconds))


def _import(source: PullSource, fetched: Fetched, actor: Actor) -> None:
    roster_import(facility=source.facility, path=fetched.path, origin="connector", content_type=fetched.content_type,
                  actor=actor, hold_reasons=list(fetched.hold_reasons))
    if fetched.etag is not None:
        source.etag = fetched.etag  # only once imported, so a refused file is fetched again
    if fetched.last_modified is not None:
        source.last_modified = fetched.last_modified
    # Files in vinex's own shape carry the agency's subject ids; vendor rosters say how they were keyed.
    source.identity_note = (fetched.identity or "the agency's own subject ids")[:300]


def pull_source_run(*, source: PullSource, now: datetime, actor: Actor) -> int:
    """Fetch and import what is new at ``source``; returns how many snapshots were imported."""
    connector = CONNECTORS[source.kind]
    imported = 0
    source.last_run_at = now
    # Watched from the first run on, so a source that never delivers is reported silent like any feed.
    FacilityFeed.objects.get_or_create(facility=source.facility)
    try:
        with _scratch() as scratch:
            refused: list[str] = []
            for fetched in connector.fetch(source, scratch):
                try:
                    _import(source, fetched, actor)
                except RosterFormatError as error:
                    # Later files are full snapshots too, so one unreadable file does not hold them up.
                    connector.done(source, fetched, ok=False)
                    refused.append(str(error))
                    continue
                connector.done(source, fetched, ok=True)
                imported += 1
            if refused:
                raise ConnectorError(f"unreadable roster: {refused[-1]}")
    except (ConnectorError, OSError) as error:
        source.failures += 1
        source.last_error = str(error)[:300]
        source.next_run_at = now + _retry_delay(source)
        # Only the source and the count: an error text could quote a vendor's answer.
        logger.warning("pull connector failed", extra={"source": source.pk, "failures": source.failures})
    else:
        source.failures, source.last_error = 0, ""
        source.last_success_at = now
        source.next_run_at = now + timedelta(seconds=source.interval_seconds)
    source.save(update_fields=["last_run_at", "failures", "last_error", "last_success_at", "next_run_at", "etag",
                               "last_modified", "identity_note"])
    return imported


def pull_sources_run_due(*, now: datetime, actor: Actor) -> int:
    """Run every enabled source that is due; each is claimed first so two workers never run the same one."""
    due = PullSource.objects.filter(enabled=True).filter(Q(next_run_at__isnull=True) | Q(next_run_at__lte=now))
    imported = 0
    for source in due.select_related("facility__agency"):
        lease = now + timedelta(seconds=source.interval_seconds)
        won = PullSource.objects.filter(pk=source.pk, next_run_at=source.next_run_at).update(next_run_at=lease)
        if won:
            imported += pull_source_run(source=source, now=now, actor=actor)
    return imported


@dataclass
class DryRun:
    """What pulling ``source`` now would do; nothing was stored and nobody was told."""

    error: str = ""
    would: str = ""
    booked: int = 0
    released: int = 0
    transferred: int = 0
    pending: int = 0
    unchanged: int = 0
    row_errors: int = 0
    reasons: list[str] = field(default_factory=list)
    identity: str = ""
    sample: dict[str, list[str]] = field(default_factory=dict)
    preview: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.error


def connector_dry_run(*, source: PullSource, now: datetime | None = None) -> DryRun:
    """Fetch the current roster and diff it against the facility, storing nothing (``source`` may be unsaved)."""
    now = now or timezone.now()
    facility = source.facility
    with _scratch() as scratch:
        try:
            found = CONNECTORS[source.kind].fetch(source, scratch, fresh=True)
        except (ConnectorError, OSError) as error:
            return DryRun(error=str(error)[:300])
        if not found:
            return DryRun(error="the source has no roster to read right now")
        latest = found[-1]  # every file is a full snapshot: the newest says who is there now
        try:
            parsed = roster_parse(latest.path, scratch=scratch, facility_code=facility.code,
                                  timezone_name=facility.timezone, column_map=agency_column_map(agency=facility.agency),
                                  kind=detect_kind(latest.path, latest.content_type))
        except RosterFormatError as error:
            return DryRun(error=f"unreadable roster: {error}", preview=latest.preview)
    diff = roster_diff(facility=facility, rows=parsed.rows, kept_ids=parsed.kept_ids, as_of=now)
    reasons = list(latest.hold_reasons) + quarantine_reasons(facility=facility, parsed=parsed, diff=diff)
    sample: dict[str, list[str]] = {}
    for change in diff.changes:
        sample.setdefault(change.kind, []).append(change.agency_subject_id)
    return DryRun(would="be held for review" if reasons else "be applied", booked=diff.count("booked"),
                  released=diff.count("released"), transferred=diff.count("transferred"),
                  pending=diff.count("pending"), unchanged=diff.unchanged, row_errors=len(parsed.errors),
                  reasons=reasons, identity=latest.identity, sample={k: v[:20] for k, v in sample.items()},
                  preview=latest.preview)
