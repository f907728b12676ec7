"""``vinex up``: development all-in-one — migrate, load demo data, run server, worker and scheduler together."""

from __future__ import annotations

import secrets
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from vinex.accounts import matrix
from vinex.accounts.services import staffuser_create, staffuser_set_roles
from vinex.audit.unit import Actor


class Command(BaseCommand):
    help = "Set up the development database and run the web server, the notification worker and the scheduler."

    def handle(self, *args: Any, **options: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError(
                "vinex up is for development; run vinex serve, vinex worker and vinex scheduler in production")
        call_command("migrate", interactive=False, verbosity=0)
        call_command("demo")
        self._staff_user()
        children = [
            subprocess.Popen([sys.executable, "-m", "vinex.cli", "serve"]),
            subprocess.Popen([sys.executable, "-m", "vinex.cli", "worker"]),
            subprocess.Popen([sys.executable, "-m", "vinex.cli", "scheduler"]),
        ]
        url = settings.VINEX_PUBLIC_URL
        self.stdout.write(
            f"\nvinex is running:\n  API        {url}/api/v1/  (docs: {url}/api/v1/docs)\n"
            f"  health     {url}/healthz\n  mail       {url}/staff/outbox/  (staff login)\n"
            f"  admin      {url}/admin/\nPress Ctrl-C to stop.\n"
        )
        self._wait(children)

    def _staff_user(self) -> None:
        password_file = Path(settings.VAR_DIR) / "dev-admin-password"
        user = get_user_model().objects.filter(username="admin").first()
        if user is None:
            password = secrets.token_urlsafe(12)
            staffuser_create(username="admin", password=password, email="admin@example.org",
                             roles=frozenset({matrix.ADMINISTRATOR}), actor=Actor.system("command:up"))
            password_file.write_text(password + "\n")
            password_file.chmod(0o600)
        elif not user.groups.filter(name=matrix.ADMINISTRATOR).exists():
            staffuser_set_roles(user=user, roles=frozenset({matrix.ADMINISTRATOR}), actor=Actor.system("command:up"))
        self.stdout.write(
            f"staff sign-in: {settings.VINEX_PUBLIC_URL}/staff/login/ as admin, password in {password_file} "
            "(the first sign-in sets up an authenticator app)"
        )

    def _wait(self, children: list[subprocess.Popen[bytes]]) -> None:
        def stop(signum: int, frame: object) -> None:
            for child in children:
                child.terminate()

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        # One process ending (a crash, or Ctrl-C) stops the others: a half-running system misleads.
        while all(child.poll() is None for child in children):
            time.sleep(0.5)
        stop(0, None)
        for child in children:
            try:
                child.wait(timeout=30)  # the worker and the scheduler finish what they are doing first
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
