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


@pytest.mark.parametrize("other", ["", "987654321"])
def test_a_numbers_are_normalised_whether_or_not_the_file_needs_it(tmp_path: Path, other: str) -> None:
    parsed = parse(tmp_path, b"agency_subject_id,first_name,last_name,a_number\n"
                             b"S-1,A,B,A 123-456-789\nS-2,A,B,123456789\nS-3,A,B,\nS-4,A,B,12345\n"
                             + f"S-5,A,B,{other}\n".encode())
    assert parsed.rows.get_column("a_number").to_list() == ["123456789", "123456789", None, other or None]
    assert [(e.line, e.column) for e in parsed.errors] == [(5, "a_number")]


def test_bare_numbers_need_no_clean_up(tmp_path: Path) -> None:
    parsed = parse(tmp_path, b"agency_subject_id,first_name,last_name,a_number\nS-1,A,B,123456789\nS-2,A,B,\n")
    assert parsed.rows.get_column("a_number").to_list() == ["123456789", None] and parsed.errors == []


def test_scheduled_release_dates_are_read_in_the_facility_time_zone(tmp_path: Path) -> None:
    parsed = parse(tmp_path, b"agency_subject_id,first_name,last_name,scheduled_release\n"
                             b"S-1,A,B,2026-12-01\nS-2,A,B,2026-12-01 09:30\nS-3,A,B,2026-12-01T09:30:00Z\n"
                             b"S-4,A,B,\nS-5,A,B,2026-12-01T09:30-08:00\nS-6,A,B,12/01/2026\n")
    moments = [m.isoformat() if m else None for m in parsed.rows.get_column("_scheduled_release").to_list()]
    assert moments == ["2026-12-01T05:00:00+00:00", "2026-12-01T14:30:00+00:00", "2026-12-01T09:30:00+00:00", None,
                       "2026-12-01T17:30:00+00:00"]
    assert [(e.line, e.column) for e in parsed.errors] == [(7, "scheduled_release")]


def test_repeats_are_found_on_the_text_when_hashes_collide(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import polars as pl

    monkeypatch.setattr(pl.Series, "hash", lambda self, *args, **kwargs: pl.repeat(7, len(self), dtype=pl.UInt64,
                                                                                     eager=True))
    parsed = parse(tmp_path, b"agency_subject_id,first_name,last_name\nS-1,A,B\nS-2,C,D\nS-1,E,F\n")
    assert [(e.line, e.column) for e in parsed.errors] == [(4, "agency_subject_id")]
    assert parsed.rows.get_column("agency_subject_id").to_list() == ["S-1", "S-2"]
