"""Latency percentiles from one sorted array of keys are the percentiles of each agency's values sorted apart."""

from __future__ import annotations

import numpy as np
import polars as pl
from hypothesis import given, settings
from hypothesis import strategies as st

from vinex.reports.compute import _latencies_grouped, _latency_keys, _percentiles

latencies = st.lists(st.tuples(st.integers(1, 6), st.integers(-5_000, 2**40)), max_size=60)


@settings(max_examples=200, deadline=None)
@given(latencies)
def test_percentiles_by_agency_and_overall_are_those_of_a_sort_per_agency(pairs: list[tuple[int, int]]) -> None:
    agency = np.array([a for a, _ in pairs], dtype=np.int32)
    ms = np.array([m for _, m in pairs], dtype=np.int64)
    by_frames = _latencies_grouped(pl.DataFrame({"agency_id": agency.astype(np.int64), "ms": ms}))
    keys = _latency_keys(agency, ms)
    assert keys is not None
    by_keys = _percentiles(keys)
    assert by_keys.overall == by_frames.overall
    assert by_keys.per_agency.sort("agency_id").rows() == by_frames.per_agency.sort("agency_id").rows()
    assert sum(by_keys.per_agency["n"]) == len(pairs)


def test_a_latency_beyond_a_key_is_refused() -> None:
    assert _latency_keys(np.array([1], dtype=np.int32), np.array([2**41], dtype=np.int64)) is None
    assert _latency_keys(np.array([2**20], dtype=np.int32), np.array([0], dtype=np.int64)) is None
