"""``vinex worker``: deliver queued notifications until stopped (SIGTERM/SIGINT finish the round)."""

from __future__ import annotations

import signal
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from vinex.core.gc import tune_for_service
from vinex.notify.worker import Worker


class Command(BaseCommand):
    help = "Run the notification worker."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", default=None, help="Worker name recorded on each attempt.")
        parser.add_argument("--once", action="store_true", help="Deliver what is due now, then exit.")

    def handle(self, *args: Any, **options: Any) -> None:
        tune_for_service()
        worker = Worker(name=options["name"])
        if options["once"]:
            while worker.run_once():
                pass
            worker.close()
            return

        def stop(signum: int, frame: FrameType | None) -> None:
            worker.stopping.set()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        worker.run_forever()
