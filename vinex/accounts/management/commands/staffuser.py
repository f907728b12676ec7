"""``vinex staffuser create NAME --role ROLE [--agency CODE]`` and ``vinex staffuser roles NAME --role ROLE``."""

from __future__ import annotations

import secrets
from typing import Any

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from vinex.accounts import matrix
from vinex.accounts.services import staffuser_create, staffuser_set_roles
from vinex.audit.unit import Actor
from vinex.custody.management.options import agency_option
from vinex.custody.models import Agency

ACTOR = Actor.system("command:staffuser")


class Command(BaseCommand):
    help = "Manage staff accounts and their roles."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        for name, text in (("create", "Create a staff user and print a first password once."),
                           ("roles", "Replace a staff user's roles.")):
            command = sub.add_parser(name, help=text)
            command.add_argument("username")
            command.add_argument("--role", action="append", required=True, choices=matrix.ROLES,
                                 help="Repeat for several roles.")
            command.add_argument("--agency", help="Agency code (required for agency_operator).")
            if name == "create":
                command.add_argument("--email", default="")

    def handle(self, *args: Any, **options: Any) -> None:
        roles = frozenset(options["role"])
        agency = agency_option(options["agency"])
        try:
            if options["action"] == "create":
                self._create(options["username"], roles, agency, options["email"])
            else:
                self._set_roles(options["username"], roles, agency)
        except ValidationError as exc:
            raise CommandError("; ".join(exc.messages)) from None

    def _create(self, username: str, roles: frozenset[str], agency: Agency | None, email: str) -> None:
        if User.objects.filter(username=username).exists():
            raise CommandError(f"a user named {username!r} exists already")
        password = secrets.token_urlsafe(15)
        staffuser_create(username=username, password=password, roles=roles, agency=agency, email=email,
                         actor=ACTOR)
        self.stdout.write(password)
        self.stderr.write(f"staff user {username} created; they set up their authenticator app at first sign-in")

    def _set_roles(self, username: str, roles: frozenset[str], agency: Agency | None) -> None:
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user named {username!r}")
        staffuser_set_roles(user=user, roles=roles, agency=agency, actor=ACTOR)
        self.stderr.write(f"{username}: {', '.join(sorted(roles))}")
