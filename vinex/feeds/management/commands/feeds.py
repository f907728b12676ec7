"""``vinex feeds alert-recipient add|list|remove``: who is told when a facility's feed goes silent."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from vinex.audit.unit import Actor
from vinex.custody.management.options import agency_option
from vinex.custody.models import Agency
from vinex.feeds.selectors import feed_alert_recipients
from vinex.feeds.services import AlertRecipientError, feed_alert_recipient_add, feed_alert_recipient_remove
from vinex.policy.contacts import InvalidContact


def _scope_arguments(parser: CommandParser, *, required: bool) -> None:
    scope = parser.add_mutually_exclusive_group(required=required)
    scope.add_argument("--agency", help="Agency code: alerts about that agency's facilities.")
    scope.add_argument("--operator", action="store_true", help="The vinex operator: alerts about every feed.")


def _contact_arguments(parser: CommandParser) -> None:
    contact = parser.add_mutually_exclusive_group(required=True)
    contact.add_argument("--email", help="An email address.")
    contact.add_argument("--sms", help="A mobile number for text messages (E.164, or a US number).")


def _contact(options: dict[str, Any]) -> tuple[str, str]:
    return ("email", options["email"]) if options["email"] else ("sms", options["sms"])

ACTOR = Actor.system("command:feeds")


class Command(BaseCommand):
    help = "Feed health: who is told when an agency's feed goes silent."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="topic", required=True)
        recipients = sub.add_parser("alert-recipient", help="People told when a feed goes silent.")
        actions = recipients.add_subparsers(dest="action", required=True)
        add = actions.add_parser("add", help="Send silent-feed alerts to an email address or mobile number.")
        _scope_arguments(add, required=True)
        _contact_arguments(add)
        add.add_argument("--language", choices=("en", "es"), default="en")
        listing = actions.add_parser("list", help="Show who receives silent-feed alerts (an audited read).")
        _scope_arguments(listing, required=False)
        remove = actions.add_parser("remove", help="Stop sending silent-feed alerts to a contact.")
        _scope_arguments(remove, required=True)
        _contact_arguments(remove)

    def handle(self, *args: Any, **options: Any) -> None:
        handlers = {"add": self._add, "list": self._list, "remove": self._remove}
        try:
            handlers[options["action"]](options)
        except (InvalidContact, AlertRecipientError) as error:
            raise CommandError(str(error)) from None

    def _add(self, options: dict[str, Any]) -> None:
        channel, value = _contact(options)
        agency = agency_option(options["agency"])
        recipient = feed_alert_recipient_add(value=value, channel=channel, agency=agency,
                                             language=options["language"], actor=ACTOR)
        self.stdout.write(f"recipient {recipient.pk}: {channel} alerts for {_scope(agency)}")

    def _list(self, options: dict[str, Any]) -> None:
        recipients = feed_alert_recipients(agency=agency_option(options["agency"]), operator=options["operator"],
                                           actor=ACTOR)
        for r in recipients:
            state = "" if r.reachable else " (not reachable: opted out)"
            self.stdout.write(f"{r.pk}\t{r.agency_code or 'operator'}\t{r.channel}\t{r.value}{state}")
        if not recipients:
            self.stdout.write("no feed alert recipients")

    def _remove(self, options: dict[str, Any]) -> None:
        channel, value = _contact(options)
        agency = agency_option(options["agency"])
        feed_alert_recipient_remove(value=value, channel=channel, agency=agency, actor=ACTOR)
        self.stdout.write(f"removed: no more {channel} alerts for {_scope(agency)} to that contact")


def _scope(agency: Agency | None) -> str:
    return f"agency {agency.code}" if agency else "every feed (operator)"
