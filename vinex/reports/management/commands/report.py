"""``vinex report quarterly --quarter 2026Q3 --out DIR``: a quarter's report, written and kept as a draft.

A bad quarter or an unwritable directory ends with a one-line message and exit status 2.
"""

from __future__ import annotations

from argparse import ArgumentParser
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError

from vinex.audit.unit import Actor
from vinex.reports.quarter import Quarter, QuarterError
from vinex.reports.services import report_generate


class Command(BaseCommand):
    help = "Statistical reports with disclosure control."

    def add_arguments(self, parser: ArgumentParser) -> None:
        sub = parser.add_subparsers(dest="subcommand", required=True)
        quarterly = sub.add_parser("quarterly", help="write a quarter's report and keep it as a draft to approve")
        quarterly.add_argument("--quarter", required=True, help="the quarter, such as 2026Q3 (UTC)")
        quarterly.add_argument("--out", type=Path, required=True, help="the directory to write the report to")

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            quarter = Quarter.parse(options["quarter"])
        except QuarterError as error:
            raise CommandError(str(error), returncode=2) from None
        out: Path = options["out"]
        try:
            out.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise CommandError(f"{out}: cannot write the report there ({error.strerror})", returncode=2) from None
        report = report_generate(quarter=quarter, actor=Actor.system("command:report"), out=out)
        verdict = "publishable once approved" if report.publishable else "NOT publishable: data-quality checks failed"
        self.stdout.write(f"report {quarter} written to {out} ({verdict}); draft #{report.pk} awaits approval")
