"""``vinex apikey create --agency CODE``: issue an agency API key (printed once)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from vinex.audit.unit import Actor
from vinex.custody.management.options import agency_named
from vinex.custody.services import API_KEY_SCOPES, DEFAULT_SCOPES, apikey_create
from vinex.policy.sharing import Purpose


class Command(BaseCommand):
    help = "Manage agency API keys."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        create = sub.add_parser("create", help="Create a key and print it once.")
        create.add_argument("--agency", required=True, help="Agency code.")
        create.add_argument("--name", default="", help="What the key is for.")
        create.add_argument("--scope", action="append", choices=API_KEY_SCOPES,
                            help=f"Repeat for several scopes (default: {', '.join(DEFAULT_SCOPES)}).")
        create.add_argument("--purpose", action="append", choices=[p.value for p in Purpose], default=[],
                            help="With --scope custody:read: a purpose the key may state (repeat; at least one).")

    def handle(self, *args: Any, **options: Any) -> None:
        agency = agency_named(options["agency"])
        try:
            key, token = apikey_create(agency=agency, name=options["name"], scopes=options["scope"] or DEFAULT_SCOPES,
                                       purposes=options["purpose"], actor=Actor.system("command:apikey"))
        except ValueError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(token)
        self.stderr.write(f"key {key.prefix} for {agency.code}; store it now, it cannot be shown again")
