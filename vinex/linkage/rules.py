"""Deterministic rules, decided before any probability (pure: over pairs of normalised records).

Each rule is stated once, as the features that must agree or differ, and read two ways: as polars
expressions over a pair frame, which holds each feature twice, ``<feature>_l`` and ``<feature>_r``
(``rules_apply``, for the model and ``vinex linkage match``), and in plain Python for one pair
(``pair_rules``, for ingest, which must not pay for building frames). A link rule says "these are one
person" outright; a block rule says "these cannot be one person", and a block wins over everything,
names included: two different A-numbers are two people however alike they look.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import polars as pl


@dataclass(frozen=True)
class Rule:
    """A rule stated once as features, read both as a polars expression (``condition``, over pair frames)
    and in plain Python (``holds``, over one pair of records: ingest decides without building a frame)."""

    code: str  # stable, stored with a link and shown to reviewers
    description: str
    same: tuple[str, ...] = ()  # a link rule: every one of these known on both sides and equal
    same_any: tuple[str, ...] = ()  # ... and, when given, at least one of these too
    different: tuple[str, ...] = ()  # a block rule: one of these known on both sides and different

    @property
    def condition(self) -> pl.Expr:
        parts = [_same(f) for f in self.same]
        if self.same_any:
            parts.append(_any(_same(f) for f in self.same_any))
        if self.different:
            parts.append(_any(_different(f) for f in self.different))
        condition = parts[0]
        for part in parts[1:]:
            condition = condition & part
        return condition

    def holds(self, left: Mapping[str, Any], right: Mapping[str, Any]) -> bool:
        if not all(_same_value(left.get(f), right.get(f)) for f in self.same):
            return False
        if self.same_any and not any(_same_value(left.get(f), right.get(f)) for f in self.same_any):
            return False
        return not self.different or any(_different_value(left.get(f), right.get(f)) for f in self.different)


def _both(feature: str) -> pl.Expr:
    return pl.col(f"{feature}_l").is_not_null() & pl.col(f"{feature}_r").is_not_null()


def _same(feature: str) -> pl.Expr:
    return _both(feature) & (pl.col(f"{feature}_l") == pl.col(f"{feature}_r"))


def _different(feature: str) -> pl.Expr:
    return _both(feature) & (pl.col(f"{feature}_l") != pl.col(f"{feature}_r"))


def _any(expressions: Iterable[pl.Expr]) -> pl.Expr:
    chosen = list(expressions)
    condition = chosen[0]
    for expression in chosen[1:]:
        condition = condition | expression
    return condition


def _same_value(left: object, right: object) -> bool:
    return left is not None and right is not None and left == right


def _different_value(left: object, right: object) -> bool:
    return left is not None and right is not None and left != right


# In order: the first rule that holds names the link.
LINK_RULES = (
    Rule("same_a_number", "same A-number, and the same country or date of birth",
         same=("a_number",), same_any=("country_of_birth", "date_of_birth")),
    Rule("same_fbi_number", "same FBI number", same=("fbi_number",)),
    Rule("same_state_id", "same state id in the same state", same=("state_id", "state")),
)
BLOCK_RULES = (
    Rule("different_a_numbers", "two different A-numbers", different=("a_number",)),
    Rule("different_fbi_numbers", "two different FBI numbers", different=("fbi_number",)),
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
    """The rules for one pair of normalised records (mappings of feature → value; unknown is None or absent),
    in plain Python: the same answer as ``rules_apply`` on a frame of that pair."""
    return RuleOutcome(link=next((r.code for r in LINK_RULES if r.holds(left, right)), None),
                       block=next((r.code for r in BLOCK_RULES if r.holds(left, right)), None))


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
