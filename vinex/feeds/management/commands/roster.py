"""``vinex roster import FILE --facility CODE [--agency CODE]``: import a full roster snapshot from a file."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from vinex.audit.unit import Actor
from vinex.custody.models import Facility
from vinex.feeds.parsing import RosterFormatError
from vinex.feeds.services import roster_import


def facility_find(*, code: str, agency: str | None) -> Facility:
    """The facility with ``code``; the agency code is needed only when several agencies use that code."""
    found = Facility.objects.select_related("agency").filter(code=code)
    if agency:
        found = found.filter(agency__code=agency)
    matches = list(found[:2])
    if not matches:
        raise CommandError(f"no facility {code!r}" + (f" in agency {agency!r}" if agency else ""))
    if len(matches) > 1:
        raise CommandError(f"several agencies have a facility {code!r}; say which with --agency")
    return matches[0]


class Command(BaseCommand):
    help = "Roster snapshots: import a full list of who is in custody at a facility now."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        do_import = sub.add_parser("import", help="Diff a roster file (CSV with a header, or a JSON list).")
        do_import.add_argument("file", type=Path)
        do_import.add_argument("--facility", required=True, help="Facility code.")
        do_import.add_argument("--agency", help="Agency code (needed when the facility code is not unique).")
        do_import.add_argument("--no-progress", action="store_true", help="Do not draw a progress bar.")

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["file"]
        if not path.is_file():
            raise CommandError(f"{path} is not a file")
        facility = facility_find(code=options["facility"], agency=options["agency"])
        with tqdm(desc="reading", unit=" rows", disable=options["no_progress"], file=sys.stderr) as bar:

            def progress(stage: str, count: int) -> None:
                if stage == "changes":
                    bar.set_description("recording events")
                    bar.reset(total=count)
                else:
                    bar.update(count)

            try:
                snapshot = roster_import(facility=facility, path=path, origin="cli", progress=progress,
                                         actor=Actor.system("command:roster"))
            except RosterFormatError as error:
                raise CommandError(str(error)) from None
        self.stdout.write(
            f"snapshot {snapshot.pk}: {snapshot.status} — booked {snapshot.booked}, released {snapshot.released}, "
            f"transferred {snapshot.transferred}, unchanged {snapshot.unchanged}, "
            f"release dates {snapshot.summary.get('release_scheduled', 0)}, errors {snapshot.error_count}"
        )
        for reason in snapshot.reasons:
            self.stdout.write(f"held because {reason}")
        for row_error in snapshot.errors[:50]:
            where = " ".join(str(p) for p in row_error["loc"])
            self.stdout.write(f"{where}: {row_error['msg']}")
