"""``vinex linkage match``: the public contract of the offline command."""

from __future__ import annotations

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

HEADER = "record_id,first_name,last_name,date_of_birth,country_of_birth,sex,a_number,favourite_colour\n"
ROWS = [
    "7,José,García López,1975-11-03,MX,m,,blue",
    "12,Pepe,GARCIA,19751103,MX,M,,red",
    "3,Ana,Ruiz,1980-01-02,MX,f,A012345678,",
    "40,Anna,Ruiz,1980-01-02,MX,f,012-345-678,",
    "5,Hiroshi,Tanaka,1961-09-30,JP,m,,",
]


def _csv(path: Path, rows: list[str], header: str = HEADER) -> Path:
    path.write_text(header + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def _read(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle))


def test_dedupe_writes_each_pair_once_lower_id_first(tmp_path: Path) -> None:
    out = tmp_path / "links.csv"
    call_command("linkage", "match", str(_csv(tmp_path / "people.csv", ROWS)), "--out", str(out))
    assert out.read_text().splitlines()[0] == "left_id,right_id,probability,decision"
    rows = _read(out)
    assert {(r["left_id"], r["right_id"]) for r in rows} == {("7", "12"), ("3", "40")}
    assert all(r["decision"] in {"link", "review"} and 0 < float(r["probability"]) <= 1 for r in rows)
    assert next(r for r in rows if r["left_id"] == "3") == {"left_id": "3", "right_id": "40", "probability": "1.0",
                                                             "decision": "link"}


def test_two_files_link_across_left_ids_from_the_first(tmp_path: Path) -> None:
    left = _csv(tmp_path / "county.csv", [ROWS[0], ROWS[2], ROWS[4]])
    right = _csv(tmp_path / "detention.csv", [ROWS[1].replace("12,", "7,", 1), ROWS[3]])
    out = tmp_path / "links.csv"
    call_command("linkage", "match", str(left), str(right), "--out", str(out))
    assert {(r["left_id"], r["right_id"]) for r in _read(out)} == {("7", "7"), ("3", "40")}


def test_no_pairs_still_writes_the_header(tmp_path: Path) -> None:
    out = tmp_path / "links.csv"
    call_command("linkage", "match", str(_csv(tmp_path / "one.csv", ROWS[4:])), "--out", str(out))
    assert out.read_text().splitlines() == ["left_id,right_id,probability,decision"]


@pytest.mark.parametrize(("content", "message"), [
    ("first_name,last_name\nAna,Ruiz\n", "a record_id column is required"),
    (HEADER + ROWS[0] + "\n" + ROWS[0] + "\n", "record_id '7' appears more than once"),
    (HEADER + ",Ana,Ruiz,,,,,\n", "every row needs a record_id"),
    ("", "cannot read it as a CSV file"),
])
def test_bad_input_is_refused_with_status_2(tmp_path: Path, content: str, message: str) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(content)
    with pytest.raises(CommandError, match=message) as refused:
        call_command("linkage", "match", str(bad), "--out", str(tmp_path / "out.csv"))
    assert refused.value.returncode == 2
    assert not (tmp_path / "out.csv").exists()


def test_bytes_that_are_not_text_are_refused(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_bytes(b"record_id,first_name\n1,\xff\xfe\xfa\n")
    with pytest.raises(CommandError, match="cannot read it as a CSV file") as refused:
        call_command("linkage", "match", str(bad), "--out", str(tmp_path / "out.csv"))
    assert refused.value.returncode == 2


def test_a_folder_is_not_a_file(tmp_path: Path) -> None:
    with pytest.raises(CommandError, match="not a file") as refused:
        call_command("linkage", "match", str(tmp_path), "--out", str(tmp_path / "out.csv"))
    assert refused.value.returncode == 2


def _vinex(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    vinex = Path(sys.executable).with_name("vinex")
    return subprocess.run([str(vinex), *args], capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})}, check=False)


def test_missing_file_exits_2_with_one_line_on_stderr(tmp_path: Path) -> None:
    right = _csv(tmp_path / "right.csv", ROWS)
    done = _vinex("linkage", "match", str(tmp_path / "absent.csv"), str(right), "--out", str(tmp_path / "o.csv"))
    assert done.returncode == 2
    assert done.stderr.strip() == f"CommandError: {tmp_path / 'absent.csv'}: no such file"


def test_matching_needs_no_network(tmp_path: Path) -> None:
    # Every proxy points at a port where nothing listens: a download would fail, so success proves none.
    nowhere = "http://127.0.0.1:9"
    env = {name: nowhere for name in ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy",
                                      "all_proxy")}
    out = tmp_path / "links.csv"
    done = _vinex("linkage", "match", str(_csv(tmp_path / "people.csv", ROWS)), "--out", str(out), env=env)
    assert done.returncode == 0, done.stderr
    assert {(r["left_id"], r["right_id"]) for r in _read(out)} == {("7", "12"), ("3", "40")}
