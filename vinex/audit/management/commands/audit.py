"""``vinex audit verify`` checks the whole log; ``vinex audit checkpoint`` signs one now."""

from __future__ import annotations

import json
from argparse import ArgumentParser
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from vinex.audit.services import audit_checkpoint_create
from vinex.audit.unit import Actor, audit_add
from vinex.audit.verify import audit_verify


class Command(BaseCommand):
    help = "Verify the tamper-evident audit log, or sign a checkpoint of it now."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True)
        sub.add_parser("verify", help="check every entry and signed checkpoint; exit 1 at the first bad entry")
        sub.add_parser("checkpoint", help="sign a Merkle tree head over the log as it is now (prints it as JSON)")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["subcommand"] == "verify":
            self._verify()
        else:
            self._checkpoint()

    def _verify(self) -> None:
        result = audit_verify()
        audit_add(actor=Actor.system("cli"), action="audit_verify", object_type="audit_log",
                  object_id=str(result.entries), outcome="ok" if result.ok else "failed")
        if not result.ok:
            raise CommandError(f"audit log broken at entry {result.first_bad_seq}: {result.reason}", returncode=1)
        checkpoints = "1 signed checkpoint" if result.checkpoints == 1 else f"{result.checkpoints} signed checkpoints"
        self.stdout.write(f"audit log intact: {result.entries} entries, {checkpoints}")

    def _checkpoint(self) -> None:
        checkpoint = audit_checkpoint_create()
        if checkpoint is None:
            self.stdout.write("nothing to sign: the newest entry is already covered by a checkpoint")
            return
        # Printed so an operator can keep the signed head outside this database.
        self.stdout.write(json.dumps({
            "tree_size": checkpoint.tree_size, "root_hash": checkpoint.root_hash,
            "signed_at": checkpoint.signed_at.isoformat(), "key_id": checkpoint.key_id,
            "signature": checkpoint.signature,
        }))
