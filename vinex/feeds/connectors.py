"""Pull connectors: fetch roster snapshots from where agencies leave them, on a schedule.

Each kind of source is one class with one ``fetch`` method; adding a kind is a new class and a
registry line. The scheduler runs due sources through ``pull_sources_run_due`` (``feeds/jobs.py``); a
failing source is retried with backoff and its failures show on the staff status page.
"""

from __future__ import annotations

import logging
import tempfile
from abc import ABC, abstractmethod
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlparse

import requests
from django.conf import settings
from django.db.models import Q

from vinex.audit.unit import Actor
from vinex.feeds.models import ConnectorKind, PullSource
from vinex.feeds.parsing import RosterFormatError, copy_stream, move
from vinex.feeds.services import roster_import

logger = logging.getLogger(__name__)

ROSTER_SUFFIXES = (".csv", ".json", ".txt")


class ConnectorError(Exception):
    """A fetch failed; the source is retried later."""


@dataclass(frozen=True)
class Fetched:
    """One roster file ready to import, and what to do with its origin once it is imported."""

    path: Path
    content_type: str = ""
    drop_file: Path | None = None
    etag: str | None = None


class Connector(ABC):
    @abstractmethod
    def fetch(self, source: PullSource, scratch: Path) -> list[Fetched]:
        """New roster files at ``source``, oldest first (empty when nothing new arrived)."""

    def done(self, source: PullSource, fetched: Fetched, *, ok: bool) -> None:  # noqa: B027 - an optional hook
        """Called after each file was imported (``ok``) or refused."""


class DirectoryConnector(Connector):
    """A drop folder (local, or an SFTP upload area mounted locally): imports new files, then moves them.

    Imported files go to ``processed/``, unreadable ones to ``failed/``. Files still being written
    (changed in the last ``VINEX_CONNECTOR_SETTLE_SECONDS``) and hidden or partial files wait.
    """

    def fetch(self, source: PullSource, scratch: Path) -> list[Fetched]:
        folder = Path(source.location)
        if not folder.is_dir():
            raise ConnectorError(f"drop folder {folder} does not exist")
        settle = datetime.now().timestamp() - settings.VINEX_CONNECTOR_SETTLE_SECONDS
        ready = [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")
                 and p.suffix.lower() in ROSTER_SUFFIXES and p.stat().st_mtime <= settle]
        ready.sort(key=lambda p: (p.stat().st_mtime, p.name))
        return [Fetched(path=p, drop_file=p) for p in ready]

    def done(self, source: PullSource, fetched: Fetched, *, ok: bool) -> None:
        if fetched.drop_file is not None and fetched.drop_file.exists():
            target = fetched.drop_file.parent / ("processed" if ok else "failed") / fetched.drop_file.name
            move(fetched.drop_file, target)


class HttpsConnector(Connector):
    """An address that serves the current roster, with an authorisation header; unchanged content is skipped."""

    def fetch(self, source: PullSource, scratch: Path) -> list[Fetched]:
        address = urlparse(source.location)
        # Plain HTTP only on this machine (an agency gateway on loopback); anything else must be HTTPS.
        if address.scheme != "https" and address.hostname not in {"127.0.0.1", "localhost", "::1"}:
            raise ConnectorError("roster addresses must use https://")
        headers = {"Accept": "text/csv, application/json"}
        if source.auth_header_value:
            headers[source.auth_header_name or "Authorization"] = source.auth_header_value
        if source.etag:
            headers["If-None-Match"] = source.etag
        try:
            with requests.get(source.location, headers=headers, stream=True,
                              timeout=settings.VINEX_CONNECTOR_TIMEOUT_SECONDS) as response:
                if response.status_code == 304:
                    return []
                if response.status_code >= 400:
                    raise ConnectorError(f"the server answered {response.status_code}")
                path = scratch / "roster"
                response.raw.decode_content = True
                copy_stream(response.raw, path, limit=settings.VINEX_ROSTER_MAX_BYTES)
                return [Fetched(path=path, content_type=response.headers.get("Content-Type", ""),
                                etag=response.headers.get("ETag", "")[:200])]
        except requests.RequestException as error:
            raise ConnectorError(f"fetch failed: {type(error).__name__}") from None
        except OverflowError:
            raise ConnectorError("roster is too large") from None


CONNECTORS: dict[str, Connector] = {
    ConnectorKind.DIRECTORY: DirectoryConnector(),
    ConnectorKind.HTTPS: HttpsConnector(),
}


@contextmanager
def _scratch() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="vinex-pull-") as folder:
        yield Path(folder)


def _retry_delay(source: PullSource) -> timedelta:
    backoff = settings.VINEX_CONNECTOR_RETRY_BASE_SECONDS * 2 ** max(0, source.failures - 1)
    return timedelta(seconds=min(backoff, source.interval_seconds))


def pull_source_run(*, source: PullSource, now: datetime, actor: Actor) -> int:
    """Fetch and import what is new at ``source``; returns how many snapshots were imported."""
    connector = CONNECTORS[source.kind]
    imported = 0
    source.last_run_at = now
    try:
        with _scratch() as scratch:
            refused: list[str] = []
            for fetched in connector.fetch(source, scratch):
                try:
                    roster_import(facility=source.facility, path=fetched.path, origin="connector",
                                  content_type=fetched.content_type, actor=actor)
                except RosterFormatError as error:
                    # Later files are full snapshots too, so one unreadable file does not hold them up.
                    connector.done(source, fetched, ok=False)
                    refused.append(str(error))
                    continue
                connector.done(source, fetched, ok=True)
                if fetched.etag is not None:
                    source.etag = fetched.etag  # only once imported, so a refused file is fetched again
                imported += 1
            if refused:
                raise ConnectorError(f"unreadable roster: {refused[-1]}")
    except (ConnectorError, OSError) as error:
        source.failures += 1
        source.last_error = str(error)[:300]
        source.next_run_at = now + _retry_delay(source)
        logger.warning("pull connector failed", extra={"source": source.pk, "failures": source.failures})
    else:
        source.failures, source.last_error = 0, ""
        source.last_success_at = now
        source.next_run_at = now + timedelta(seconds=source.interval_seconds)
    source.save(update_fields=["last_run_at", "failures", "last_error", "last_success_at", "next_run_at", "etag"])
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
