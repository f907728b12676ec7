"""Roster uploads cannot exhaust memory: a large JSON list, NDJSON file or non-UTF-8 CSV is read in
bounded chunks, so the Python heap stays a small fraction of the file however big it is (the columns
themselves live in polars' compact buffers)."""

from __future__ import annotations

import json
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest

from vinex.feeds.parsing import detect_kind, roster_parse

ROWS = 100_000  # 10 MB of CSV, 27 MB of JSON: reading either whole shows at once
BOUND = 8 * 2**20  # the Python heap a roster of any size may take while it is read


def _item(n: int) -> dict[str, object]:
    return {"agency_subject_id": f"S-{n}", "booking_number": f"B{n:08d}", "first_name": "Zoë",
            "last_name": "Muñoz-Ortega", "date_of_birth": "1980-01-02", "country_of_birth": "MX",
            "identifiers": {"a_number": f"{n % 1_000_000_000:09d}", "state_id": f"ST{n}"},
            "booked_at": "2026-11-20T08:30:00-05:00"}


def _write_json(path: Path) -> None:
    with path.open("w", encoding="utf-8") as out:
        out.write("[\n")
        for n in range(ROWS):
            out.write(("," if n else "") + json.dumps(_item(n), ensure_ascii=False) + "\n")
        out.write("]\n")


def _write_ndjson(path: Path) -> None:
    with path.open("w", encoding="utf-8") as out:
        for n in range(ROWS):
            out.write(json.dumps(_item(n), ensure_ascii=False) + "\n")


def _write_cp1252_csv(path: Path) -> None:
    with path.open("w", encoding="cp1252", newline="") as out:
        out.write("agency_subject_id,booking_number,first_name,last_name,date_of_birth,country_of_birth,a_number,"
                  "state_id,booked_at\n")
        for n in range(ROWS):
            out.write(f"S-{n},B{n:08d},Zoë,Muñoz-Ortega,1980-01-02,MX,{n:09d},ST{n:08d},2026-11-20T08:30:00-05:00\n")


def _peak_python_heap(parse: Callable[[], object]) -> int:
    tracemalloc.start()
    try:
        parse()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("write", [_write_json, _write_ndjson, _write_cp1252_csv], ids=["json", "ndjson", "cp1252"])
def test_a_large_roster_is_parsed_in_bounded_memory(tmp_path: Path, write: Callable[[Path], None]) -> None:
    path = tmp_path / "roster"
    write(path)
    size = path.stat().st_size
    result = {}

    def parse() -> None:
        result["roster"] = roster_parse(path, scratch=tmp_path, facility_code="main",
                                        timezone_name="America/New_York", kind=detect_kind(path))

    peak = _peak_python_heap(parse)
    roster = result["roster"]
    assert len(roster.rows) == ROWS and not roster.errors
    assert roster.rows.row(ROWS - 1, named=True)["last_name"] == "Muñoz-Ortega"
    assert size > BOUND
    assert peak < BOUND, f"Python heap peaked at {peak / 2**20:.0f} MiB for a {size / 2**20:.0f} MiB roster"


def test_an_ndjson_roster_is_recognised_by_its_content_type_or_first_character(tmp_path: Path) -> None:
    path = tmp_path / "roster"
    path.write_text('{"agency_subject_id": "S-1"}\n')
    assert detect_kind(path) == "ndjson"
    assert detect_kind(path, "application/x-ndjson") == "ndjson"
    path.write_text('[{"agency_subject_id": "S-1"}]')
    assert detect_kind(path, "application/json") == "json"
