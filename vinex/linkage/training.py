"""Training the model on the synthetic population (``vinex linkage train``), seeded and reproducible.

The m probabilities (how often each level occurs between records of one person) come from the
synthetic truth; the u probabilities (how often between two different people) from random pairs of
the same data. Nothing here sees FEBRL or any real record, so the benchmark stays a fair hold-out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import polars as pl
from splink import DuckDBAPI, Linker

from vinex.linkage import model as linkage_model
from vinex.linkage.features import features_build
from vinex.linkage.synthetic import population_generate

TRAIN_PEOPLE = 30_000
TRAIN_SEED = 20261204
U_SAMPLE_PAIRS = 5_000_000
# A level never seen in training gets this many pretend observations instead of a zero, so that one
# unseen level cannot make a pair certain or impossible.
_FLOOR_COUNT = 0.5


@dataclass(frozen=True)
class Training:
    model: dict[str, Any]
    records: int
    true_pairs: int


def _true_pairs(records: pl.DataFrame) -> int:
    sizes = records.group_by("person_id").len()["len"]
    return int((sizes * (sizes - 1) // 2).sum())


def _floored(document: dict[str, Any], *, matches: int, non_matches: float) -> dict[str, Any]:
    """Every level with an m and a u above zero (an untrained level would otherwise stop prediction)."""
    for comparison in document["comparisons"]:
        for level in comparison["comparison_levels"]:
            if level.get("is_null_level"):
                continue
            level["m_probability"] = max(level.get("m_probability") or 0.0, _FLOOR_COUNT / matches)
            level["u_probability"] = max(level.get("u_probability") or 0.0, _FLOOR_COUNT / non_matches)
    return document


def model_train(*, people: int = TRAIN_PEOPLE, seed: int = TRAIN_SEED, memory_limit: str = "2GB") -> Training:
    """A model trained on ``people`` synthetic people drawn with ``seed``; the same arguments give the same model."""
    linkage_model.splink_quiet()
    records = population_generate(people=people, seed=seed)
    features = features_build(records).with_columns(person_id=records["person_id"])
    true_pairs = _true_pairs(records)
    all_pairs = records.height * (records.height - 1) / 2
    settings = linkage_model.settings_untrained(probability_two_random_records_match=true_pairs / all_pairs)
    # One thread: DuckDB's sampling is repeatable for a seed only when one thread draws it.
    with linkage_model.duckdb_offline(memory_limit=memory_limit, threads=1) as connection:
        api = DuckDBAPI(connection)
        # u from one record per person, any of them (copies carry the errors originals lack), so that
        # no pair of the sample is secretly one person.
        originals = features.sample(fraction=1.0, shuffle=True, seed=seed).unique("person_id", keep="first",
                                                                                  maintain_order=True)
        linker = Linker(api.register(originals.to_arrow(), table_name="originals"), settings, log_level=None)
        linker.training.estimate_u_using_random_sampling(max_pairs=U_SAMPLE_PAIRS, seed=seed)
        with_u = linker.misc.save_model_to_json()
        linker = Linker(api.register(features.to_arrow(), table_name="records"), with_u, log_level=None)
        linker.training.estimate_m_from_label_column("person_id")
        document = linker.misc.save_model_to_json()
    document = _floored(document, matches=true_pairs, non_matches=U_SAMPLE_PAIRS)
    document.pop("linker_uid", None)  # a random id: it would make every training differ
    # Blocking rules are read from the code at run time (model.settings_for); a copy here would go stale.
    document.pop("blocking_rules_to_generate_predictions", None)
    document["vinex"] = {"matches_per_record": true_pairs / records.height, "trained_with": {
        "command": f"vinex linkage train --people {people} --seed {seed}", "people": people, "seed": seed,
        "records": records.height, "true_pairs": true_pairs, "u_sample_pairs": U_SAMPLE_PAIRS}}
    return Training(model=document, records=records.height, true_pairs=true_pairs)
