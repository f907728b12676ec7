"""A roster row and a pushed event obey one set of rules (vinex.custody.rules).

Random rows are refused by the roster checks exactly when the event API's types refuse the same
values, and the values both accept come out in the same normal form. Then, plainly: a row with a
NUL or a control character in a name is refused alone, and reported with its line.
"""

from __future__ import annotations

import csv
import io
import json
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from hypothesis import HealthCheck, assume, example, given, settings
from hypothesis import strategies as st
from pydantic import ValidationError

from tests.feeds.roster import people, person, put_roster, roster_csv
from vinex.custody import rules
from vinex.custody.models import Agency, Subject
from vinex.custody.schemas import SubjectIn
from vinex.feeds.parsing import ParsedRoster, roster_parse, tidy

FIELDS = list(rules.FIELDS)
IDENTIFIERS = ("a_number", "fbi_number", "state_id", "booking_number")
# What agencies' exports hold, and what a broken or hostile one might: letters, digits, separators,
# every C0 control character, Unicode whitespace, accents, ligatures that upper-case to two letters,
# other scripts' digits, invisible and right-to-left marks, combining accents, emoji.
ODD = "\x7f\u0301\u200b\u200f\u2060\ufeffßﬅﬁéÉñØ٣١۹１Ａ🙂"
CHARACTERS = st.sampled_from("AaBxyz0129 -_.,'/:T" + "".join(rules.CONTROL_CHARACTERS) + rules.WHITESPACE + ODD)
LETTERS = st.sampled_from("Aabcdefghijklmnopqrstuvwxyz -'é")
PADDING = st.text(st.sampled_from(" \t\n\r\u3000\u00a0\x1c\x00"), max_size=2)


def _padded(draw: st.DrawFn, value: str) -> str:
    return draw(PADDING) + value + draw(PADDING) if draw(st.booleans()) else value


@st.composite
def texts(draw: st.DrawFn, limit: int) -> str:
    """Short random text, or text a few characters either side of the field's length limit."""
    if draw(st.booleans()):
        return draw(st.text(CHARACTERS, max_size=8))
    body = draw(st.text(LETTERS, min_size=limit - 2, max_size=limit + 2))
    if draw(st.booleans()):
        at = draw(st.integers(0, len(body)))
        body = body[:at] + draw(CHARACTERS) + body[at:]
    return _padded(draw, body)


@st.composite
def a_numbers(draw: st.DrawFn) -> str:
    digits = draw(st.text(st.sampled_from("0123456789" * 6 + "٣１"), min_size=8, max_size=10))
    separator = draw(st.sampled_from(["", " ", "-", " - ", "\t", "\u3000", "\x1c", "_", "."]))
    if separator and len(digits) > 6:
        digits = digits[:3] + separator + digits[3:6] + separator + digits[6:]
    prefix = draw(st.sampled_from(["", "", "A", "a", "A-", "A ", "AA", "B", "-"]))
    return _padded(draw, prefix + digits)


@st.composite
def countries(draw: st.DrawFn) -> str:
    code = draw(st.sampled_from(["MX", "US", "GT", "SS", "ST", "FI", "EU", "UN", "ZZ", "XX", "USA", "U"]))
    code = "".join(c.lower() if draw(st.booleans()) else c for c in code)
    odd = draw(st.sampled_from(["", "", "", "ß", "ﬅ", "ﬁ", "\x00", "\x1f", "\u0301"]))
    return _padded(draw, draw(st.sampled_from([code, code + odd, odd + code, odd])))


@st.composite
def dates(draw: st.DrawFn) -> str:
    day = draw(st.dates(min_value=date(1, 1, 1), max_value=rules.today() + timedelta(days=3)))
    shapes = [day.isoformat(), f"{day.year}-{day.month}-{day.day}", f"{day.isoformat()}T00:00:00",
              f"{day.isoformat()}T00:00:00Z", f"{day.isoformat()} 10:30", day.strftime("%m/%d/%Y"),
              day.strftime("%Y%m%d"), f"+{day.isoformat()}", "0", "1234567890", "0000-01-01", "1990-02-30",
              "1990-13-01", f"{day.year:05d}-01-01", "١٩٩٠-٠١-٠٢"]
    return _padded(draw, draw(st.sampled_from(shapes)))


def plain(field: str) -> st.SearchStrategy[str]:
    """A value every path accepts as it is."""
    checks = {r.check for r in rules.rules_of(field)}
    if rules.Check.A_NUMBER in checks:
        return st.from_regex(r"A?[0-9]{9}", fullmatch=True)
    if rules.Check.COUNTRY in checks:
        return st.sampled_from(sorted(rules.iso_country_codes()))
    if rules.Check.DATE in checks:
        return st.dates(max_value=rules.today()).map(date.isoformat)
    return st.text(st.sampled_from("abcXYZ0129-"), min_size=1, max_size=12)


def odd(field: str) -> st.SearchStrategy[str | None]:
    """A value shaped to test the edges of the field's rules, a random one, or none."""
    rule = {r.check: r for r in rules.rules_of(field)}
    if rules.Check.A_NUMBER in rule:
        shaped = a_numbers()
    elif rules.Check.COUNTRY in rule:
        shaped = countries()
    elif rules.Check.DATE in rule:
        shaped = dates()
    else:
        shaped = texts(rule[rules.Check.MAX_LENGTH].limit)
    return st.one_of(shaped, shaped, shaped, st.none(), st.text(CHARACTERS, max_size=6))


@st.composite
def rows(draw: st.DrawFn) -> dict[str, str | None]:
    """A plain row with one to three of its values made odd, so each odd value is judged on its own."""
    row: dict[str, str | None] = {field: draw(plain(field)) for field in FIELDS}
    for field in draw(st.lists(st.sampled_from(FIELDS), min_size=1, max_size=3, unique=True)):
        row[field] = draw(odd(field))
    return row


def _given(value: str | None) -> bool:
    # A roster cell that is blank is a missing value; the API's counterpart is a field left out.
    return value is not None and rules.strip(value) != ""


def api_subject(row: dict[str, str | None]) -> SubjectIn | None:
    """The subject the event API makes of these values, or None when it refuses them."""
    payload: dict[str, Any] = {k: v for k, v in row.items() if k not in IDENTIFIERS and _given(v)}
    identifiers = {k: row[k] for k in IDENTIFIERS if _given(row[k])}
    if identifiers:
        payload["identifiers"] = identifiers
    try:
        return SubjectIn.model_validate(payload)
    except ValidationError:
        return None


def roster_file(folder: Path, items: list[dict[str, str | None]], kind: str) -> Path:
    path = folder / f"roster.{kind}"
    if kind == "json":
        path.write_text(json.dumps(items), encoding="utf-8")
    else:
        buffer = io.StringIO()
        writer = csv.DictWriter(buffer, fieldnames=FIELDS, quoting=csv.QUOTE_ALL, lineterminator="\n")
        writer.writeheader()
        writer.writerows([{k: "" if v is None else v for k, v in item.items()} for item in items])
        path.write_bytes(buffer.getvalue().encode())
    return path


def parsed_rows(folder: Path, items: list[dict[str, str | None]], kind: str) -> dict[int, dict[str, Any]]:
    """The roster's accepted rows, normalised, by their position in ``items``."""
    parsed = roster_parse(roster_file(folder, items, kind), scratch=folder, facility_code="main", kind=kind,  # type: ignore[arg-type]
                          timezone_name="UTC", today=rules.today())
    first = 1 if kind == "json" else 2
    return {row["line"] - first: row for row in tidy(parsed.rows).iter_rows(named=True)}


def as_roster_would(subject: SubjectIn) -> dict[str, Any]:
    identifiers = subject.identifiers.model_dump() if subject.identifiers else dict.fromkeys(IDENTIFIERS)
    return {"agency_subject_id": subject.agency_subject_id, "first_name": subject.first_name,
            "last_name": subject.last_name, "_dob": subject.date_of_birth,
            "country_of_birth": subject.country_of_birth, **identifiers}


def _unique_ids(items: list[dict[str, str | None]]) -> bool:
    # A repeated id is the roster's own rule (a snapshot lists each person once); the API has no counterpart.
    ids = [rules.strip(i) for i in (item["agency_subject_id"] for item in items) if i is not None and _given(i)]
    return len(ids) == len(set(ids))


@pytest.mark.parametrize("kind", ["json", "csv"])
@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(items=st.lists(rows(), min_size=1, max_size=6))
@example(items=[{"agency_subject_id": "S-1", "first_name": "Ana\x00", "last_name": "Ortiz", "date_of_birth": None,
                 "country_of_birth": None, "a_number": None, "fbi_number": None, "state_id": None,
                 "booking_number": None}])
def test_roster_rows_are_accepted_and_normalised_as_the_api_would(tmp_path: Path, kind: str,
                                                                  items: list[dict[str, str | None]]) -> None:
    assume(_unique_ids(items))
    accepted = parsed_rows(tmp_path, items, kind)
    for position, item in enumerate(items):
        subject = api_subject(item)
        assert (position in accepted) == (subject is not None), item
        if subject is not None:
            roster = {k: accepted[position][k] for k in as_roster_would(subject)}
            assert roster == as_roster_would(subject), item


def parse(tmp_path: Path, content: bytes) -> ParsedRoster:
    path = tmp_path / "roster.csv"
    path.write_bytes(content)
    return roster_parse(path, scratch=tmp_path, facility_code="main", timezone_name="UTC")


@pytest.mark.parametrize("name", ["Ana\x00", "An\x00a", "Ana\x1f", "A\x08na", '"Ana\r\nOrtiz"', "Ana\tMaría"])
def test_a_name_with_a_control_character_is_refused_alone_with_its_line(tmp_path: Path, name: str) -> None:
    parsed = parse(tmp_path, b"agency_subject_id,first_name,last_name\nS-1,Bo,Kim\n"
                             + f"S-2,{name},Ortiz\nS-3,Cy,Lee\n".encode())
    assert [(e.line, e.column, e.msg) for e in parsed.errors] == [
        (3, "first_name", "first_name contains control characters, which are not allowed")]
    assert parsed.rows.get_column("agency_subject_id").to_list() == ["S-1", "S-3"]
    assert parsed.kept_ids == ["S-2"]


def test_whitespace_around_a_name_is_trimmed_not_refused(tmp_path: Path) -> None:
    parsed = parse(tmp_path, b'agency_subject_id,first_name,last_name\nS-1,"\tAna\r\n",\xe3\x80\x80Ortiz\n')
    assert parsed.errors == []
    assert tidy(parsed.rows).select("first_name", "last_name").row(0) == ("Ana", "Ortiz")


@pytest.mark.django_db
def test_a_roster_row_with_a_nul_is_reported_and_the_rest_applied(api: Client, agency: Agency) -> None:
    put_roster(api, roster_csv(people(30)))
    rows = people(31)
    rows[10] = person("S-10", last_name="Quill\x00")  # line 12
    body = put_roster(api, roster_csv(rows)).json()
    assert body["status"] == "applied"
    assert body["errors"] == [{"loc": ["line", 12, "last_name"], "type": "invalid_row",
                               "msg": "last_name contains control characters, which are not allowed"}]
    assert (body["booked"], body["released"], body["unchanged"]) == (1, 0, 29)
    # The person on the refused row keeps their status, and the refused value is stored nowhere.
    assert Subject.objects.get(agency=agency, agency_subject_id="S-10").status == "IN_CUSTODY"
    assert all("\x00" not in name for name in Subject.objects.values_list("last_name", flat=True))
    assert Subject.objects.get(agency=agency, agency_subject_id="S-30").status == "IN_CUSTODY"


def test_a_country_is_checked_before_it_is_upper_cased(tmp_path: Path) -> None:
    content = "agency_subject_id,first_name,last_name,country_of_birth\nS-1,A,B,ß\nS-2,A,B,mx\n"
    parsed = parse(tmp_path, content.encode())
    assert [(e.line, e.column) for e in parsed.errors] == [(2, "country_of_birth")]
    assert parsed.rows.get_column("country_of_birth").to_list() == ["MX"]
