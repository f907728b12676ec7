"""``vinex bounces``: receive the bounces of vinex's emails over SMTP (see ``vinex.notify.bounces``)."""

from __future__ import annotations

import signal
import threading
from typing import Any

from aiosmtpd.controller import Controller
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from vinex.notify.bounces import BounceHandler


class Command(BaseCommand):
    help = "Receive bounces for VINEX_BOUNCE_DOMAIN over SMTP until stopped."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--bind", default=None, help="host:port to listen on (default VINEX_BOUNCE_BIND).")

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.VINEX_BOUNCE_DOMAIN:
            raise CommandError("set VINEX_BOUNCE_DOMAIN to the domain whose mail this listener receives")
        host, _, port = (options["bind"] or settings.VINEX_BOUNCE_BIND).rpartition(":")
        controller = Controller(BounceHandler(), hostname=host or "127.0.0.1", port=int(port))
        stopping = threading.Event()
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, lambda *_: stopping.set())
        controller.start()
        self.stdout.write(f"receiving bounces for {settings.VINEX_BOUNCE_DOMAIN} on {host}:{port}", ending="\n")
        self.stdout.flush()
        stopping.wait()
        controller.stop()
