"""Raw records (one polars frame) → the normalised columns the rules and the model compare (pure)."""

from __future__ import annotations

from collections.abc import Callable

import polars as pl

from vinex.linkage import names

# The columns a record may carry besides record_id (the public contract of ``vinex linkage match``).
INPUT_COLUMNS = ("first_name", "last_name", "date_of_birth", "country_of_birth", "sex", "a_number", "state_id",
                 "fbi_number", "street", "city", "postcode", "state")


class LinkageInputError(ValueError):
    """Records that cannot be matched as given (no record_id, duplicate ids); the message says why."""


def _mapped(column: pl.Series, function: Callable[[str | None], str | None]) -> pl.Series:
    """``function`` applied once per distinct value: names and places repeat, so this is many times faster."""
    distinct = column.unique()
    lookup = pl.DataFrame({"value": distinct, "mapped": pl.Series([function(v) for v in distinct], dtype=pl.Utf8)})
    joined = pl.DataFrame({"value": column}).join(lookup, on="value", how="left", nulls_equal=True,
                                                    maintain_order="left")
    return joined["mapped"].alias(column.name)


def _mapped_list(column: pl.Series, function: Callable[[str | None], list[str] | None]) -> pl.Series:
    """Like ``_mapped`` for a function that returns a list of strings."""
    distinct = column.unique()
    lookup = pl.DataFrame({"value": distinct,
                           "mapped": pl.Series([function(v) for v in distinct], dtype=pl.List(pl.Utf8))})
    joined = pl.DataFrame({"value": column}).join(lookup, on="value", how="left", nulls_equal=True,
                                                    maintain_order="left")
    return joined["mapped"]


def _raw(records: pl.DataFrame, name: str) -> pl.Series:
    if name not in records.columns:
        return pl.Series(name, [None] * records.height, dtype=pl.Utf8)
    return records[name].cast(pl.Utf8).alias(name)


def record_ids_check(records: pl.DataFrame, *, label: str = "the records") -> None:
    """Raise LinkageInputError unless every record has a record_id and no two share one."""
    if "record_id" not in records.columns:
        raise LinkageInputError(f"{label}: a record_id column is required")
    ids = records["record_id"].cast(pl.Utf8).str.strip_chars()
    if ids.is_null().any() or (ids == "").any():
        raise LinkageInputError(f"{label}: every row needs a record_id")
    duplicated = ids.filter(ids.is_duplicated())
    if not duplicated.is_empty():
        raise LinkageInputError(f"{label}: record_id {duplicated[0]!r} appears more than once")


def features_build(records: pl.DataFrame, *, label: str = "the records") -> pl.DataFrame:
    """The normalised features of ``records`` (a frame with record_id and any of INPUT_COLUMNS).

    Unknown columns are ignored; missing ones are unknown for every record.
    """
    record_ids_check(records, label=label)
    first = _mapped(_raw(records, "first_name"), names.name_clean)
    last = _mapped(_raw(records, "last_name"), names.name_clean)
    last_first = _mapped(last, names.surname_first).alias("last_first")
    dob = _mapped(_raw(records, "date_of_birth"), names.date_clean)
    return pl.DataFrame([
        records["record_id"].cast(pl.Utf8).str.strip_chars().alias("unique_id"),
        first,
        _mapped(first, names.given_key).alias("first_key"),
        _mapped_list(first, names.given_aliases).alias("first_aliases"),
        last,
        last_first,
        _mapped(last_first, names.soundex).alias("last_sx"),
        dob,
        _mapped(dob, names.date_swapped).alias("dob_swapped"),
        _mapped(_raw(records, "date_of_birth"), names.date_digits).alias("dob_digits"),
        _mapped(_raw(records, "country_of_birth"), names.country_clean),
        _mapped(_raw(records, "sex"), names.sex_clean),
        _mapped(_raw(records, "a_number"), names.a_number_clean),
        _mapped(_raw(records, "fbi_number"), names.identifier_clean),
        _mapped(_raw(records, "state_id"), names.identifier_clean),
        _mapped(_raw(records, "state"), names.address_clean),
        _mapped(_raw(records, "street"), names.address_clean),
        _mapped(_raw(records, "street"), names.street_key).alias("street_key"),
        _mapped(_raw(records, "city"), names.address_clean),
        _mapped(_raw(records, "postcode"), names.postcode_clean),
    ])
