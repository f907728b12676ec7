"""The one small interface every pull connector implements, and what a fetch hands back.

A connector turns whatever the agency's system serves into roster files in vinex's own shape. It
``fetch``es what is new (oldest first) and is told, through ``done``, whether each file was imported,
so a drop folder can file it away. What a connector hands on holds only roster fields (see ``edge``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vinex.feeds.models import PullSource

# File names a drop (folder or SFTP) treats as rosters.
ROSTER_SUFFIXES = (".csv", ".json", ".txt", ".xlsx")


class ConnectorError(Exception):
    """A fetch failed (unreachable, refused, an error page, a timeout); the source is retried later."""


@dataclass(frozen=True)
class Fetched:
    """One roster file ready to import, what is known of its people's identity, and why it may need a look.

    ``hold_reasons`` (a changed format, rows that cannot be keyed) make the import hold the snapshot
    for review instead of applying it. ``origin_ref`` names the file or page it came from, for ``done``.
    """

    path: Path
    content_type: str = ""
    drop_file: Path | None = None
    etag: str | None = None
    last_modified: str | None = None
    identity: str = ""
    hold_reasons: tuple[str, ...] = ()
    origin_ref: str = ""
    preview: dict[str, Any] = field(default_factory=dict, compare=False)


class Connector(ABC):
    @abstractmethod
    def fetch(self, source: PullSource, scratch: Path, *, fresh: bool = False) -> list[Fetched]:
        """New roster files at ``source``, oldest first (empty when nothing new arrived).

        ``fresh`` asks for the current roster even if it has not changed (a dry run).
        """

    def done(self, source: PullSource, fetched: Fetched, *, ok: bool) -> None:  # noqa: B027 - an optional hook
        """Called after each file was imported (``ok``) or refused; never after a dry run."""
