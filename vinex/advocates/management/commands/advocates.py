"""``vinex advocates organisation CODE --name NAME --agency CODE…`` and
``vinex advocates member USERNAME --organisation CODE --alert-email EMAIL``."""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils.text import slugify

from vinex.accounts import matrix
from vinex.accounts.selectors import user_roles
from vinex.advocates.models import Organisation
from vinex.advocates.services import membership_set, organisation_create
from vinex.audit.unit import Actor
from vinex.custody.management.options import agency_named
from vinex.policy.contacts import InvalidContact

ACTOR = Actor.system("command:advocates")


class Command(BaseCommand):
    help = "Manage victim-advocate organisations and their members."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        organisation = sub.add_parser("organisation", help="Create or update an organisation and the agencies "
                                                           "it serves.")
        organisation.add_argument("code", help="A short, permanent code such as harbor-house.")
        organisation.add_argument("--name", required=True)
        organisation.add_argument("--agency", action="append", default=[], help="Agency code; repeat for several.")
        member = sub.add_parser("member", help="Make an advocate a member of an organisation.")
        member.add_argument("username")
        member.add_argument("--organisation", required=True)
        member.add_argument("--alert-email", required=True, help="Where her escalation alerts go.")

    def handle(self, *args: Any, **options: Any) -> None:
        if options["action"] == "organisation":
            self._organisation(options["code"], options["name"], options["agency"])
        else:
            self._member(options["username"], options["organisation"], options["alert_email"])

    def _organisation(self, code: str, name: str, agency_codes: list[str]) -> None:
        if slugify(code) != code or len(code) > 32:
            raise CommandError("an organisation code is up to 32 lower-case letters, digits and dashes")
        agencies = [agency_named(c) for c in agency_codes]
        organisation_create(code=code, name=name, agencies=agencies, actor=ACTOR)
        self.stderr.write(f"organisation {code} serves {', '.join(agency_codes) or 'no agency yet'}")

    def _member(self, username: str, code: str, alert_email: str) -> None:
        user = User.objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"no user named {username!r}")
        if matrix.ADVOCATE not in user_roles(user=user):
            raise CommandError(f"{username} does not have the advocate role (vinex staffuser roles … --role advocate)")
        organisation = Organisation.objects.filter(code=code).first()
        if organisation is None:
            raise CommandError(f"no organisation with code {code!r}")
        try:
            membership_set(user=user, organisation=organisation, alert_email=alert_email, actor=ACTOR)
        except InvalidContact:
            raise CommandError("the alert address is not a valid email address") from None
        self.stderr.write(f"{username} is an advocate of {code}")
