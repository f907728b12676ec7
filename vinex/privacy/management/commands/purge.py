"""``vinex purge``: erase contact data and message bodies past their retention period."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand

from vinex.audit.unit import Actor
from vinex.privacy.retention import retention_purge


class Command(BaseCommand):
    help = "Erase personal data past its retention period (the worker also runs this daily)."

    def handle(self, *args: Any, **options: Any) -> None:
        report = retention_purge(actor=Actor.system("command:purge"))
        self.stdout.write(f"purged {report.contacts} contacts and {report.bodies} message bodies")
        self.stdout.write(f"erased {report.unverified_contacts} unverified contacts, {report.case_numbers} case "
                          f"numbers, {report.hotline_records} hotline records, {report.report_details} report details")
