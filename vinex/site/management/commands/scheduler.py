"""``vinex scheduler``: run the apps' periodic jobs until stopped (SIGTERM/SIGINT finish the running job)."""

from __future__ import annotations

import signal
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from vinex.core.gc import tune_for_service
from vinex.site.scheduler import Scheduler


class Command(BaseCommand):
    help = "Run the periodic jobs (feed health, pull connectors, audit checkpoints, purges, ...) when they are due."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", default=None, help="Scheduler name recorded on the jobs it runs.")
        parser.add_argument("--once", action="store_true",
                            help="Run every job that is due now once, then exit (status 1 if one failed).")

    def handle(self, *args: Any, **options: Any) -> None:
        scheduler = Scheduler(name=options["name"])
        tune_for_service()  # after the apps' jobs were imported, so those modules are frozen too
        if options["once"]:
            failed = [run.name for run in scheduler.run_pending() if run.error]
            if failed:
                raise CommandError(f"jobs failed: {', '.join(failed)}")
            return

        def stop(signum: int, frame: FrameType | None) -> None:
            scheduler.stopping.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        scheduler.run_forever()
