"""The rules a custody event's subject fields obey, in one table, however the event arrives.

Events reach vinex pushed through the event API (validated item by item with pydantic, see
``schemas``) or derived from roster snapshots (validated a million rows at a time with polars, see
``vinex.feeds.parsing``). Both take their checks from ``RULES`` below: ``field_type`` turns a field's
rules into the pydantic type the API declares, ``FrameChecks`` into vectorised polars expressions, so
a value one path refuses the other refuses too, and a value both accept is normalised the same way.

Every text value is first stripped of surrounding whitespace (Unicode White_Space, which is what
pydantic-core and polars both strip); a value left blank counts as absent. Patterns are written for
the Rust regex engine that pydantic-core and polars share, and mean the same to Python's ``re``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, date, datetime
from enum import IntEnum
from functools import cache
from typing import Annotated, Any

import polars as pl
from babel import Locale
from pydantic import AfterValidator, GetCoreSchemaHandler, StringConstraints, WrapValidator
from pydantic_core import CoreSchema, PydanticCustomError, core_schema

# Unicode White_Space, spelled out: Python's str.strip() also strips U+001C..U+001F, which are
# control characters here and must be refused, not trimmed away.
WHITESPACE = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a" \
    "\u2028\u2029\u202f\u205f\u3000"
# NUL and the other C0 control characters: PostgreSQL cannot store NUL, and no name or identifier
# legitimately holds any of them. Tab, CR and LF around a value are whitespace and stripped first.
CONTROL_CHARACTERS = tuple(chr(c) for c in range(0x20))
_CONTROL_CLASS = r"[\x00-\x1f]"
# What may separate the digits of an A-number: whitespace and dashes.
_SEPARATORS = "[" + "".join(f"\\u{ord(c):04x}" for c in WHITESPACE) + r"\-]"
_A_NUMBER = r"^[Aa]?([0-9]{9})$"
_ISO_DATE = r"^[0-9]{4}-[0-9]{2}-[0-9]{2}$"
# Columns ``FrameChecks`` expects already stripped, with blank values made null: the roster reader
# cleans them on every row anyway (the first is its join key), so the checks need not strip them again.
CLEANED = ("agency_subject_id", "date_of_birth", "country_of_birth")
# A column ``FrameChecks.normalised`` may add for its checks: whether an A-number was given at all.
A_NUMBER_GIVEN = "_a_number_given"


class Check(IntEnum):
    """The kinds of rule, in the order a roster row's first broken rule is reported."""

    REQUIRED = 1
    MAX_LENGTH = 2
    NO_CONTROL = 3
    DATE = 4
    PAST = 5
    COUNTRY = 6
    A_NUMBER = 7


@dataclass(frozen=True)
class Rule:
    """One rule of one field: what it refuses, and the message (after the field's name) it refuses with."""

    field: str
    check: Check
    refuses: str
    message: str
    limit: int = 0


def _text(field: str, max_length: int, *, required: bool = False) -> tuple[Rule, ...]:
    rules = (
        Rule(field, Check.MAX_LENGTH, f"more than {max_length} characters", f"is longer than {max_length} characters",
             max_length),
        Rule(field, Check.NO_CONTROL, "NUL and the other control characters U+0000..U+001F",
             "contains control characters, which are not allowed"),
    )
    if required:
        return (Rule(field, Check.REQUIRED, "a missing or blank value", "is required"), *rules)
    return rules


RULES: tuple[Rule, ...] = (
    *_text("agency_subject_id", 64, required=True),
    *_text("first_name", 100, required=True),
    *_text("last_name", 100, required=True),
    *_text("booking_number", 32),
    *_text("state_id", 32),
    *_text("fbi_number", 32),
    Rule("date_of_birth", Check.DATE, "anything but a calendar date written YYYY-MM-DD",
         "must be a date such as 1990-04-25"),
    Rule("date_of_birth", Check.PAST, "a date after today (UTC)", "is in the future"),
    Rule("country_of_birth", Check.COUNTRY, "anything but an ISO 3166-1 alpha-2 code, in either case",
         "must be an ISO 3166-1 alpha-2 code such as MX or US"),
    Rule("a_number", Check.A_NUMBER, "anything but 9 digits once an A prefix, whitespace and dashes are removed",
         "must be 9 digits (an A prefix, spaces and dashes are allowed)"),
)
FIELDS: tuple[str, ...] = tuple(dict.fromkeys(r.field for r in RULES))


def rules_of(field: str) -> tuple[Rule, ...]:
    return tuple(r for r in RULES if r.field == field)


def _message(field: str, check: Check) -> str:
    [rule] = [r for r in rules_of(field) if r.check == check]
    return f"{field} {rule.message}"


def today() -> date:
    """The date "in the future" is measured against: today in UTC."""
    # datetime.now(UTC) is django.utils.timezone.now() (USE_TZ is on) without its settings lookup.
    return datetime.now(UTC).date()


# --- The values themselves (shared by the API, forms and the locator) ------------------------------------


@cache
def iso_country_codes() -> frozenset[str]:
    # Babel's territory list holds ISO 3166-1 alpha-2 codes plus CLDR groupings we must not accept.
    not_countries = {"EU", "EZ", "UN", "QO", "ZZ"}
    codes = (str(c) for c in Locale("en").territories)
    return frozenset(c for c in codes if len(c) == 2 and c.isalpha() and c not in not_countries)


@cache
def country_spellings() -> frozenset[str]:
    """Every accepted spelling of a country code: each code in upper, lower and mixed case (ASCII only)."""
    return frozenset(a + b for code in iso_country_codes() for a in (code[0], code[0].lower())
                     for b in (code[1], code[1].lower()))


def strip(value: str) -> str:
    return value.strip(WHITESPACE)


_SEPARATORS_RE = re.compile(_SEPARATORS)
_A_NUMBER_RE = re.compile(_A_NUMBER)
_ISO_DATE_RE = re.compile(_ISO_DATE)


def normalise_a_number(value: str) -> str:
    """The 9 digits of an A-number written with or without an A prefix, spaces and dashes; ValueError if none."""
    found = _A_NUMBER_RE.fullmatch(_SEPARATORS_RE.sub("", value))
    if found is None:
        raise ValueError(_message("a_number", Check.A_NUMBER))
    return found.group(1)


def normalise_country(value: str) -> str:
    """The ISO 3166-1 alpha-2 code, upper case; ValueError for anything else."""
    code = strip(value)
    if code not in country_spellings():
        raise ValueError(_message("country_of_birth", Check.COUNTRY))
    return code.upper()


# --- The API's pydantic types ----------------------------------------------------------------------------


class _NoControlCharacters:
    """Refuses control characters, after the field's own constraints, with the error a ValueError gives.

    The check runs inside pydantic-core: a Python validator per string field cost more than the rest
    of a batch's validation.
    """

    _check = core_schema.custom_error_schema(
        core_schema.str_schema(pattern=f"^[^{_CONTROL_CLASS[1:-1]}]*$"),
        custom_error_type="value_error",
        custom_error_context={"error": "control characters are not allowed"},
    )

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.chain_schema([handler(source), self._check])


NO_CONTROL_CHARACTERS = _NoControlCharacters()


@dataclass(frozen=True)
class _Text:
    max_length: int
    min_length: int

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        bounds = StringConstraints(strip_whitespace=True, min_length=self.min_length, max_length=self.max_length)
        return handler.generate_schema(Annotated[source, bounds, NO_CONTROL_CHARACTERS])


def text(max_length: int, min_length: int = 1) -> Any:
    """Pydantic metadata: a stripped string of bounded length without control characters.

    ``Annotated[str, text(128)]``: the text rules of ``RULES`` for a field of the event that rosters
    do not have.
    """
    return _Text(max_length, min_length)


class _CountryCode:
    """``normalise_country`` inside pydantic-core, without a Python call per value (a batch validates
    thousands). The same value comes out, and the same error (a ``value_error`` with the rule's message)."""

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return core_schema.chain_schema([
            core_schema.str_schema(strip_whitespace=True),
            core_schema.custom_error_schema(
                core_schema.literal_schema(sorted(country_spellings())),
                custom_error_type="value_error",
                custom_error_context={"error": _message("country_of_birth", Check.COUNTRY)},
            ),
            # Only two ASCII letters get this far, and their upper case is what normalise_country returns.
            core_schema.str_schema(to_upper=True),
        ])


def _calendar_date(field: str, *, past: bool) -> Callable[[Any, Callable[[Any], date]], date]:
    """The validator of a date field: text written YYYY-MM-DD (pydantic alone would also take a number of
    seconds, "0" being 1970-01-01, or a date and time), not after today when ``past``. One Python call per
    value, which reads a well-formed date itself and leaves the rest (and their errors) to pydantic."""
    past_message = _message(field, Check.PAST)

    def validate(value: Any, handler: Callable[[Any], date]) -> date:
        if isinstance(value, str):
            value = strip(value)
            if _ISO_DATE_RE.fullmatch(value) is None:
                raise PydanticCustomError("date_parsing",
                                          "Input should be a valid date in the format YYYY-MM-DD, {error}",
                                          {"error": "such as 1990-04-25"})
            try:
                day = date.fromisoformat(value)
            except ValueError:  # no such day (2019-02-29): pydantic's error says what is wrong with it
                day = handler(value)
        elif isinstance(value, int | float):
            raise PydanticCustomError("date_type", "Input should be a valid date")
        else:
            day = handler(value)
        if past and day > today():
            raise ValueError(past_message)
        return day

    return validate


def field_type(field: str) -> Any:
    """The pydantic type of a subject field, built from its rules."""
    checks = {r.check: r for r in rules_of(field)}
    if Check.MAX_LENGTH in checks:
        return Annotated[str, text(checks[Check.MAX_LENGTH].limit)]
    if Check.A_NUMBER in checks:
        return Annotated[str, AfterValidator(normalise_a_number)]
    if Check.COUNTRY in checks:
        return Annotated[str, _CountryCode()]
    if Check.DATE in checks:
        return Annotated[date, WrapValidator(_calendar_date(field, past=Check.PAST in checks))]
    raise LookupError(f"no rules for {field}")


@dataclass(frozen=True)
class _FieldRules:
    field: str

    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler) -> CoreSchema:
        return handler.generate_schema(field_type(self.field))


def follows(field: str) -> Any:
    """Pydantic metadata: ``Annotated[str, follows("first_name")]`` validates as ``RULES`` say for that field."""
    field_type(field)  # fails now, at import, for a field without rules
    return _FieldRules(field)


# --- The roster's polars checks --------------------------------------------------------------------------


@dataclass(frozen=True)
class FrameCheck:
    """A rule as polars expressions over a frame of raw text columns.

    ``suspect`` is cheap and true for every bad value (and maybe a few good ones); ``bad`` is exact
    and is evaluated only on the suspect rows, so a million good rows pay for the cheap one alone.
    Both may be null for a missing value, which is not a failure.
    """

    column: str
    suspect: pl.Expr
    bad: pl.Expr
    message: str


class FrameChecks:
    """``RULES`` over a polars frame: the normalised columns and the checks, for the columns it holds.

    Text columns other than ``CLEANED`` may arrive unstripped (stripping a million values costs more
    than checking them), so each check is exact on the stripped value. ``normalised`` replaces
    ``a_number`` and ``country_of_birth`` by their normal form and adds ``_dob``, the parsed date of
    birth; the checks run on the normalised frame.
    """

    def __init__(self, frame: pl.DataFrame, *, on: date | None = None) -> None:
        self.columns = [c for c in FIELDS if c in frame.columns]
        self.today = on or today()
        self.settled = self._settled(frame)

    @staticmethod
    def _settled(frame: pl.DataFrame) -> set[str]:
        """Columns whose every value is already in normal form, as agencies mostly send them."""
        checks = {"a_number": _bare_a_number(pl.col("a_number")),
                  "country_of_birth": pl.col("country_of_birth").is_in(sorted(iso_country_codes()))}
        present = {c: e.fill_null(True).all() for c, e in checks.items() if c in frame.columns}
        if not present:
            return set()
        found = frame.select(**present).row(0, named=True)
        return {c for c, ok in found.items() if ok}

    def normalised(self) -> list[pl.Expr]:
        exprs: list[pl.Expr] = []
        if "a_number" in self.columns:
            exprs.append(_a_number(settled="a_number" in self.settled).alias("a_number"))
            if "a_number" not in self.settled:
                exprs.append(pl.col("a_number").str.strip_chars().str.len_bytes().gt(0).alias(A_NUMBER_GIVEN))
        if "country_of_birth" in self.columns and "country_of_birth" not in self.settled:
            # Only valid spellings are upper-cased: others must stay as they are to fail their check
            # ("ß" upper-cases to "SS", a country).
            country = pl.col("country_of_birth")
            exprs.append(pl.when(country.is_in(sorted(country_spellings()))).then(country.str.to_uppercase())
                         .otherwise(country))
        if "date_of_birth" in self.columns:
            exprs.append(pl.col("date_of_birth").str.to_date("%Y-%m-%d", strict=False).alias("_dob"))
        return exprs

    def checks(self) -> list[FrameCheck]:
        """The checks of every rule over the normalised frame, in the order of ``Check``."""
        return [check for rule in sorted(RULES, key=lambda r: r.check) if rule.field in self.columns
                for check in self._check(rule)]

    def _check(self, rule: Rule) -> Iterable[FrameCheck]:
        value = pl.col(rule.field)
        stripped = value if rule.field in CLEANED else value.str.strip_chars()
        message = f"{rule.field} {rule.message}"
        if rule.check == Check.REQUIRED:
            blank = value.is_null() | (stripped.str.len_bytes() == 0)
            yield FrameCheck(rule.field, blank, blank, message)
        elif rule.check == Check.MAX_LENGTH:
            yield FrameCheck(rule.field, value.str.len_chars() > rule.limit, stripped.str.len_chars() > rule.limit,
                             message)
        elif rule.check == Check.NO_CONTROL:
            yield FrameCheck(rule.field, value.str.contains_any(list(CONTROL_CHARACTERS)),
                             stripped.str.contains_any(list(CONTROL_CHARACTERS)), message)
        elif rule.check == Check.DATE:
            parsed = pl.col("_dob")
            bad = value.is_not_null() & (parsed.is_null() | (parsed < pl.lit(date(1, 1, 1)))
                                         | ~value.str.contains(_ISO_DATE))
            yield FrameCheck(rule.field, bad, bad, message)
        elif rule.check == Check.PAST:
            bad = pl.col("_dob") > pl.lit(self.today)
            yield FrameCheck(rule.field, bad, bad, message)
        elif rule.check == Check.COUNTRY and rule.field not in self.settled:
            bad = value.is_not_null() & ~value.is_in(sorted(country_spellings()))
            yield FrameCheck(rule.field, bad, bad, message)
        elif rule.check == Check.A_NUMBER and rule.field not in self.settled:
            # The normalised column is null where the value was blank or is no A-number.
            bad = pl.col(A_NUMBER_GIVEN) & value.is_null()
            yield FrameCheck(rule.field, bad, bad, message)


def _bare_a_number(value: pl.Expr) -> pl.Expr:
    """True for 9 ASCII digits or an empty value (null stays null).

    What the pattern ^([0-9]{9})?$ says, at half its cost: to_integer takes ASCII digits and a sign alone.
    """
    digits = (value.str.len_bytes() == 9) & value.str.to_integer(strict=False).is_not_null()
    return (value.str.len_bytes() == 0) | (digits & ~value.str.starts_with("+") & ~value.str.starts_with("-"))


def _a_number(*, settled: bool) -> pl.Expr:
    """``a_number`` as 9 digits, null when blank or not an A-number."""
    value = pl.col("a_number")
    if settled:
        # Nothing to clean, and the clean-up costs more than the whole check.
        return pl.when(value.str.len_bytes() > 0).then(value)
    return value.str.replace_all(_SEPARATORS, "").str.extract(_A_NUMBER, 1)
