"""Running the report command and reading what it wrote."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from django.core.management import call_command


def run_report(quarter: str, out: Path) -> dict[str, Any]:
    call_command("report", "quarterly", "--quarter", quarter, "--out", str(out))
    report: dict[str, Any] = json.loads((out / "report.json").read_text())
    return report
