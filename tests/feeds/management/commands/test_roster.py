from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from tests.feeds.roster import people, person, roster_csv
from vinex.custody.models import Agency, Facility, Subject

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("roster", *args, "--no-progress", stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_import_applies_a_file_and_reports_bad_lines(agency: Agency, tmp_path: Path) -> None:
    path = tmp_path / "roster.csv"
    path.write_text(roster_csv([*people(40), person("S-99", country_of_birth="Mexico")]), encoding="utf-8")
    output = run("import", str(path), "--facility", "main")
    assert "applied — booked 40, released 0" in output
    assert "line 42 country_of_birth: country_of_birth must be an ISO 3166-1 alpha-2 code" in output
    assert Subject.objects.filter(status="IN_CUSTODY").count() == 40


def test_a_facility_code_used_by_two_agencies_needs_the_agency(agency: Agency, other_agency: Agency,
                                                                tmp_path: Path) -> None:
    Facility.objects.create(agency=other_agency, code="main", name="State Main")
    path = tmp_path / "roster.csv"
    path.write_text(roster_csv(people(1)), encoding="utf-8")
    with pytest.raises(CommandError, match="--agency"):
        run("import", str(path), "--facility", "main")
    assert "booked 1" in run("import", str(path), "--facility", "main", "--agency", "state")
    assert Subject.objects.get().agency == other_agency


def test_an_unreadable_header_is_a_command_error(agency: Agency, tmp_path: Path) -> None:
    path = tmp_path / "roster.csv"
    path.write_text("who,where\nx,y\n", encoding="utf-8")
    with pytest.raises(CommandError, match="lacks required columns"):
        run("import", str(path), "--facility", "main")
