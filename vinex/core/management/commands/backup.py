"""``vinex backup --out FILE``: a consistent copy of the whole database, taken while vinex runs."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from vinex.core.backup import ENGINE_NAMES, BackupError, database_backup


class Command(BaseCommand):
    help = "Back up the database to one file (SQLite online backup, or pg_dump's custom format)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--out", required=True, type=Path, help="the backup file to write (replaced if it exists)")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = database_backup(out=options["out"])
        except BackupError as error:
            raise CommandError(str(error), returncode=2 if error.usage else 1) from None
        self.stdout.write(f"backed up the {ENGINE_NAMES[result.engine]} database {result.database} to {result.path} "
                          f"({result.size:,} bytes)")

