"""The probabilistic model: Splink's Fellegi–Sunter on DuckDB, defined here, trained into ``model.json``.

``COMPARISONS`` is the one definition of what is compared and how: training turns it into a Splink
settings document (``settings_untrained``), and the evidence shown to reviewers is read back from it
(``evidence_expression``), so the two never disagree. DuckDB runs in memory with extension
installation and loading switched off: matching never reaches the network.
"""

from __future__ import annotations

import json
import logging
import math
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

if TYPE_CHECKING:
    import duckdb

MODEL_PATH = Path(__file__).with_name("model.json")


@dataclass(frozen=True)
class Level:
    label: str  # what agrees, in words a reviewer reads ("day and month swapped")
    sql: str  # over "<feature>_l" and "<feature>_r"
    tf: str | None = None  # term-frequency adjustment: a rare name that agrees weighs more than a common one


@dataclass(frozen=True)
class Comparison:
    name: str
    null_sql: str
    levels: tuple[Level, ...]  # strongest first; "else" (nothing agrees) is added after them


def _null(*features: str) -> str:
    left = " AND ".join(f'"{f}_l" IS NULL' for f in features)
    right = " AND ".join(f'"{f}_r" IS NULL' for f in features)
    return f"({left}) OR ({right})"


def _eq(feature: str, other: str | None = None) -> str:
    return f'"{feature}_l" = "{other or feature}_r"'


def _jw(feature: str, at_least: float) -> str:
    return f'jaro_winkler_similarity("{feature}_l", "{feature}_r") >= {at_least}'


def _swapped_with_typo() -> str:
    """First and last names swapped, one or both mistyped (``Joshua Wiechec`` ~ ``Wiechec Jsohua``), or one of
    them cut to its initial. Both directions must agree: a surname in the first-name field beside another
    given name is a relative's swapped record (``Carlos Smith`` ~ ``Smith Allan``), not this person's."""
    first_l, first_r = "split_part(\"first_name_l\", ' ', 1)", "split_part(\"first_name_r\", ' ', 1)"
    across = f'jaro_winkler_similarity({first_l}, "last_first_r") >= 0.85'
    back = f'jaro_winkler_similarity("last_first_l", {first_r}) >= 0.85'
    initial_across = f'length("last_first_r") = 1 AND substr({first_l}, 1, 1) = "last_first_r"'
    initial_back = f'length({first_r}) = 1 AND substr("last_first_l", 1, 1) = {first_r}'
    return f"(({across}) AND (({back}) OR ({initial_back}))) OR (({back}) AND ({initial_across}))"


def _simple(feature: str, label: str) -> Comparison:
    return Comparison(feature, _null(feature), (Level(label, _eq(feature)),))


COMPARISONS = (
    Comparison("first_name", _null("first_name"), (
        Level("same first name", _eq("first_name"), tf="first_name"),
        Level("same first name or nickname", 'list_has_any("first_aliases_l", "first_aliases_r")'),
        Level("first name is the other's last name",
              f"{_eq('first_name', 'last_name')} OR split_part(\"first_name_l\", ' ', 1) = \"last_first_r\""),
        Level("first and last names swapped, with a typo", _swapped_with_typo()),
        Level("similar first name", _jw("first_name", 0.9)),
        Level("first-name initial agrees",
              '(length("first_name_l") = 1 OR length("first_name_r") = 1) '
              'AND substr("first_name_l", 1, 1) = substr("first_name_r", 1, 1)'),
        Level("first name somewhat similar", _jw("first_name", 0.8)),
    )),
    Comparison("last_name", _null("last_name"), (
        Level("same last name", _eq("last_name"), tf="last_name"),
        Level("shares a surname (compound surnames)",
              "list_has_any(string_split(\"last_name_l\", ' '), string_split(\"last_name_r\", ' '))"),
        Level("last name is the other's first name",
              f"{_eq('last_name', 'first_name')} OR \"last_first_l\" = split_part(\"first_name_r\", ' ', 1)"),
        Level("last and first names swapped, with a typo", _swapped_with_typo()),
        Level("similar last name", _jw("last_name", 0.92)),
        Level("last name somewhat similar", _jw("last_name", 0.8)),
    )),
    Comparison("date_of_birth", _null("dob_digits"), (
        Level("same date of birth", _eq("date_of_birth")),
        Level("date of birth with day and month swapped", _eq("date_of_birth", "dob_swapped")),
        # On the digits as written, so that a mistyped digit that makes no date (04-93) still counts.
        Level("date of birth one digit apart", 'damerau_levenshtein("dob_digits_l", "dob_digits_r") <= 1'),
        # A mistyped year, not a generation: a father and the son born on his birthday stay apart.
        Level("same day and month of birth, another year",
              'substr("dob_digits_l", 5, 4) = substr("dob_digits_r", 5, 4) '
              'AND abs(CAST(substr("dob_digits_l", 1, 4) AS INTEGER) '
              '- CAST(substr("dob_digits_r", 1, 4) AS INTEGER)) < 10'),
        Level("same year of birth", 'substr("dob_digits_l", 1, 4) = substr("dob_digits_r", 1, 4)'),
    )),
    _simple("country_of_birth", "same country of birth"),
    _simple("sex", "same sex"),
    _simple("a_number", "same A-number"),
    _simple("fbi_number", "same FBI number"),
    _simple("state_id", "same state id"),
    # Streets are compared without their spaces (``street_key``): "8 stobiepl ace" is "8 stobie place".
    Comparison("address", _null("street_key", "city", "postcode"), (
        Level("same street and postcode", f"{_eq('street_key')} AND ({_eq('postcode')} OR {_eq('city')})"),
        Level("similar street in the same postcode or city",
              f"{_jw('street_key', 0.88)} AND ({_eq('postcode')} OR {_eq('city')} "
              "OR damerau_levenshtein(\"postcode_l\", \"postcode_r\") <= 1)"),
        Level("same street, another postcode and city", _jw("street_key", 0.94)),
        Level("same postcode", _eq("postcode")),
        Level("postcode one digit apart in a similar city",
              f"damerau_levenshtein(\"postcode_l\", \"postcode_r\") <= 1 AND {_jw('city', 0.9)}"),
        Level("same city", _eq("city"), tf="city"),
    )),
)

# Which pairs are compared at all. Each rule is an equi-join DuckDB can hash, so the work grows with the
# number of candidate pairs, not with the square of the records; together they catch a true pair
# whenever one of its strong identifiers, its date of birth (or its swapped form), its names, or its
# street or postcode with a name or the birthday agree. Each rule is narrow enough that common names and
# common birthdays stay cheap: at most 20 million candidate pairs (the rules overlap) for 1,000,000
# synthetic records with skewed name frequencies.
BLOCKING_RULES = (
    'l."a_number" = r."a_number"',
    'l."fbi_number" = r."fbi_number"',
    'l."state_id" = r."state_id"',
    'l."date_of_birth" = r."date_of_birth" AND substr(l."first_name", 1, 1) = substr(r."first_name", 1, 1)',
    'l."date_of_birth" = r."date_of_birth" AND substr(l."last_name", 1, 1) = substr(r."last_name", 1, 1)',
    'l."date_of_birth" = r."dob_swapped" AND substr(l."last_name", 1, 1) = substr(r."last_name", 1, 1)',
    'l."dob_swapped" = r."date_of_birth" AND substr(l."last_name", 1, 1) = substr(r."last_name", 1, 1)',
    'l."first_key" = r."first_key" AND l."last_first" = r."last_first" '
    'AND substr(l."date_of_birth", 1, 3) = substr(r."date_of_birth", 1, 3)',
    'l."last_sx" = r."last_sx" AND substr(l."date_of_birth", 1, 4) = substr(r."date_of_birth", 1, 4) '
    'AND substr(l."first_name", 1, 1) = substr(r."first_name", 1, 1)',
    'l."date_of_birth" = r."date_of_birth" AND substr(l."first_name", 1, 1) = substr(r."last_name", 1, 1)',
    'split_part(l."first_name", \' \', 1) = r."last_first" AND l."last_first" = split_part(r."first_name", \' \', 1)',
    'l."street_key" = r."street_key"',
    'l."first_key" = r."first_key" AND l."last_sx" = r."last_sx" AND l."state" = r."state"',
    'l."postcode" = r."postcode" AND l."last_sx" = r."last_sx"',
    'l."postcode" = r."postcode" AND l."first_key" = r."first_key"',
    'l."postcode" = r."postcode" AND l."date_of_birth" = r."date_of_birth"',
)


def _level_dict(level: Level) -> dict[str, Any]:
    entry: dict[str, Any] = {"sql_condition": level.sql, "label_for_charts": level.label}
    if level.tf:
        entry.update(tf_adjustment_column=level.tf, tf_adjustment_weight=1.0)
    return entry


def _comparison_dict(comparison: Comparison) -> dict[str, Any]:
    levels = [{"sql_condition": comparison.null_sql, "label_for_charts": "unknown", "is_null_level": True},
              *(_level_dict(level) for level in comparison.levels),
              {"sql_condition": "ELSE", "label_for_charts": "disagrees"}]
    return {"output_column_name": comparison.name, "comparison_levels": levels}


def settings_untrained(*, probability_two_random_records_match: float) -> dict[str, Any]:
    """The Splink settings document for COMPARISONS and BLOCKING_RULES, before any m or u is estimated."""
    return {
        "link_type": "dedupe_only",
        "unique_id_column_name": "unique_id",
        "probability_two_random_records_match": probability_two_random_records_match,
        "comparisons": [_comparison_dict(c) for c in COMPARISONS],
        "blocking_rules_to_generate_predictions": [{"blocking_rule": rule} for rule in BLOCKING_RULES],
        "retain_matching_columns": False,
        "retain_intermediate_calculation_columns": False,
        "additional_columns_to_retain": [],
        "max_iterations": 25,
    }


def evidence_expression(model: dict[str, Any]) -> pl.Expr:
    """The labels of the comparison levels that agree, read from Splink's ``mw_<comparison>`` columns.

    Splink reports each comparison's match weight, log2(m/u) of the level the pair fell in, not the
    level itself; every level of a comparison has its own weight, so the nearest one names it. The
    unknown level weighs 0 and "disagrees" is not evidence of agreement: neither gives a label.
    """
    labels = []
    for comparison in model["comparisons"]:
        weight = pl.col(f"mw_{comparison['output_column_name']}")
        candidates: list[tuple[float, str | None]] = [(0.0, None)]
        for level in comparison["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            agrees = level["sql_condition"] != "ELSE"
            level_weight = math.log2(level["m_probability"] / level["u_probability"])
            candidates.append((level_weight, level["label_for_charts"] if agrees else None))
        distances = [(weight - level_weight).abs() for level_weight, _ in candidates]
        nearest = pl.min_horizontal(distances)
        label = pl.lit(None, dtype=pl.Utf8)
        for distance, (_, name) in reversed(list(zip(distances, candidates, strict=True))):
            label = pl.when(distance == nearest).then(pl.lit(name, dtype=pl.Utf8)).otherwise(label)
        labels.append(label)
    return pl.concat_list(labels).list.drop_nulls()


def weight_columns() -> list[str]:
    return [f"mw_{comparison.name}" for comparison in COMPARISONS]


@cache
def model_load(path: Path = MODEL_PATH) -> dict[str, Any]:
    """The trained model (a Splink settings document with m and u probabilities)."""
    return dict(json.loads(path.read_text()))


def settings_for(model: dict[str, Any], *, link: bool, smaller_side: int, pairs: float) -> dict[str, Any]:
    """The Splink settings to score ``pairs`` pairs with ``model``: its prior scaled to this data's size.

    The prior (the chance that two records picked at random are one person) falls as the data grows:
    a record has about the same number of true matches in a thousand records as in a million. So the
    model keeps the number of true pairs per record seen in training (``matches_per_record``), and the
    prior here is that many pairs per record of the smaller side, over all the pairs there are.
    """
    document = {key: value for key, value in model.items() if key != "vinex"}
    expected_pairs = model["vinex"]["matches_per_record"] * max(smaller_side, 1)
    document["probability_two_random_records_match"] = min(0.5, expected_pairs / max(pairs, 1.0))
    document["link_type"] = "link_only" if link else "dedupe_only"
    # Which pairs to compare is a question of search, not of the trained weights: the code's rules apply.
    document["blocking_rules_to_generate_predictions"] = [{"blocking_rule": rule} for rule in BLOCKING_RULES]
    document["retain_intermediate_calculation_columns"] = True  # the gamma_* columns the evidence is read from
    return document


@contextmanager
def duckdb_offline(*, memory_limit: str, threads: int | None = None) -> Iterator[duckdb.DuckDBPyConnection]:
    """An in-memory DuckDB that cannot install or load extensions: nothing is fetched, ever.

    Past ``memory_limit`` it spills to a temporary folder of its own (not the working directory,
    DuckDB's default), removed with the connection.
    """
    spill = tempfile.mkdtemp(prefix="vinex-linkage-")
    config: dict[str, Any] = {
        "autoinstall_known_extensions": False,
        "autoload_known_extensions": False,
        "allow_community_extensions": False,
        "memory_limit": memory_limit,
        "temp_directory": spill,
    }
    if threads is not None:
        config["threads"] = threads
    import duckdb  # loaded only when used: see engine.model_predict

    connection = duckdb.connect(":memory:", config=config)
    try:
        connection.execute("SET enable_progress_bar = false")  # a session option: it cannot go in config
        yield connection
    finally:
        connection.close()
        shutil.rmtree(spill, ignore_errors=True)


def splink_quiet() -> None:
    """Splink reports each step at INFO; matching is one step of ours, so keep only its warnings."""
    logging.getLogger("splink").setLevel(logging.WARNING)
