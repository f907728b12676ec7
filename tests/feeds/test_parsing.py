from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from vinex.feeds.parsing import ParsedRoster, RosterFormatError, roster_parse, tidy


def parse(tmp_path: Path, content: bytes) -> ParsedRoster:
    path = tmp_path / "roster.csv"
    path.write_bytes(content)
    return roster_parse(path, scratch=tmp_path, facility_code="main", timezone_name="America/New_York",
                        today=date(2026, 11, 25))


def test_blanks_are_stripped_and_blank_required_values_fail(tmp_path: Path) -> None:
    parsed = parse(tmp_path, b'agency_subject_id,first_name,last_name,country_of_birth\n'
                             b' S-1 , Ana ,Ortiz, mx \nS-2,"  ",Lee,\nS-3,Bo,Kim,\n')
    rows = tidy(parsed.rows)
    assert rows.select("agency_subject_id", "first_name", "country_of_birth").rows() == [
        ("S-1", "Ana", "MX"), ("S-3", "Bo", None)]
    assert [(e.line, e.column) for e in parsed.errors] == [(3, "first_name")]
    assert parsed.kept_ids == ["S-2"]


def test_a_repeated_person_is_reported_at_each_repeat(tmp_path: Path) -> None:
    parsed = parse(tmp_path, b"agency_subject_id,first_name,last_name\nS-1,A,B\nS-2,C,D\nS-1,E,F\nS-1,G,H\n")
    assert [(e.line, e.msg) for e in parsed.errors] == [
        (4, "agency_subject_id appears more than once in the snapshot"),
        (5, "agency_subject_id appears more than once in the snapshot")]
    assert parsed.rows.get_column("agency_subject_id").to_list() == ["S-1", "S-2"]


def test_dates_and_times_are_checked(tmp_path: Path) -> None:
    parsed = parse(tmp_path, b"agency_subject_id,first_name,last_name,date_of_birth,booked_at\n"
                             b"S-1,A,B,1990-01-02,2026-11-20T08:00:00Z\nS-2,A,B,2030-01-01,\nS-3,A,B,,yesterday\n")
    assert [(e.line, e.msg) for e in parsed.errors] == [
        (3, "date_of_birth is in the future"),
        (4, "booked_at must be a date and time such as 2026-11-20T08:30:00-05:00")]


def test_quoted_empty_optional_values_are_missing_values(tmp_path: Path) -> None:
    parsed = parse(tmp_path, b'agency_subject_id,first_name,last_name,a_number,booked_at,scheduled_release\n'
                             b'S-1,A,B,"","",""\nS-2,A,B," ", ,\n')
    assert parsed.errors == []
    assert tidy(parsed.rows).select("a_number", "booked_at").rows() == [(None, None), (None, None)]


def test_a_file_without_an_id_column_is_refused(tmp_path: Path) -> None:
    with pytest.raises(RosterFormatError, match="agency_subject_id"):
        parse(tmp_path, b"first_name,last_name\nA,B\n")
