"""The attack a disclosure-control rule must survive: linear programming on what a table publishes.

For every withheld number, find the smallest and the largest value consistent with the published cells and
totals (all counts non-negative). If the two are equal, the number has been disclosed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from scipy.optimize import linprog

Entry = tuple[int, int]


def disclosed(values: Sequence[Sequence[int | None]], row_totals: Sequence[int | None],
              column_totals: Sequence[int | None], total: int | None) -> list[tuple[Entry, float]]:
    """The withheld entries of the extended table (row ``len(values)`` holds the column totals, column
    ``len(columns)`` the row totals) whose value linear programming pins down, with that value."""
    n_rows, n_cols = len(values), len(column_totals)
    table: dict[Entry, int | None] = {}
    for i in range(n_rows):
        for j in range(n_cols):
            table[(i, j)] = values[i][j]
        table[(i, n_cols)] = row_totals[i]
    for j in range(n_cols):
        table[(n_rows, j)] = column_totals[j]
    table[(n_rows, n_cols)] = total
    unknown = sorted(e for e, v in table.items() if v is None)
    if not unknown:
        return []
    index = {e: k for k, e in enumerate(unknown)}
    equations: list[tuple[list[tuple[Entry, int]], Entry]] = []
    for i in range(n_rows + 1):
        equations.append(([((i, j), 1) for j in range(n_cols)], (i, n_cols)))
    for j in range(n_cols + 1):
        equations.append(([((i, j), 1) for i in range(n_rows)], (n_rows, j)))
    a_eq, b_eq = [], []
    for cells, total_entry in equations:
        coefficients = np.zeros(len(unknown))
        rhs = 0.0
        for entry, sign in [*cells, (total_entry, -1)]:
            value = table[entry]
            if value is None:
                coefficients[index[entry]] += sign
            else:
                rhs -= sign * value
        if coefficients.any():
            a_eq.append(coefficients)
            b_eq.append(rhs)
    found: list[tuple[Entry, float]] = []
    for entry, k in index.items():
        objective = np.zeros(len(unknown))
        objective[k] = 1
        low = linprog(objective, A_eq=a_eq or None, b_eq=b_eq or None, bounds=(0, None), method="highs")
        high = linprog(-objective, A_eq=a_eq or None, b_eq=b_eq or None, bounds=(0, None), method="highs")
        assert low.status == 0, f"the published table is inconsistent: {low.message}"
        if high.status == 3:  # unbounded: certainly not disclosed
            continue
        if abs(-high.fun - low.fun) < 1e-6:
            found.append((entry, low.fun))
    return found


def table_disclosed(table: dict[str, Any]) -> list[tuple[Entry, float]]:
    """``disclosed`` for a table of report.json (the latency table: its column of counts)."""
    if table["columns"][:1] == ["n"] and all(t is None for t in table["row_totals"]):
        n = [[row[0]] for row in table["values"]]
        return disclosed(n, [row[0] for row in n], table["column_totals"][:1], table["total"])
    return disclosed(table["values"], table["row_totals"], table["column_totals"], table["total"])
