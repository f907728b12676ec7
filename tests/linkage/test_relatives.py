"""The guard under ``in_view``: a pair that looks like two relatives waits only when a relative is in view.

Real rules, the committed model, Splink on DuckDB; nothing mocked.
"""

from __future__ import annotations

from typing import Any

import polars as pl
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from vinex.linkage.engine import NO_RELATIVE_IN_VIEW, RELATIVE_IN_VIEW, pairs_score
from vinex.linkage.features import INPUT_COLUMNS
from vinex.linkage.guards import ALWAYS, IN_VIEW, OFF

from .test_engine import _frame, _with_background

_NO_SHRINK = (Phase.explicit, Phase.reuse, Phase.generate)
_DANIEL = {"first_name": "Daniel", "last_name": "Boothroyd", "date_of_birth": "1990-09-04", "country_of_birth": "US",
           "sex": "m", "street": "12 Southern Close", "city": "Dapto", "postcode": "2530"}
_TWIN = {**_DANIEL, "first_name": "Lachlan"}  # his brother: one surname, birthday and address, another name
_FATHER = {**_DANIEL, "date_of_birth": "1961-02-11"}  # the father Daniel Jr was named after


def _pair(left: list[dict[str, Any]], right: list[dict[str, Any]], *, guard: str = IN_VIEW) -> dict[str, Any]:
    """The decision on ``a`` (in ``left``) and ``b`` (in ``right``): decision and evidence."""
    pairs = pairs_score(_with_background(left), _frame(right), guard=guard)
    found = pairs.filter((pl.col("left_id") == "a") & (pl.col("right_id") == "b"))
    assert found.height == 1, pairs
    return found.row(0, named=True)


def test_a_twin_alone_links_and_his_evidence_says_what_looks_like_a_relative() -> None:
    pair = _pair([{**_DANIEL, "record_id": "a"}], [{**_TWIN, "record_id": "b"}])
    assert pair["probability"] >= 0.999
    assert pair["decision"] == "link"
    assert pair["contradiction"] == "first names agree at no level"
    assert {"looks like relatives: first names agree at no level", NO_RELATIVE_IN_VIEW} <= set(pair["evidence"])


def test_the_same_pair_waits_when_the_twins_own_record_is_in_view() -> None:
    # The twin's record in the same file as his brother's: two people live there, "b" may be either.
    pair = _pair([{**_DANIEL, "record_id": "a"}, {**_TWIN, "record_id": "twin"}], [{**_TWIN, "record_id": "b"}])
    assert pair["decision"] == "review"
    assert RELATIVE_IN_VIEW in pair["evidence"]


def test_the_strict_guard_always_waits_and_off_always_links() -> None:
    alone = ([{**_DANIEL, "record_id": "a"}], [{**_TWIN, "record_id": "b"}])
    assert _pair(*alone, guard=ALWAYS)["decision"] == "review"
    in_view = ([{**_DANIEL, "record_id": "a"}, {**_TWIN, "record_id": "twin"}], [{**_TWIN, "record_id": "b"}])
    assert _pair(*in_view, guard=OFF)["decision"] == "link"


def test_a_father_beside_the_son_named_after_him_keeps_the_son_apart() -> None:
    son = {**_DANIEL, "record_id": "a"}
    father = {**_FATHER, "record_id": "b"}
    pairs = pairs_score(_with_background([son, {**_FATHER, "record_id": "father", "street": None}]),
                        _frame([father]))
    decisions = pairs.filter(pl.col("left_id") == "a")["decision"].to_list()
    assert decisions in ([], ["review"])


def test_another_record_of_the_same_person_is_no_relative() -> None:
    # A birthday left out beside one household: a junior? Another record of Daniel himself (a nickname, a
    # new town, his birthday) shows nobody else lives there, so the pair links.
    left = [{**_DANIEL, "record_id": "a"}]
    right: list[dict[str, Any]] = [{**_DANIEL, "record_id": "b", "date_of_birth": None},
             {**_DANIEL, "record_id": "again", "first_name": "Dan", "street": "3 Hill Road", "city": "Wollongong",
              "postcode": "2500"}]
    pair = _pair(left, right)
    assert pair["contradiction"] == "one household, a birthday missing"
    assert pair["decision"] == "link"


_STYLES = [str.upper, str.lower, str.title, lambda s: f"  {s} "]


@settings(max_examples=10, deadline=None, suppress_health_check=[HealthCheck.too_slow], phases=_NO_SHRINK)
@given(where=st.sampled_from(["nowhere", "left", "right"]), twin_name=st.sampled_from(["Lachlan", "Mario", "Owen"]),
       style=st.sampled_from(range(len(_STYLES))), street_known=st.booleans())
def test_a_pair_that_looks_like_twins_waits_exactly_when_the_other_twin_is_in_view(
        where: str, twin_name: str, style: int, street_known: bool) -> None:
    """Wherever the other twin's own record is (the same file as either side, written any way), the pair waits;
    without it, it links. A household is found by its street, or by its birthday when a street is missing."""
    styled = _STYLES[style]
    twin = {**_DANIEL, "first_name": styled(twin_name), "last_name": styled(_DANIEL["last_name"]),
            "street": _DANIEL["street"] if street_known else None}
    left: list[dict[str, Any]] = [{**_DANIEL, "record_id": "a"}]
    right: list[dict[str, Any]] = [{**_DANIEL, "first_name": twin_name, "record_id": "b"}]
    if where == "left":
        left.append({**twin, "record_id": "twin"})
    elif where == "right":
        right.append({**twin, "record_id": "twin"})
    pair = _pair(left, right)
    assert pair["decision"] == ("link" if where == "nowhere" else "review"), (where, twin)


def test_people_known_as_one_are_never_each_others_relatives() -> None:
    # The product's candidates: two subjects already one person are his records, not a relative's.
    left = _with_background([{**_DANIEL, "record_id": "a"}, {**_TWIN, "record_id": "c"}])
    right = _frame([{**_TWIN, "record_id": "b"}])
    one = {"a": "1", "c": "1", "b": "2"}
    pairs = pairs_score(left, right, guard=IN_VIEW, people=one)
    assert pairs.filter((pl.col("left_id") == "a") & (pl.col("right_id") == "b"))["decision"].to_list() == ["link"]
    assert set(INPUT_COLUMNS) >= {"street", "city", "postcode"}
