"""An agency's own export (CSV or XLSX, in its own columns), read through a column map.

The map names, for each roster field, the export's column; ``date_formats`` says how its dates are
written; ``status_values`` maps its status codes to "in custody" or not (rows not in custody are left
out). Every other column — charges, bond, race, addresses, photos — is never read past the header. A
mapped column missing from the header, or a status code the map does not know, holds the roster for
review. The export comes from a drop folder or an https:// address. See docs/connectors/export.md.
"""

from __future__ import annotations

import codecs
import csv
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vinex.feeds.connectors.base import Connector, ConnectorError, Fetched
from vinex.feeds.connectors.directory import file_away, settled_files
from vinex.feeds.connectors.edge import KEPT, EdgeRow, RosterWriter, day_of, parse_when
from vinex.feeds.connectors.https import download
from vinex.feeds.models import PullSource

PREVIEW_ROWS = 5
_XLSX_MAGIC = b"PK\x03\x04"


@dataclass
class Table:
    """The export's header and an iterator over its rows as text."""

    header: list[str]
    rows: Iterator[list[str]]


def _is_xlsx(path: Path) -> bool:
    with path.open("rb") as handle:
        return handle.read(4) == _XLSX_MAGIC


def _is_utf8(path: Path) -> bool:
    """Whether the whole file decodes as UTF-8 (checked in chunks, so a large export is never held at once)."""
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        with path.open("rb") as handle:
            while chunk := handle.read(1024 * 1024):
                decoder.decode(chunk)
        decoder.decode(b"", final=True)
    except UnicodeDecodeError:
        return False
    return True


def _csv_table(path: Path) -> Table:
    # Not UTF-8: Windows-1252, what spreadsheet programs write on Windows.
    encoding = "utf-8-sig" if _is_utf8(path) else "cp1252"

    def rows() -> Iterator[list[str]]:
        with path.open("r", encoding=encoding, errors="replace", newline="") as handle:
            reader = csv.reader(handle)
            next(reader, None)
            yield from reader

    with path.open("r", encoding=encoding, errors="replace", newline="") as handle:
        header = next(csv.reader(handle), [])
    return Table([h.strip() for h in header], rows())


def _text(cell: Any) -> str:
    return "" if cell is None else cell if isinstance(cell, str) else str(cell)


def _xlsx_table(path: Path, sheet: str) -> Table:
    from openpyxl import load_workbook

    handle = path.open("rb")
    try:
        book = load_workbook(handle, read_only=True, data_only=True)
        pages = book[sheet] if sheet else book.worksheets[0]
        lines = pages.iter_rows(values_only=True)
        header = [_text(c).strip() for c in next(lines, ())]
    except KeyError:
        handle.close()
        raise ConnectorError(f"the workbook has no sheet named {sheet!r}") from None
    except Exception as error:  # openpyxl raises many kinds for a damaged workbook
        handle.close()
        raise ConnectorError(f"the workbook cannot be read ({type(error).__name__})") from None

    def rows() -> Iterator[list[str]]:
        try:
            for line in lines:
                # Dates stay dates (openpyxl reads them as datetime); everything else becomes text.
                yield [c if hasattr(c, "year") else _text(c) for c in line]
        finally:
            book.close()
            handle.close()

    return Table(header, rows())


def read_table(path: Path, sheet: str = "") -> Table:
    return _xlsx_table(path, sheet) if _is_xlsx(path) else _csv_table(path)


@dataclass
class Mapped:
    """One export converted: the roster file, and what the operator sees in a preview."""

    fetched: Fetched
    header: list[str]
    raw: list[dict[str, str]] = field(default_factory=list)
    mapped: list[dict[str, str]] = field(default_factory=list)


def convert(path: Path, export: dict[str, Any], target: Path, **extra: Any) -> Mapped:
    """The export at ``path`` as a vinex roster at ``target``, with a preview of its first rows."""
    table = read_table(path, export.get("sheet", ""))
    columns: dict[str, str] = export.get("column_map", {})
    formats = export.get("date_formats", [])
    statuses: dict[str, str] = {k.strip().casefold(): v for k, v in export.get("status_values", {}).items()}
    index = {h.casefold(): i for i, h in enumerate(table.header)}
    writer = RosterWriter(target)
    absent = [theirs for theirs in columns.values() if theirs.casefold() not in index]
    if absent:
        writer.hold(f"the export's header lacks mapped columns: {', '.join(absent)}")
    where = {ours: index[theirs.casefold()] for ours, theirs in columns.items() if theirs.casefold() in index}
    unknown: set[str] = set()
    result = Mapped(fetched=Fetched(path=target), header=table.header)
    for line in table.rows:
        value = {ours: line[i] if i < len(line) else "" for ours, i in where.items()}
        if not any(_text(v).strip() for v in value.values()):
            continue  # a blank line at the end of a spreadsheet
        if len(result.raw) < PREVIEW_ROWS:
            # Only mapped columns are shown: unmapped ones (charges, addresses...) are never read.
            result.raw.append({columns[ours]: _text(v) for ours, v in value.items()})
        if "status" in where:
            code = _text(value["status"]).strip().casefold()
            meaning = statuses.get(code)
            if meaning is None:
                unknown.add(_text(value["status"]).strip())
                continue
            if meaning != "in_custody":
                continue
        row = EdgeRow(first_name=_text(value.get("first_name")), last_name=_text(value.get("last_name")),
                      date_of_birth=day_of(value.get("date_of_birth"), formats),
                      booking_number=_text(value.get("booking_number")),
                      person_id=_text(value.get("agency_subject_id")),
                      booked_at=parse_when(value.get("booked_at"), formats),
                      scheduled_release=parse_when(value.get("scheduled_release"), formats))
        writer.add(row)
    if unknown:
        writer.hold(f"status values the map does not know: {', '.join(sorted(unknown)[:10])}")
    result.fetched = writer.close(**extra)
    result.mapped = _preview(target)
    return result


def _preview(path: Path) -> list[dict[str, str]]:
    with path.open("r", encoding="utf-8", newline="") as handle:
        reader = csv.DictReader(handle)
        return [{k: row[k] for k in KEPT} for _, row in zip(range(PREVIEW_ROWS), reader, strict=False)]


class ExportConnector(Connector):
    def fetch(self, source: PullSource, scratch: Path, *, fresh: bool = False) -> list[Fetched]:
        export = (source.settings or {}).get("export", {})
        if source.location.startswith(("https://", "http://")):
            raw = download(source, scratch / "export", fresh=fresh, accept="text/csv, application/vnd.ms-excel, */*")
            if raw is None:
                return []
            mapped = convert(raw.path, export, scratch / "export-roster.csv", etag=raw.etag,
                             last_modified=raw.last_modified, origin_ref=raw.origin_ref)
            return [with_preview(mapped)]
        found = []
        for number, path in enumerate(settled_files(Path(source.location))):
            mapped = convert(path, export, scratch / f"export-{number}.csv", drop_file=path, origin_ref=path.name)
            found.append(with_preview(mapped))
        return found

    def done(self, source: PullSource, fetched: Fetched, *, ok: bool) -> None:
        file_away(fetched, ok=ok)


def with_preview(mapped: Mapped) -> Fetched:
    fetched = mapped.fetched
    fetched.preview.update(header=mapped.header, raw=mapped.raw, mapped=mapped.mapped)
    return fetched
