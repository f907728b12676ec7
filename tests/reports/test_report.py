"""The report's numbers are the counts of what happened, suppressed, safe from attack, and reproducible."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
from django.db import transaction

from tests.reports.attack import table_disclosed
from tests.reports.fixtures import current_quarter, quarter_of_activity
from tests.reports.helpers import run_report
from vinex.custody.models import Agency
from vinex.policy.sharing import Purpose
from vinex.policy.suppression import suppress
from vinex.privacy.denials import disclosure_denial_record

pytestmark = pytest.mark.django_db


def expected(table: dict[str, Any], counts: dict[tuple[str, str], int]) -> list[list[int | None]]:
    truth = [[counts.get((row, column), 0) for column in table["columns"]] for row in table["rows"]]
    return suppress(truth).values


def test_every_table_counts_what_happened_and_withholds_small_numbers(agency: Agency, other_agency: Agency,
                                                                       tmp_path: Path) -> None:
    activity = quarter_of_activity(agency, other_agency)
    tables = run_report(str(activity.quarter), tmp_path)["tables"]

    events = tables["events_by_agency_type"]
    assert events["rows"] == ["pine", "state"] and "CORRECTION" not in events["columns"]
    assert events["values"] == expected(events, activity.events)
    booked = events["columns"].index("BOOKED")
    # State's 3 bookings are withheld, so Pine's 15 go with them: the column total would give them away.
    assert events["values"][0][booked] is None and events["values"][1][booked] is None
    assert (events["suppressed"][0][booked], events["suppressed"][1][booked]) == ("secondary", "primary")

    people = tables["people_by_agency_status"]
    assert people["values"] == expected(people, activity.people)

    notifications = tables["notifications_by_channel_status"]
    assert notifications["values"] == expected(notifications, activity.notifications)
    assert notifications["total"] == 13

    registrations = tables["registrations_by_channel_tier"]
    assert registrations["values"] == expected(registrations, {("portal", "public"): activity.subscriptions})

    quality = tables["data_quality_by_agency"]
    counts = {("pine", "events_rejected"): 1, ("pine", "events_late"): 2, ("pine", "corrections"): 1}
    assert quality["values"] == expected(quality, counts)

    latency = tables["delivery_latency_by_agency"]
    ms = sorted(activity.latencies_ms)
    assert latency["columns"] == ["n", "p50_ms", "p90_ms", "p99_ms"]
    # Nearest rank of 12 values: the 6th, the 11th and the 12th.
    assert latency["values"][0] == [12, ms[5], ms[10], ms[11]]
    assert latency["values"][1] == [0, None, None, None]

    for name, table in tables.items():
        assert table_disclosed(table) == [], name


def test_two_runs_on_the_same_database_write_the_same_bytes(agency: Agency, other_agency: Agency,
                                                            tmp_path: Path) -> None:
    activity = quarter_of_activity(agency, other_agency)
    run_report(str(activity.quarter), tmp_path / "one")
    run_report(str(activity.quarter), tmp_path / "two")
    written = sorted(p.relative_to(tmp_path / "one") for p in (tmp_path / "one").rglob("*") if p.is_file())
    same = [p for p in written if p.suffix in {".json", ".csv"} and p.name != "manifest.json"]
    assert len(same) == 9  # report.json, quality.json and seven tables
    for path in same:
        assert (tmp_path / "one" / path).read_bytes() == (tmp_path / "two" / path).read_bytes(), path
    one, two = (json.loads((tmp_path / d / "manifest.json").read_text()) for d in ("one", "two"))
    assert {k: v for k, v in one.items() if k != "generated_at"} == {k: v for k, v in two.items()
                                                                     if k != "generated_at"}


def test_the_csv_shows_withheld_numbers_as_empty_cells(agency: Agency, other_agency: Agency, tmp_path: Path) -> None:
    activity = quarter_of_activity(agency, other_agency)
    run_report(str(activity.quarter), tmp_path)
    lines = (tmp_path / "tables" / "events_by_agency_type.csv").read_text().splitlines()
    assert lines[0].startswith(",BOOKED,TRANSFERRED,") and lines[0].endswith(",total")
    assert lines[1].startswith("pine,,0,0,")
    assert lines[2].startswith("state,,0,")
    assert lines[-1].startswith("total,")


def test_the_pdf_pages_render_with_tables_and_charts(agency: Agency, other_agency: Agency, tmp_path: Path) -> None:
    activity = quarter_of_activity(agency, other_agency)
    run_report(str(activity.quarter), tmp_path)
    pdf = tmp_path / "report.pdf"
    assert pdf.read_bytes().startswith(b"%PDF")
    try:
        subprocess.run(["pdftoppm", "-r", "40", "-gray", str(pdf), str(tmp_path / "page")], check=True)
    except FileNotFoundError:
        pytest.fail("pdftoppm is missing: install Debian's poppler-utils (see .ci/run)")
    pages = sorted(tmp_path.glob("page-*.pgm"))
    assert len(pages) >= 3
    for page in pages:
        pixels = page.read_bytes().split(b"\n", 3)[3]  # P5 header: magic, size, maximum, then the pixels
        dark = sum(1 for p in pixels if p < 128)
        assert dark > 0.002 * len(pixels), f"{page.name} is blank"
    html = (tmp_path / "report.html").read_text()
    assert "Small numbers are withheld" in html and "Data quality" in html
    assert 'src="charts/events_by_type.png"' in html


def test_sharing_denials_are_counted_under_the_agency_that_refused(agency: Agency, other_agency: Agency,
                                                                   tmp_path: Path) -> None:
    for i in range(12):
        with transaction.atomic():
            disclosure_denial_record(owner=agency, partner=other_agency, purpose=Purpose.RESEARCH,
                                     reason="research is not allowed", object_type="subject", object_ids=[str(i)])
    privacy = run_report(str(current_quarter()), tmp_path)["tables"]["privacy_by_agency"]
    assert privacy["rows"] == ["pine", "state"]
    assert privacy["values"] == expected(privacy, {("pine", "sharing_denials"): 12})
    assert privacy["values"][0][0] == 12 and privacy["total"] == 12
