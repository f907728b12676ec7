"""An agency's own export read through its column map (folder or address, CSV or XLSX), and the SFTP drop."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from tests.actors import ACTOR
from tests.feeds.connectors.replay import (
    ADDRESS,
    CHARGE,
    EXPORT_HEADER,
    EXPORT_MAP,
    EXPORT_STATUS,
    SftpServer,
    export_csv,
    export_rows,
    export_xlsx,
    inmates,
    vinex_csv,
)
from vinex.custody.models import Agency, Facility, Subject
from vinex.feeds.connectors import connector_dry_run, pull_source_run
from vinex.feeds.models import PullSource, Snapshot

pytestmark = pytest.mark.django_db

EXPORT = {"export": {"column_map": EXPORT_MAP, "status_values": EXPORT_STATUS}}


def drop(folder: Path, name: str, body: bytes, *, when: int = 1_700_000_000) -> Path:
    path = folder / name
    path.write_bytes(body)
    os.utime(path, (when, when))
    return path


def export_source(folder: Path, settings: dict[str, Any] = EXPORT) -> PullSource:
    return PullSource.objects.create(facility=Facility.objects.get(code="main"), kind="export", location=str(folder),
                                     settings=settings)


def pull(source: PullSource) -> int:
    return pull_source_run(source=source, now=timezone.now(), actor=ACTOR)


def test_an_export_keeps_people_in_custody_by_its_status_codes_and_reads_its_dates(
        agency: Agency, tmp_path: Path) -> None:
    import csv
    import io

    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(EXPORT_HEADER)
    writer.writerows(export_rows(inmates(3), released=inmates(2, start=3)))
    drop(tmp_path, "roster.csv", buffer.getvalue().encode())
    source = export_source(tmp_path)
    assert pull(source) == 1
    assert sorted(Subject.objects.values_list("agency_subject_id", flat=True)) == ["B-BK1000", "B-BK1001", "B-BK1002"]
    robin = Subject.objects.get(agency_subject_id="B-BK1001")
    assert str(robin.date_of_birth) == "1981-02-11"
    assert (tmp_path / "processed" / "roster.csv").exists()


def test_an_xlsx_export_is_read_like_a_csv_one(agency: Agency, tmp_path: Path) -> None:
    drop(tmp_path, "roster.xlsx", export_xlsx(inmates(4)))
    assert pull(export_source(tmp_path)) == 1
    assert Subject.objects.filter(status="IN_CUSTODY").count() == 4


def test_a_mapped_column_missing_from_the_export_holds_it(agency: Agency, tmp_path: Path) -> None:
    drop(tmp_path, "a.csv", export_csv(inmates(3)))
    source = export_source(tmp_path)
    pull(source)
    renamed = ["Booking" if h == "Book No" else h for h in EXPORT_HEADER]
    drop(tmp_path, "b.csv", export_csv(inmates(3), header=renamed), when=1_700_000_100)
    pull(source)
    held = Snapshot.objects.latest("pk")
    assert held.status == "quarantined" and "the export's header lacks mapped columns: Book No" in held.reasons
    assert Subject.objects.filter(status="IN_CUSTODY").count() == 3


def test_a_status_code_the_map_does_not_know_holds_the_export(agency: Agency, tmp_path: Path) -> None:
    body = export_csv(inmates(3)).replace(b",IN,", b",HOSP,", 1)
    drop(tmp_path, "a.csv", body)
    pull(export_source(tmp_path))
    assert "status values the map does not know: HOSP" in Snapshot.objects.get().reasons


def test_the_dry_run_previews_the_mapped_columns_only(agency: Agency, tmp_path: Path) -> None:
    drop(tmp_path, "a.csv", export_csv(inmates(2)))
    dry = connector_dry_run(source=export_source(tmp_path))
    assert dry.booked == 2 and dry.preview["header"] == EXPORT_HEADER
    assert dry.preview["raw"][0] == {"Book No": "BK1000", "Last": "Quill0", "First": "Robin0", "DOB": "01/10/1980",
                                     "Booked": "11/20/2026 08:30:00", "Custody": "IN"}
    assert dry.preview["mapped"][0]["date_of_birth"] == "1980-01-10"
    assert CHARGE not in str(dry.preview) and ADDRESS not in str(dry.preview)
    assert (tmp_path / "a.csv").exists()  # a dry run files nothing away


@pytest.mark.parametrize(("given", "message"), [
    ({"export": {"column_map": {"first_name": "First"}}}, "must name the export's columns for last_name"),
    ({"export": {"column_map": {**EXPORT_MAP, "race": "Race"}}}, "unknown roster columns ['race']"),
    ({"export": {"column_map": EXPORT_MAP}}, "a status column needs a value map"),
    ({"export": {**EXPORT["export"], "date_formats": ["MM/DD/YYYY"]}}, "'MM/DD/YYYY' is not a date format"),
    ({"export": {**EXPORT["export"], "status_values": {"IN": "inside"}}}, "export.status_values.IN"),
])
def test_export_settings_are_checked_on_save(agency: Agency, tmp_path: Path, given: dict[str, Any],
                                             message: str) -> None:
    with pytest.raises(ValidationError) as error:
        export_source(tmp_path, given)
    assert message in str(error.value)


def test_an_sftp_drop_is_fetched_with_a_pinned_host_key_and_filed_away(agency: Agency, tmp_path: Path) -> None:
    sftp = SftpServer(tmp_path)
    try:
        (tmp_path / "out").mkdir()
        drop(tmp_path / "out", "roster.csv", vinex_csv(inmates(3)))
        source = PullSource.objects.create(
            facility=Facility.objects.get(code="main"), kind="sftp", location=f"sftp://pine@127.0.0.1:{sftp.port}/out",
            auth_header_value="drop-secret", settings={"host_key": sftp.public_key})
        assert pull(source) == 1
        assert Subject.objects.filter(status="IN_CUSTODY").count() == 3
        assert (tmp_path / "out" / "processed" / "roster.csv").exists()

        other_key = SftpServer(tmp_path / "out")  # another server's key: a man in the middle
        source.settings = {"host_key": other_key.public_key}
        other_key.close()
        source.save()
        drop(tmp_path / "out", "next.csv", vinex_csv(inmates(4)))
        assert pull(source) == 0
        assert source.last_error.startswith("SFTP failed: HostKeyNotVerifiable")
    finally:
        sftp.close()


def test_an_sftp_source_needs_a_host_key(agency: Agency) -> None:
    with pytest.raises(ValidationError, match="host_key"):
        PullSource.objects.create(facility=Facility.objects.get(code="main"), kind="sftp",
                                  location="sftp://pine@sftp.pine.example.org/out")


def test_a_windows_1252_export_keeps_its_accents(agency: Agency, tmp_path: Path) -> None:
    body = export_csv(inmates(1)).decode().replace("Robin0", "Jos\u00e9").encode("cp1252")
    drop(tmp_path, "a.csv", body)
    pull(export_source(tmp_path))
    assert Subject.objects.get().first_name == "Jos\u00e9"


def test_an_unreadable_host_key_is_a_failure_not_a_crash(agency: Agency) -> None:
    source = PullSource.objects.create(facility=Facility.objects.get(code="main"), kind="sftp",
                                       location="sftp://pine@127.0.0.1:1/out",
                                       settings={"host_key": "ssh-ed25519 AAAA"})
    assert pull(source) == 0
    assert source.last_error == "SFTP failed: the saved host key or private key cannot be read"
