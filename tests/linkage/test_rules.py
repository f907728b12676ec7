from __future__ import annotations

import polars as pl

from vinex.linkage.rules import identifier_pairs, pair_rules


def test_same_a_number_links_only_with_agreeing_country_or_birth_date() -> None:
    left = {"a_number": "012345678", "country_of_birth": "MX", "date_of_birth": "1980-03-07"}
    assert pair_rules(left, {**left, "date_of_birth": None}).link == "same_a_number"
    assert pair_rules(left, {**left, "country_of_birth": "GT"}).link == "same_a_number"
    alone = pair_rules(left, {"a_number": "012345678", "country_of_birth": "GT", "date_of_birth": "1979-01-01"})
    assert not alone.linked


def test_fbi_number_and_state_id_within_the_state() -> None:
    assert pair_rules({"fbi_number": "123AB4"}, {"fbi_number": "123AB4"}).linked
    assert pair_rules({"state_id": "77", "state": "tx"}, {"state_id": "77", "state": "tx"}).linked
    assert not pair_rules({"state_id": "77", "state": "tx"}, {"state_id": "77", "state": "ca"}).linked


def test_conflicting_strong_identifiers_block_whatever_else_agrees() -> None:
    left = {"a_number": "012345678", "fbi_number": "123AB4", "country_of_birth": "MX", "date_of_birth": "1980-03-07"}
    other_a = pair_rules(left, {**left, "a_number": "999999999"})
    assert other_a.block == "different_a_numbers" and not other_a.linked
    other_fbi = pair_rules(left, {**left, "fbi_number": "999ZZ9"})
    assert other_fbi.block == "different_fbi_numbers" and not other_fbi.linked


def test_unknown_identifiers_neither_link_nor_block() -> None:
    outcome = pair_rules({"a_number": None}, {"a_number": "012345678"})
    assert outcome.link is None and outcome.block is None


def test_identifier_pairs_within_one_file_come_once_in_order() -> None:
    frame = pl.DataFrame({"unique_id": ["b", "a", "c"], "a_number": ["1", "1", None],
                          "fbi_number": [None, None, None], "state_id": ["s", None, "s"]},
                         schema=dict.fromkeys(["unique_id", "a_number", "fbi_number", "state_id"], pl.Utf8))
    pairs = identifier_pairs(frame, None).sort("unique_id_l", "unique_id_r")
    assert pairs.rows() == [("a", "b"), ("b", "c")]
