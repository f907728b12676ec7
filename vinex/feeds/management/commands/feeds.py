"""``vinex feeds alert-recipient add|list|remove``: who is told when a facility's feed goes silent.

``vinex feeds connector add|test|enable``: pull a facility's roster from a vendor portal, an export,
an SFTP drop, a folder or an address (added off, tested with a dry run that tells nobody, then on).
"""

from __future__ import annotations

import json
import os
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from vinex.audit.unit import Actor
from vinex.custody.management.options import agency_option
from vinex.custody.models import Agency, Facility
from vinex.feeds.connectors import DryRun, connector_dry_run
from vinex.feeds.models import ConnectorKind, PullSource
from vinex.feeds.onboarding import SourceError, pull_source_add, pull_source_enable
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
        _connector_arguments(sub)

    def handle(self, *args: Any, **options: Any) -> None:
        if options["topic"] == "connector":
            connectors = {"add": self._connector_add, "test": self._connector_test, "enable": self._connector_enable}
            try:
                connectors[options["action"]](options)
            except SourceError as error:
                raise CommandError(str(error)) from None
            return
        handlers = {"add": self._add, "list": self._list, "remove": self._remove}
        try:
            handlers[options["action"]](options)
        except (InvalidContact, AlertRecipientError) as error:
            raise CommandError(str(error)) from None

    def _connector_add(self, options: dict[str, Any]) -> None:
        secret = ""
        if options["secret_env"]:
            secret = os.environ.get(options["secret_env"], "")
            if not secret:
                raise CommandError(f"the environment variable {options['secret_env']} is empty")
        try:
            settings = json.loads(options["settings"] or "{}")
        except json.JSONDecodeError as error:
            raise CommandError(f"--settings is not JSON: {error}") from None
        source = pull_source_add(facility=_facility(options["facility"]), kind=options["kind"],
                                 location=options["location"], interval_seconds=options["every"] * 60,
                                 settings=settings, auth_header_name=options["auth_header"],
                                 auth_header_value=secret, actor=ACTOR)
        self.stdout.write(f"source {source.pk}: {source.kind} for {options['facility']}, off until enabled; "
                          f"try it with: vinex feeds connector test {source.pk}")

    def _connector_test(self, options: dict[str, Any]) -> None:
        result = connector_dry_run(source=_source(options["source"]))
        for line in _dry_run_lines(result):
            self.stdout.write(line)
        if result.error:
            raise CommandError("the dry run failed")

    def _connector_enable(self, options: dict[str, Any]) -> None:
        source = pull_source_enable(source=_source(options["source"]), enabled=not options["off"], actor=ACTOR)
        state = "on: it runs at the next scheduler pass" if source.enabled else "off"
        self.stdout.write(f"source {source.pk} is {state}")


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


def _connector_arguments(sub: Any) -> None:
    connector = sub.add_parser("connector", help="Pull rosters from vendor portals, exports, SFTP, folders.")
    actions = connector.add_subparsers(dest="action", required=True)
    add = actions.add_parser("add", help="Add a pull source (off until enabled).")
    add.add_argument("--facility", required=True, help="AGENCY/FACILITY, e.g. pine/main.")
    add.add_argument("--kind", required=True, choices=ConnectorKind.values)
    add.add_argument("--location", required=True, help="https:// or sftp:// address, or a drop folder.")
    add.add_argument("--every", type=int, default=60, help="Minutes between pulls (default 60).")
    add.add_argument("--settings", help='The kind\'s settings as JSON, e.g. \'{"page_size": 100}\'.')
    add.add_argument("--auth-header", default="Authorization", help="Header that carries the secret.")
    add.add_argument("--secret-env", help="Environment variable holding the header value or SFTP password/key.")
    test = actions.add_parser("test", help="Dry run: what pulling now would book, release, transfer (nobody told).")
    test.add_argument("source", type=int)
    enable = actions.add_parser("enable", help="Turn a source on (or off with --off).")
    enable.add_argument("source", type=int)
    enable.add_argument("--off", action="store_true")


def _facility(label: str) -> Facility:
    agency, _, code = label.partition("/")
    facility = Facility.objects.filter(agency__code=agency, code=code).select_related("agency").first()
    if facility is None:
        raise CommandError(f"no facility {label!r} (write it as AGENCY/FACILITY)")
    return facility


def _source(pk: int) -> PullSource:
    source = PullSource.objects.select_related("facility__agency").filter(pk=pk).first()
    if source is None:
        raise CommandError(f"no pull source {pk}")
    return source


def _dry_run_lines(result: DryRun) -> list[str]:
    if result.error:
        return [f"cannot read the source: {result.error}"]
    lines = [f"would {result.would}: {result.booked} booked, {result.released} released, {result.transferred}"
             f" transferred, {result.pending} pending, {result.unchanged} unchanged, {result.row_errors} rows refused",
             "identity: " + (result.identity or "the agency's own subject ids")]
    lines += [f"held because: {reason}" for reason in result.reasons]
    lines += [f"{kind}: {', '.join(ids)}" for kind, ids in result.sample.items()]
    return lines
