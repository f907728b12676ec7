"""``vinex demo``: load demo data (idempotent) and print an API key to try the event API with."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from vinex.audit.unit import Actor
from vinex.custody.models import Agency
from vinex.custody.services import apikey_create
from vinex.site.demo import demo_load

ACTOR = Actor.system("command:demo")


class Command(BaseCommand):
    help = "Load demo agencies, facilities, people in custody and registrants."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--no-key", action="store_true", help="Do not create an API key.")

    def handle(self, *args: Any, **options: Any) -> None:
        summary = demo_load(actor=ACTOR)
        self.stdout.write(
            f"demo data: {summary.agencies} agencies, {summary.facilities} facilities, "
            f"{summary.subjects} people in custody, {summary.registrants} registrants"
        )
        if not options["no_key"]:
            _, token = apikey_create(agency=Agency.objects.get(code="pine-county"), name="demo", actor=ACTOR)
            self.stdout.write(f"API key for agency pine-county: {token}")
