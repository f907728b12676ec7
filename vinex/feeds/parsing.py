"""Reading roster files (CSV with a header, a JSON list, or NDJSON) into validated, normalised columns.

Parsing and validation are columnar (polars): a 1,000,000-row roster is checked with a handful of
vectorised expressions, and only the rows that fail become Python objects. A bad row is reported
with its line number and reason and left out; the caller keeps that person's status as it is.

Memory stays bounded by the roster's columns, never by the file's size as Python objects: JSON is read
item by item (a JSON list or one object per line), ``_JSON_ROWS_PER_FRAME`` items at a time become a
columnar frame, and a file that is not UTF-8 is transcoded in chunks.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import shutil
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any, Literal, TextIO

import polars as pl

from vinex.custody import rules
from vinex.custody.rules import FrameCheck, FrameChecks

# Our column names, in the order of the documented default header.
COLUMNS = (
    "agency_subject_id", "booking_number", "first_name", "last_name", "date_of_birth", "country_of_birth",
    "a_number", "state_id", "fbi_number", "booked_at", "scheduled_release", "facility_code",
)
REQUIRED = tuple(r.field for r in rules.RULES if r.check == rules.Check.REQUIRED)
# Names agencies commonly use for the housing facility column.
_ALIASES = {"housing_facility": "facility_code", "facility": "facility_code"}
_AWARE_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%dT%H:%M:%S%z", "%Y-%m-%dT%H:%M%z")
_NAIVE_FORMATS = ("%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%dT%H:%M", "%Y-%m-%d")
# An upload is read a mebibyte at a time: the server's readers copy every piece they hand over a few times,
# and pieces that fit the processor's caches cost about a quarter less CPU to take in than 8 MiB ones.
_CHUNK = 1024 * 1024
_TEXT_CHUNK = 256 * 1024  # characters of JSON, or bytes transcoded, held at once
_JSON_ROWS_PER_FRAME = 2_000
_MOMENT_OR_BLANK = r"^\s*(\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?)?([zZ]|[+-]\d{2}:?\d{2})?)?\s*$"

Kind = Literal["csv", "json", "ndjson"]


class RosterFormatError(ValueError):
    """The file as a whole cannot be read as a roster (no usable header, not a JSON list...)."""

    def __init__(self, message: str, *, loc: list[str | int] | None = None) -> None:
        super().__init__(message)
        self.loc = loc or ["body"]


@dataclass(frozen=True)
class RowError:
    line: int
    column: str
    msg: str

    def as_detail(self, unit: str) -> dict[str, Any]:
        return {"loc": [unit, self.line, self.column], "msg": self.msg, "type": "invalid_row"}


@dataclass
class ParsedRoster:
    """Valid rows (our column names plus ``line``), the rows that failed, and file-level signs of trouble."""

    rows: pl.DataFrame
    errors: list[RowError]
    # agency_subject_ids of rows that failed validation: those people keep their current status.
    kept_ids: list[str]
    header: list[str]
    total_rows: int
    truncated: bool = False
    line_unit: str = "line"
    notes: list[str] = field(default_factory=list)


def detect_kind(path: Path, content_type: str = "") -> Kind:
    """NDJSON (one object per line) when the content type says so or the file starts with ``{``; a JSON
    list when it says JSON or the file starts with ``[``; CSV otherwise."""
    if "ndjson" in content_type or "jsonl" in content_type or "json-seq" in content_type:
        return "ndjson"
    if "csv" in content_type:
        return "csv"
    with path.open("rb") as handle:
        start = handle.read(4096).lstrip(b"\xef\xbb\xbf \t\r\n")
    if start.startswith(b"{"):
        return "ndjson"
    return "json" if "json" in content_type or start.startswith(b"[") else "csv"


class _NotUtf8(Exception):
    """The file is not UTF-8; it is read again after transcoding."""


def transcode(path: Path, scratch: Path) -> Path:
    """A UTF-8 copy of a file that is not UTF-8.

    Such files are read as Windows-1252, the superset of Latin-1 that spreadsheet exports use,
    falling back to plain Latin-1 for the five bytes Windows-1252 leaves undefined.
    """
    target = scratch / "roster-utf8"
    for encoding in ("cp1252", "latin-1"):  # Latin-1 decodes every byte
        decoder = codecs.getincrementaldecoder(encoding)()
        try:
            with path.open("rb") as source, target.open("w", encoding="utf-8", newline="") as out:
                while chunk := source.read(_TEXT_CHUNK):
                    out.write(decoder.decode(chunk))
                out.write(decoder.decode(b"", final=True))
        except UnicodeDecodeError:
            continue
        break
    return target


def _header_map(header: list[str], column_map: Mapping[str, str]) -> dict[str, str]:
    """Raw header name -> our column name, for the columns we know; case and spaces do not matter."""
    theirs = {str(v).strip().casefold(): k for k, v in column_map.items() if k in COLUMNS}
    mapping: dict[str, str] = {}
    for raw in header:
        key = raw.strip().casefold().lstrip("\ufeff")
        ours = theirs.get(key) or (key if key in COLUMNS else _ALIASES.get(key))
        if ours and ours not in mapping.values():
            mapping[raw] = ours
    return mapping


def _require_columns(present: set[str], column_map: Mapping[str, str]) -> None:
    missing = [c for c in REQUIRED if c not in present]
    if missing:
        names = ", ".join(column_map.get(c, c) for c in missing)
        raise RosterFormatError(f"the header lacks required columns: {names}", loc=["header"])


def _read_csv(path: Path, column_map: Mapping[str, str]) -> tuple[pl.DataFrame, list[str], bool]:
    try:
        with path.open("r", encoding="utf-8-sig", newline="") as handle:
            header = next(csv.reader([handle.readline()]), [])
    except UnicodeDecodeError:
        raise _NotUtf8 from None
    if not header or header == [""]:
        return pl.DataFrame(), [], False
    mapping = _header_map(header, column_map)
    _require_columns(set(mapping.values()), column_map)
    try:
        frame = pl.read_csv(path, infer_schema=False, truncate_ragged_lines=True, columns=list(mapping),
                            encoding="utf8", raise_if_empty=False, quote_char='"')
    except pl.exceptions.PolarsError as error:
        # polars checks the encoding as it reads, so UTF-8 files (nearly all) are read only once.
        if "utf-8" in str(error).lower():
            raise _NotUtf8 from None
        raise RosterFormatError(f"the file cannot be read as CSV: {str(error).splitlines()[0]}") from None
    frame = frame.rename(mapping).with_row_index("line", offset=2)
    return frame, header, _last_line_truncated(path, len(header))


def _last_line_truncated(path: Path, columns: int) -> bool:
    """True when the file stops in the middle of a row: no final newline and too few fields."""
    with path.open("rb") as handle:
        handle.seek(0, io.SEEK_END)
        size = handle.tell()
        handle.seek(max(0, size - 65536))
        tail = handle.read()
    if not tail or tail.endswith((b"\n", b"\r")):
        return False
    last = tail.rsplit(b"\n", 1)[-1].decode("utf-8", errors="replace")
    fields = next(csv.reader([last]), [])
    return len(fields) < columns


def _read_json(path: Path, column_map: Mapping[str, str], *, lines: bool = False) -> tuple[
    pl.DataFrame, list[str], list[RowError]
]:
    """A JSON list of objects (or, with ``lines``, one object per line), read item by item."""
    keys: dict[str, None] = {}
    frames: list[pl.DataFrame] = []
    pending: list[dict[str, str | None]] = []
    errors: list[RowError] = []
    count = 0
    try:
        with path.open("r", encoding="utf-8-sig") as handle:
            for number, item in (_ndjson_items(handle) if lines else enumerate(_json_list_items(handle), start=1)):
                count += 1
                row = _flat(item)
                if row is None:
                    errors.append(RowError(number, "", "each item must be an object"))
                    continue
                keys.update(dict.fromkeys(row))
                pending.append({**row, "line": str(number)})
                if len(pending) >= _JSON_ROWS_PER_FRAME:
                    frames.append(_frame_of(pending))
                    pending = []
    except UnicodeDecodeError:
        raise _NotUtf8 from None
    if pending:
        frames.append(_frame_of(pending))
    header = sorted(keys)
    mapping = _header_map(header, column_map)
    if count:
        _require_columns(set(mapping.values()), column_map)
    return _json_frame(frames, mapping), header, errors


def _json_frame(frames: list[pl.DataFrame], mapping: Mapping[str, str]) -> pl.DataFrame:
    """Our columns (text) and ``line`` from the frames of items read, whatever keys each frame saw."""
    columns = [pl.col("line").cast(pl.UInt32)]
    if not frames:
        return pl.DataFrame({"line": []}, schema={"line": pl.UInt32, **dict.fromkeys(mapping.values(), pl.String)})
    frame = pl.concat(frames, how="diagonal")
    for raw, ours in mapping.items():
        columns.append(pl.col(raw).alias(ours) if raw in frame.columns else pl.lit(None, dtype=pl.String).alias(ours))
    return frame.select(columns)


def _frame_of(rows: list[dict[str, str | None]]) -> pl.DataFrame:
    names = dict.fromkeys(key for row in rows for key in row)
    return pl.DataFrame({k: [row.get(k) for row in rows] for k in names}, schema=dict.fromkeys(names, pl.String))


def _flat(item: Any) -> dict[str, str | None] | None:
    """An item's fields as text, its ``identifiers`` object spread among them; None when it is no object."""
    if not isinstance(item, dict):
        return None
    identifiers = item.get("identifiers")
    row = {str(k): _text(v) for k, v in item.items() if k != "identifiers" and k != "line"}
    if isinstance(identifiers, dict):
        row.update({str(k): _text(v) for k, v in identifiers.items()})
    return row


def _ndjson_items(handle: TextIO) -> Iterator[tuple[int, Any]]:
    """(line number, item) for each non-blank line of an NDJSON file."""
    for number, line in enumerate(handle, start=1):
        if line.strip():
            try:
                yield number, json.loads(line)
            except json.JSONDecodeError as error:
                raise RosterFormatError(f"line {number} is not valid JSON: {error}") from None


class _JsonListReader:
    """The items of a JSON list, decoded one at a time from a text stream read in chunks."""

    def __init__(self, handle: TextIO) -> None:
        self.handle = handle
        self.buffer = ""
        self.position = 0
        self.ended = False
        self.decoder = json.JSONDecoder()

    def _more(self) -> bool:
        chunk = "" if self.ended else self.handle.read(_TEXT_CHUNK)
        self.ended = not chunk
        self.buffer = self.buffer[self.position :] + chunk
        self.position = 0
        return bool(chunk)

    def next_char(self) -> str:
        """The next character that is not white space (not consumed), or "" at the end of the file."""
        while True:
            while self.position < len(self.buffer) and self.buffer[self.position] in " \t\r\n":
                self.position += 1
            if self.position < len(self.buffer) or not self._more():
                return self.buffer[self.position : self.position + 1]

    def value(self) -> Any:
        self.next_char()  # raw_decode takes no leading white space
        while True:
            try:
                item, end = self.decoder.raw_decode(self.buffer, self.position)
            except json.JSONDecodeError as error:
                if self._more():
                    continue
                raise RosterFormatError(f"the body is not valid JSON: {error}") from None
            # A value that reaches the end of what was read may go on in the next chunk (a number).
            if end == len(self.buffer) and self._more():
                continue
            self.position = end
            return item


def _json_list_items(handle: TextIO) -> Iterator[Any]:
    reader = _JsonListReader(handle)
    if reader.next_char() != "[":
        if reader.next_char() == "":
            raise RosterFormatError("the body is not valid JSON: it is empty")
        reader.value()  # valid JSON that is not a list is told apart from invalid JSON
        raise RosterFormatError("a JSON roster must be a list of objects, one per person")
    reader.position += 1
    if reader.next_char() == "]":
        reader.position += 1
    else:
        while True:
            yield reader.value()
            separator = reader.next_char()
            reader.position += 1
            if separator == "]":
                break
            if separator != ",":
                raise RosterFormatError("the body is not valid JSON: expected , or ] between items")
    if reader.next_char() != "":
        raise RosterFormatError("the body is not valid JSON: extra data after the list")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    return value if isinstance(value, str) else json.dumps(value)


def with_moment(frame: pl.DataFrame, column: str, timezone_name: str) -> pl.DataFrame:
    """``frame`` with ``_<column>``: the column's date and time in UTC (null when it has none or it is impossible)."""
    return frame.with_columns(_parse_moment(column, timezone_name).alias(f"_{column}"))


def _parse_moment(column: str, timezone_name: str) -> pl.Expr:
    # ISO 8601 allows a space for the T; one literal replacement halves the formats to try.
    raw = pl.col(column).str.replace(" ", "T", literal=True, n=1).str.replace(r"[zZ]$", "+00:00")
    aware = pl.coalesce([raw.str.to_datetime(f, strict=False, time_zone="UTC", time_unit="us") for f in _AWARE_FORMATS])
    naive = pl.coalesce([raw.str.to_datetime(f, strict=False, time_unit="us") for f in _NAIVE_FORMATS])
    # A time without an offset is the facility's local time.
    local = naive.dt.replace_time_zone(timezone_name, ambiguous="earliest", non_existent="null")
    return pl.coalesce([aware, local.dt.convert_time_zone("UTC")])


def _cleaned(frame: pl.DataFrame, columns: Iterable[str]) -> pl.DataFrame:
    """``frame`` with these text columns stripped of surrounding blanks, and empty values made null."""
    columns = [c for c in columns if c in frame.columns]
    # Two passes: in one expression the stripped value would be computed twice (eager polars does not
    # share subexpressions), and stripping is the costly part.
    stripped = frame.with_columns([pl.col(c).str.strip_chars() for c in columns])
    return stripped.with_columns([pl.when(pl.col(c).str.len_bytes() > 0).then(pl.col(c)).alias(c) for c in columns])


# Columns cleaned on every row: the join key and what validation parses. The others are cleaned
# only on the rows that become events (``tidy``): stripping copies every value of a column.
_CLEAN_ALWAYS = (*rules.CLEANED, "facility_code", "scheduled_release")
# Columns that only serve validation.
_HELPERS = ("_suspect", "_repeated", rules.A_NUMBER_GIVEN)


def tidy(frame: pl.DataFrame) -> pl.DataFrame:
    """``frame`` with surrounding blanks stripped from every text column and empty values made null."""
    return _cleaned(frame, COLUMNS)


def _normalise(frame: pl.DataFrame, timezone_name: str, today: date) -> tuple[pl.DataFrame, FrameChecks]:
    """The frame with every column of ours, cleaned and parsed, and the event rules that apply to it."""
    for column in COLUMNS:
        if column not in frame.columns:
            frame = frame.with_columns(pl.lit(None, dtype=pl.String).alias(column))
    frame = _cleaned(frame, _CLEAN_ALWAYS)
    event_rules = FrameChecks(frame, on=today)
    frame = frame.with_columns(*event_rules.normalised(), _scheduled_release(frame, timezone_name), _repeated(frame))
    return frame, event_rules


def _repeated(frame: pl.DataFrame) -> pl.Expr:
    """``_repeated``: true on the second and later rows of an agency_subject_id.

    Counting distinct 64-bit hashes is several times cheaper than finding repeats among the text;
    equal ids have equal hashes, so when no hash repeats no id does, and only otherwise (a real
    repeat, or a hash collision) is the text compared.
    """
    ids = frame.get_column("agency_subject_id").drop_nulls()
    if ids.hash().n_unique() == len(ids):
        return pl.lit(False).alias("_repeated")
    value = pl.col("agency_subject_id")
    return (value.is_not_null() & ~value.is_first_distinct()).alias("_repeated")


def _scheduled_release(frame: pl.DataFrame, timezone_name: str) -> pl.Expr:
    """``_scheduled_release``: the release date and time in UTC; a date alone is midnight at the facility."""
    if frame.get_column("scheduled_release").null_count() == len(frame):
        # Most rosters leave the column empty: no need to try every format on a million nulls.
        return pl.lit(None, dtype=pl.Datetime("us", "UTC")).alias("_scheduled_release")
    return _parse_moment("scheduled_release", timezone_name).alias("_scheduled_release")


def _roster_checks(facility_code: str) -> list[FrameCheck]:
    """The checks of the roster's own columns, after the event rules."""
    checks = [
        # The shape is checked on every row; the value is parsed only where it is used (new bookings),
        # because parsing several formats over a million rows costs more than the whole diff.
        ("booked_at", pl.col("booked_at").is_not_null() & ~pl.col("booked_at").str.contains(_MOMENT_OR_BLANK),
         "must be a date and time such as 2026-11-20T08:30:00-05:00"),
        # Parsed in full, unlike booked_at: a scheduled release becomes news for every row that has one,
        # and an impossible date (2026-02-30) must be reported, not read as "no date".
        ("scheduled_release", pl.col("scheduled_release").is_not_null() & pl.col("_scheduled_release").is_null(),
         "must be a date such as 2026-12-01 or a date and time such as 2026-12-01T09:00:00-05:00"),
        ("facility_code", pl.col("facility_code").is_not_null() & (pl.col("facility_code") != facility_code),
         f"names another facility; this snapshot is for {facility_code}"),
        ("agency_subject_id", pl.col("_repeated"), "appears more than once in the snapshot"),
    ]
    return [FrameCheck(column, bad, bad, f"{column} {reason}") for column, bad, reason in checks]


def _validate(frame: pl.DataFrame, checks: list[FrameCheck]) -> tuple[pl.DataFrame, list[RowError], list[str]]:
    """The valid rows, an error for each row that breaks a rule (its first), and the ids of those rows.

    Every row pays only for the cheap ``suspect`` expressions; the exact ones, and which rule a row
    breaks, are worked out on the (few) suspect rows. A check on a missing value is null, not a failure.
    """
    suspect = pl.any_horizontal([check.suspect.fill_null(False) for check in checks])
    frame = frame.with_columns(suspect.alias("_suspect"))
    helpers = [c for c in _HELPERS if c in frame.columns]
    if not frame.get_column("_suspect").any():
        return frame.drop(helpers), [], []
    first_error = pl.coalesce([pl.when(check.bad.fill_null(False)).then(pl.lit(i)) for i, check in enumerate(checks)])
    failed = frame.filter(pl.col("_suspect")).with_columns(first_error.alias("_error")).filter(
        pl.col("_error").is_not_null()).select("line", "agency_subject_id", "_error")
    errors = [RowError(line, checks[i].column, checks[i].message) for line, _, i in failed.iter_rows()]
    valid = frame.filter(~pl.col("line").is_in(failed.get_column("line").implode())).drop(helpers)
    valid_ids = set(valid.get_column("agency_subject_id").to_list())
    kept = sorted({i for _, i, _ in failed.iter_rows() if i and i not in valid_ids})
    return valid, errors, kept


def _read(path: Path, kind: Kind, column_map: Mapping[str, str]) -> tuple[
    pl.DataFrame, list[str], list[RowError], bool
]:
    if kind in ("json", "ndjson"):
        frame, header, errors = _read_json(path, column_map, lines=kind == "ndjson")
        return frame, header, errors, False
    frame, header, truncated = _read_csv(path, column_map)
    return frame, header, [], truncated


def roster_parse(
    path: Path,
    *,
    scratch: Path,
    facility_code: str,
    timezone_name: str,
    column_map: Mapping[str, str] | None = None,
    kind: Kind | None = None,
    today: date | None = None,
) -> ParsedRoster:
    """Read, normalise and validate a roster file; raises RosterFormatError when it has no usable shape."""
    column_map = column_map or {}
    kind = kind or detect_kind(path)
    try:
        frame, header, early_errors, truncated = _read(path, kind, column_map)
    except _NotUtf8:
        frame, header, early_errors, truncated = _read(transcode(path, scratch), kind, column_map)
    unit = "row" if kind == "json" else "line"  # NDJSON items are numbered by their line
    total = len(frame) + len(early_errors)
    if not header:
        empty = pl.DataFrame(schema={"line": pl.UInt32, **dict.fromkeys(COLUMNS, pl.String)})
        return ParsedRoster(empty, early_errors, [], [], total, line_unit=unit)
    frame, event_rules = _normalise(frame, timezone_name, today or rules.today())
    valid, errors, kept = _validate(frame, event_rules.checks() + _roster_checks(facility_code))
    return ParsedRoster(valid, sorted(early_errors + errors, key=lambda e: e.line), kept, header, total,
                        truncated=truncated, line_unit=unit)


def copy_stream(stream: Any, target: Path, *, limit: int) -> tuple[str, int]:
    """Copy a binary stream to ``target``; returns its SHA-256 and size. Raises OverflowError past ``limit``."""
    import hashlib

    digest = hashlib.sha256()
    size = 0
    with target.open("wb") as out:
        while chunk := stream.read(_CHUNK):
            size += len(chunk)
            if size > limit:
                raise OverflowError("roster is too large")
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest(), size


def file_digest(path: Path) -> str:
    import hashlib

    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def move(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.move(str(source), str(target))
