"""Deterministic rules, decided before any probability (pure: polars expressions over pairs of records).

A pair frame holds each normalised feature twice, ``<feature>_l`` and ``<feature>_r``. A link rule
says "these are one person" outright; a block rule says "these cannot be one person", and a block
wins over everything, names included: two different A-numbers are two people however alike they look.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl


@dataclass(frozen=True)
class Rule:
    code: str  # stable, stored with a link and shown to reviewers
    description: str
    condition: pl.Expr


def _both(feature: str) -> pl.Expr:
    return pl.col(f"{feature}_l").is_not_null() & pl.col(f"{feature}_r").is_not_null()


def _same(feature: str) -> pl.Expr:
    return _both(feature) & (pl.col(f"{feature}_l") == pl.col(f"{feature}_r"))


def _different(feature: str) -> pl.Expr:
    return _both(feature) & (pl.col(f"{feature}_l") != pl.col(f"{feature}_r"))


# In order: the first rule that holds names the link.
LINK_RULES = (
    Rule("same_a_number", "same A-number, and the same country or date of birth",
         _same("a_number") & (_same("country_of_birth") | _same("date_of_birth"))),
    Rule("same_fbi_number", "same FBI number", _same("fbi_number")),
    Rule("same_state_id", "same state id in the same state", _same("state_id") & _same("state")),
)
BLOCK_RULES = (
    Rule("different_a_numbers", "two different A-numbers", _different("a_number")),
    Rule("different_fbi_numbers", "two different FBI numbers", _different("fbi_number")),
)
RULE_FEATURES = ("a_number", "fbi_number", "state_id", "state", "country_of_birth", "date_of_birth")


def _first_holding(rules: tuple[Rule, ...]) -> pl.Expr:
    expression = pl.lit(None, dtype=pl.Utf8)
    for rule in reversed(rules):
        expression = pl.when(rule.condition.fill_null(False)).then(pl.lit(rule.code)).otherwise(expression)
    return expression


def rules_apply(pairs: pl.DataFrame) -> pl.DataFrame:
    """``pairs`` with two more columns: ``rule_link`` and ``rule_block``, each a rule code or null."""
    return pairs.with_columns(rule_link=_first_holding(LINK_RULES), rule_block=_first_holding(BLOCK_RULES))


@dataclass(frozen=True)
class RuleOutcome:
    link: str | None  # the code of the link rule that holds
    block: str | None  # the code of the block rule that holds; it overrides any link

    @property
    def linked(self) -> bool:
        return self.link is not None and self.block is None


def pair_rules(left: Mapping[str, Any], right: Mapping[str, Any]) -> RuleOutcome:
    """The rules for one pair of normalised records (mappings of feature → value)."""
    row = {f"{feature}_{side}": [record.get(feature)] for feature in RULE_FEATURES
           for side, record in (("l", left), ("r", right))}
    decided = rules_apply(pl.DataFrame(row, schema={name: pl.Utf8 for name in row}))
    return RuleOutcome(link=decided["rule_link"][0], block=decided["rule_block"][0])


def identifier_pairs(left: pl.DataFrame, right: pl.DataFrame | None) -> pl.DataFrame:
    """Pairs sharing an A-number, an FBI number or a state id (ids ``unique_id_l``, ``unique_id_r``).

    Every deterministic link is among them, whatever the model thinks of the names. With ``right`` None
    the pairs are within ``left``, each once, with ``unique_id_l < unique_id_r``.
    """
    other = left if right is None else right
    found = []
    for key in ("a_number", "fbi_number", "state_id"):
        lhs = left.select("unique_id", key).drop_nulls(key)
        rhs = other.select("unique_id", key).drop_nulls(key)
        joined = lhs.join(rhs, on=key, suffix="_r").rename({"unique_id": "unique_id_l"})
        found.append(joined.select("unique_id_l", "unique_id_r"))
    pairs = pl.concat(found).unique()
    if right is None:
        pairs = pairs.filter(pl.col("unique_id_l") < pl.col("unique_id_r"))
    return pairs
