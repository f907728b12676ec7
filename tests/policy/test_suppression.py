from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.reports.attack import disclosed
from vinex.policy.suppression import PRIMARY, SECONDARY, SuppressedTable, suppress


def entries(table: SuppressedTable) -> list[tuple[int | None, str]]:
    cells = [(v, m) for row_v, row_m in zip(table.values, table.marks, strict=True)
             for v, m in zip(row_v, row_m, strict=True)]
    totals = [*zip(table.row_totals, table.row_total_marks, strict=True),
              *zip(table.column_totals, table.column_total_marks, strict=True), (table.total, table.total_mark)]
    return [*cells, *totals]


def attack(table: SuppressedTable) -> list[tuple[tuple[int, int], float]]:
    return disclosed(table.values, table.row_totals, table.column_totals, table.total)


def test_counts_from_1_to_10_are_withheld_and_zero_and_large_counts_are_shown() -> None:
    table = suppress([[0, 25, 40], [12, 0, 30], [50, 60, 0]])
    assert table.values == [[0, 25, 40], [12, 0, 30], [50, 60, 0]]
    assert table.row_totals == [65, 42, 110] and table.column_totals == [62, 85, 70] and table.total == 217
    assert all(m == "" for _, m in entries(table))

    small = suppress([[0, 25, 40], [3, 0, 30], [50, 60, 10]])
    assert small.values[1][0] is None and small.marks[1][0] == PRIMARY
    assert small.values[2][2] is None and small.marks[2][2] == PRIMARY
    assert small.values[0][0] == 0 and small.marks[0][0] == ""


def test_a_lone_withheld_cell_takes_the_smallest_non_zero_cell_of_its_line_with_it() -> None:
    # Row 0: 5 is withheld; 5 = 100 - 40 - 55 would give it away, so 40 (the smallest other) goes too.
    table = suppress([[5, 40, 55], [30, 20, 60], [70, 80, 90]])
    assert table.marks[0] == [PRIMARY, SECONDARY, ""]
    assert table.values[0] == [None, None, 55]
    # Column 0 then has one withheld cell too: its smallest other non-zero cell (30) follows.
    assert table.marks[1][0] == SECONDARY
    assert attack(table) == []


def test_a_total_from_1_to_10_is_withheld_too() -> None:
    table = suppress([[4, 0], [0, 0]])
    assert table.row_totals[0] is None and table.column_totals[0] is None and table.total is None
    assert table.values == [[None, 0], [0, 0]]
    assert attack(table) == []


def test_an_empty_quarter_is_all_zeros_and_nothing_is_withheld() -> None:
    table = suppress([[0, 0], [0, 0]])
    assert table.values == [[0, 0], [0, 0]] and table.total == 0
    assert all(m == "" for _, m in entries(table))


def test_a_withheld_entry_linking_two_blocks_is_protected_too() -> None:
    # Two blocks of small cells joined by one cell: no line holds a single withheld cell, yet the joining
    # cell is the difference of the two blocks' sums; the rule gives it a companion.
    matrix = [[5, 5, 0, 0, 20], [5, 5, 3, 0, 20], [0, 0, 5, 5, 20], [0, 0, 5, 5, 20], [30, 30, 30, 30, 30]]
    table = suppress(matrix)
    assert table.values[1][2] is None
    assert attack(table) == []


def test_rows_of_different_lengths_and_negative_counts_are_refused() -> None:
    with pytest.raises(ValueError, match="same number of columns"):
        suppress([[1, 2], [3]])
    with pytest.raises(ValueError, match="negative"):
        suppress([[1, -2]])


matrices = st.integers(1, 6).flatmap(lambda cols: st.lists(
    st.lists(st.one_of(st.integers(0, 12), st.integers(0, 200)), min_size=cols, max_size=cols),
    min_size=1, max_size=6))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(matrices)
def test_no_withheld_count_can_be_worked_out_by_linear_programming(matrix: list[list[int]]) -> None:
    table = suppress(matrix)
    for (value, mark), true in zip(entries(table), entries(suppress(matrix, threshold=0)), strict=True):
        true_value = true[0]
        assert true_value is not None
        assert (value is None) == bool(mark)
        assert mark != PRIMARY or 1 <= true_value <= 10
        if 1 <= true_value <= 10:
            assert mark == PRIMARY
        if true_value == 0:
            assert value == 0  # zero is always shown
        if value is not None:
            assert value == true_value
    assert attack(table) == []
