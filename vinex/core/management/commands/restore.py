"""``vinex restore FILE``: put a backup made by ``vinex backup`` into the configured (empty) database."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from vinex.core.backup import ENGINE_NAMES, BackupError, database_restore


class Command(BaseCommand):
    help = "Restore a backup made by vinex backup. Stop the server, the worker and the scheduler first."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("file", type=Path, help="a file written by vinex backup")
        parser.add_argument("--force", action="store_true",
                            help="replace the content of a database that is not empty")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            result = database_restore(source=options["file"], force=options["force"])
        except BackupError as error:
            raise CommandError(str(error), returncode=2 if error.usage else 1) from None
        replaced = f", replacing the {result.replaced_tables} tables it held" if result.replaced_tables else ""
        self.stdout.write(f"restored {result.path} into the {ENGINE_NAMES[result.engine]} database {result.database}"
                          f"{replaced}: {result.tables} tables")
        self.stdout.write("run vinex migrate if the backup comes from an older version, then start vinex again")

