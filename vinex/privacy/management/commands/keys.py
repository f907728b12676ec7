"""``vinex keys rotate`` re-encrypts stored personal data under the newest field key, ``vinex keys check``
counts what is not yet under it (see ``vinex.privacy.keys``), ``vinex keys generate`` prints a new key."""

from __future__ import annotations

from argparse import ArgumentParser
from typing import Any

from cryptography.fernet import Fernet
from django.core.management.base import BaseCommand, CommandError

from vinex.audit.unit import Actor
from vinex.privacy.keys import BATCH_SIZE, CheckReport, IndexRotation, ModelRotation, keys_check, keys_rotate

# As the key commands have always signed the audit log.
ACTOR = Actor.system("cli")


class Command(BaseCommand):
    help = "Rotate the keys that encrypt personal data, or check which rows still need it."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True)
        rotate = sub.add_parser("rotate", help="re-encrypt every encrypted value under the first key in "
                                "VINEX_FIELD_KEY and recompute contact indexes; run again to finish a stopped run")
        rotate.add_argument("--batch-size", type=int, default=BATCH_SIZE, help="rows per transaction")
        sub.add_parser("check", help="count values under an older key or under none configured "
                       "(exit 1 if any cannot be decrypted)")
        sub.add_parser("generate", help="print a new random key for VINEX_FIELD_KEY")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["subcommand"] == "rotate":
            self._rotate(batch_size=options["batch_size"])
        elif options["subcommand"] == "check":
            self._check()
        else:
            self.stdout.write(Fernet.generate_key().decode())

    def _rotate(self, *, batch_size: int) -> None:
        if batch_size < 1:
            raise CommandError("--batch-size must be at least 1")
        report = keys_rotate(batch_size=batch_size, progress=self._progress, actor=ACTOR)
        if report.needs_attention:
            raise CommandError(
                f"{report.needs_attention} values are not yet under the newest key and index: rows changed "
                "meanwhile are finished by running this again; undecryptable values need their old key "
                "added back to VINEX_FIELD_KEY; duplicate contacts need merging by hand", returncode=1)
        self.stdout.write("every encrypted value is under the newest key")

    def _progress(self, counts: ModelRotation | IndexRotation) -> None:
        if isinstance(counts, ModelRotation):
            self.stdout.write(f"{counts.model}: {counts.rotated} re-encrypted, {counts.current} already current, "
                              f"{counts.undecryptable} undecryptable, {counts.changed} changed meanwhile")
        else:
            self.stdout.write(f"notify.Contact indexes: {counts.recomputed} recomputed, {counts.current} already "
                              f"current, {counts.undecryptable} undecryptable, {counts.changed} changed meanwhile, "
                              f"{counts.duplicates} duplicates")

    def _check(self) -> None:
        report = keys_check(actor=ACTOR)
        self._print_check(report)
        if report.undecryptable:
            raise CommandError(f"{report.undecryptable} values cannot be decrypted with the configured keys",
                               returncode=1)
        if report.old_key or report.stale_indexes:
            self.stdout.write("run `vinex keys rotate` to bring them under the newest key")
        else:
            self.stdout.write("every encrypted value is under the newest key")

    def _print_check(self, report: CheckReport) -> None:
        for counts in report.models:
            self.stdout.write(f"{counts.model}: {counts.current} under the newest key, {counts.old_key} under an "
                              f"older key, {counts.undecryptable} undecryptable")
        self.stdout.write(f"notify.Contact indexes: {report.stale_indexes} stale")
