"""A drop folder of roster files in vinex's own shape (local, or an upload area mounted here)."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from django.conf import settings

from vinex.feeds.connectors.base import ROSTER_SUFFIXES, Connector, ConnectorError, Fetched
from vinex.feeds.models import PullSource
from vinex.feeds.parsing import move


def settled_files(folder: Path) -> list[Path]:
    """Roster files in ``folder`` that nobody is still writing, oldest first (hidden and partial files wait)."""
    if not folder.is_dir():
        raise ConnectorError(f"drop folder {folder} does not exist")
    settle = datetime.now().timestamp() - settings.VINEX_CONNECTOR_SETTLE_SECONDS
    ready = [p for p in folder.iterdir() if p.is_file() and not p.name.startswith(".")
             and p.suffix.lower() in ROSTER_SUFFIXES and p.stat().st_mtime <= settle]
    ready.sort(key=lambda p: (p.stat().st_mtime, p.name))
    return ready


def file_away(fetched: Fetched, *, ok: bool) -> None:
    """Move an imported drop file to ``processed/``, a refused one to ``failed/``."""
    if fetched.drop_file is not None and fetched.drop_file.exists():
        target = fetched.drop_file.parent / ("processed" if ok else "failed") / fetched.drop_file.name
        move(fetched.drop_file, target)


class DirectoryConnector(Connector):
    """A drop folder (local, or mounted): imports new files, then moves them.

    Imported files go to ``processed/``, unreadable ones to ``failed/``. Files still being written
    (changed in the last ``VINEX_CONNECTOR_SETTLE_SECONDS``) and hidden or partial files wait.
    """

    def fetch(self, source: PullSource, scratch: Path, *, fresh: bool = False) -> list[Fetched]:
        return [Fetched(path=p, drop_file=p, origin_ref=p.name) for p in settled_files(Path(source.location))]

    def done(self, source: PullSource, fetched: Fetched, *, ok: bool) -> None:
        file_away(fetched, ok=ok)
