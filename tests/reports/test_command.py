from __future__ import annotations

import json
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from tests.reports.helpers import run_report
from vinex.custody.models import Agency
from vinex.reports.models import QuarterlyReport, ReportStatus

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("quarter", ["2026Q5", "abc", "2026Q0", "26Q1", ""])
def test_a_bad_quarter_is_refused_with_exit_status_2(quarter: str, tmp_path: Path) -> None:
    with pytest.raises(CommandError) as refused:
        call_command("report", "quarterly", "--quarter", quarter, "--out", str(tmp_path / "out"))
    assert refused.value.returncode == 2
    assert "is not a quarter" in str(refused.value) and "2026Q3" in str(refused.value)
    assert not (tmp_path / "out").exists()


def test_an_empty_quarter_gives_a_valid_report_of_zeros(agency: Agency, tmp_path: Path) -> None:
    report = run_report("2026Q3", tmp_path)
    assert report["quarter"] == "2026Q3"
    assert (report["start"], report["end"]) == ("2026-07-01T00:00:00Z", "2026-10-01T00:00:00Z")
    assert report["threshold"] == 11
    assert set(report["tables"]) == {
        "events_by_agency_type", "notifications_by_channel_status", "registrations_by_channel_tier",
        "people_by_agency_status", "data_quality_by_agency", "delivery_latency_by_agency", "privacy_by_agency"}
    for name, table in report["tables"].items():
        assert list(table) == ["title", "rows", "columns", "values", "suppressed", "row_totals", "column_totals",
                               "total"]
        assert table["total"] == 0, name
        assert all(v in (0, None) for row in table["values"] for v in row), name
        assert all(m == "" for row in table["suppressed"] for m in row), name
    assert report["tables"]["events_by_agency_type"]["rows"] == ["pine"]
    for name in ("report.html", "report.pdf", "manifest.json", "tables/events_by_agency_type.csv"):
        assert (tmp_path / name).stat().st_size > 0
    stored = QuarterlyReport.objects.get()
    assert stored.status == ReportStatus.DRAFT and stored.publishable


def test_the_manifest_names_the_code_the_quarter_and_the_inputs(agency: Agency, tmp_path: Path) -> None:
    run_report("2026Q3", tmp_path)
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    assert manifest["quarter"] == "2026Q3"
    assert manifest["code_version"] and len(manifest["input_hash"]) == 64
    assert manifest["generated_at"].endswith("Z")
