"""Small-cell suppression: the one rule every published table of counts goes through.

A table is a matrix of non-negative counts with its row totals, column totals and grand total. What is
published must not let anyone work out a count from 1 to 10 (a count that small can identify a person):

1. **Primary**: every count from 1 to ``threshold - 1`` (a cell or a total) is withheld; zero is shown.
2. **Complementary (secondary)**: wherever a row or a column, with its total, has exactly one withheld
   entry, that entry would be its total minus the others; so the smallest non-zero published cell of that
   line is withheld too (its total when no cell is left). Repeat until no line has exactly one.
3. The same arithmetic works across lines: a withheld entry is exactly known whenever it is a *bridge* of
   the graph whose nodes are the lines and whose edges are the withheld entries (sum the equations on one
   side of it and every other withheld entry cancels). Such an entry gets a companion that closes a cycle
   through it. Every withheld entry then lies on a cycle of withheld, positive entries, and moving the
   entries of that cycle by +1/-1 in turn keeps every published number: no withheld count is pinned down,
   even by linear programming (``tests/policy/test_suppression.py`` attacks it with ``linprog``).

Totals take part as entries: the row totals form one more column (the line of the grand total), the column
totals one more row. ``suppress`` is pure and knows nothing of what is counted.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

THRESHOLD = 11

PRIMARY = "primary"
SECONDARY = "secondary"

# An entry of the extended table: (row, column), where row == n_rows is the column totals' row and
# column == n_cols is the row totals' column; (n_rows, n_cols) is the grand total.
Entry = tuple[int, int]


@dataclass(frozen=True)
class SuppressedTable:
    """A table as published: ``None`` where withheld, with the reason (``""``, ``"primary"``, ``"secondary"``)."""

    values: list[list[int | None]]
    marks: list[list[str]]
    row_totals: list[int | None]
    row_total_marks: list[str]
    column_totals: list[int | None]
    column_total_marks: list[str]
    total: int | None
    total_mark: str


def suppress(matrix: Sequence[Sequence[int]], *, threshold: int = THRESHOLD) -> SuppressedTable:
    """Apply the suppression rule to ``matrix`` (rows of non-negative counts, all rows the same length).

    Totals are the sums of the matrix. Returns the published values and the marks of what was withheld.
    """
    n_rows = len(matrix)
    n_cols = len(matrix[0]) if n_rows else 0
    if any(len(row) != n_cols for row in matrix):
        raise ValueError("every row must have the same number of columns")
    if any(v < 0 for row in matrix for v in row):
        raise ValueError("counts cannot be negative")
    full = _extended(matrix, n_rows, n_cols)
    marks = {e: PRIMARY for e, v in full.items() if 0 < v < threshold}
    _complete(full, marks, n_rows, n_cols)
    return _published(full, marks, n_rows, n_cols)


def _extended(matrix: Sequence[Sequence[int]], n_rows: int, n_cols: int) -> dict[Entry, int]:
    full: dict[Entry, int] = {}
    for i, row in enumerate(matrix):
        for j, value in enumerate(row):
            full[(i, j)] = int(value)
        full[(i, n_cols)] = sum(int(v) for v in row)
    for j in range(n_cols):
        full[(n_rows, j)] = sum(int(matrix[i][j]) for i in range(n_rows))
    full[(n_rows, n_cols)] = sum(full[(i, n_cols)] for i in range(n_rows))
    return full


def _complete(full: dict[Entry, int], marks: dict[Entry, str], n_rows: int, n_cols: int) -> None:
    """Add secondary suppressions until no withheld entry can be worked out from the published ones."""
    while True:
        if _lone_entries_cover(full, marks, n_rows, n_cols):
            continue
        if not _bridges_close(full, marks, n_rows, n_cols):
            return


def _lines(n_rows: int, n_cols: int) -> list[tuple[list[Entry], list[Entry]]]:
    """Every line as (its cells, its total); the totals' own row and column have the grand total."""
    lines: list[tuple[list[Entry], list[Entry]]] = []
    for i in range(n_rows + 1):
        lines.append(([(i, j) for j in range(n_cols)], [(i, n_cols)]))
    for j in range(n_cols + 1):
        lines.append(([(i, j) for i in range(n_rows)], [(n_rows, j)]))
    return lines


def _smallest(full: dict[Entry, int], marks: dict[Entry, str], entries: Sequence[Entry]) -> Entry | None:
    candidates = [e for e in entries if e not in marks and full[e] > 0]
    return min(candidates, key=lambda e: (full[e], e)) if candidates else None


def _lone_entries_cover(full: dict[Entry, int], marks: dict[Entry, str], n_rows: int, n_cols: int) -> bool:
    """The rule as written: a line with exactly one withheld entry loses its smallest non-zero cell too."""
    changed = False
    for cells, total in _lines(n_rows, n_cols):
        withheld = [e for e in (*cells, *total) if e in marks]
        if len(withheld) != 1:
            continue
        companion = _smallest(full, marks, cells) or _smallest(full, marks, total)
        if companion is not None:
            marks[companion] = SECONDARY
            changed = True
    return changed


def _bridges_close(full: dict[Entry, int], marks: dict[Entry, str], n_rows: int, n_cols: int) -> bool:
    """Give one withheld entry that is a bridge a companion closing a cycle through it; False if none is."""
    for bridge in sorted(_bridges(list(marks))):
        near = _side(list(marks), ("r", bridge[0]), bridge)
        far = _side(list(marks), ("c", bridge[1]), bridge)
        # Best an entry joining the two sides (it closes the cycle at once), else one leading away from the
        # near side (the next round goes on from there).
        joining = [e for e in full if e != bridge and ((("r", e[0]) in near and ("c", e[1]) in far)
                                                       or (("r", e[0]) in far and ("c", e[1]) in near))]
        leaving = [e for e in full if e != bridge and (("r", e[0]) in near) != (("c", e[1]) in near)]
        companion = _smallest(full, marks, joining) or _smallest(full, marks, leaving)
        if companion is not None:
            marks[companion] = SECONDARY
            return True
    return False


def _adjacency(edges: Sequence[Entry]) -> dict[tuple[str, int], list[tuple[tuple[str, int], int]]]:
    graph: dict[tuple[str, int], list[tuple[tuple[str, int], int]]] = {}
    for k, (i, j) in enumerate(edges):
        graph.setdefault(("r", i), []).append((("c", j), k))
        graph.setdefault(("c", j), []).append((("r", i), k))
    return graph


def _bridges(edges: list[Entry]) -> list[Entry]:
    """The edges on no cycle (Tarjan's low-link, iteratively: tables may have thousands of rows)."""
    graph = _adjacency(edges)
    order: dict[tuple[str, int], int] = {}
    low: dict[tuple[str, int], int] = {}
    found: list[Entry] = []
    for root in sorted(graph):
        if root in order:
            continue
        order[root] = low[root] = len(order)
        stack: list[tuple[tuple[str, int], int, int]] = [(root, -1, 0)]
        while stack:
            node, via, index = stack[-1]
            if index < len(graph[node]):
                stack[-1] = (node, via, index + 1)
                neighbour, k = graph[node][index]
                if k == via:
                    continue
                if neighbour in order:
                    low[node] = min(low[node], order[neighbour])
                else:
                    order[neighbour] = low[neighbour] = len(order)
                    stack.append((neighbour, k, 0))
                continue
            stack.pop()
            if stack:
                parent = stack[-1][0]
                low[parent] = min(low[parent], low[node])
                if low[node] > order[parent]:
                    found.append(edges[via])
    return found


def _side(edges: list[Entry], start: tuple[str, int], bridge: Entry) -> set[tuple[str, int]]:
    """The nodes still joined to ``start`` (an end of the bridge) once the bridge is taken away."""
    graph = _adjacency([e for e in edges if e != bridge])
    seen = {start}
    todo = [start]
    while todo:
        for neighbour, _k in graph.get(todo.pop(), []):
            if neighbour not in seen:
                seen.add(neighbour)
                todo.append(neighbour)
    return seen


def _published(full: dict[Entry, int], marks: dict[Entry, str], n_rows: int, n_cols: int) -> SuppressedTable:
    def value(e: Entry) -> int | None:
        return None if e in marks else full[e]

    return SuppressedTable(
        values=[[value((i, j)) for j in range(n_cols)] for i in range(n_rows)],
        marks=[[marks.get((i, j), "") for j in range(n_cols)] for i in range(n_rows)],
        row_totals=[value((i, n_cols)) for i in range(n_rows)],
        row_total_marks=[marks.get((i, n_cols), "") for i in range(n_rows)],
        column_totals=[value((n_rows, j)) for j in range(n_cols)],
        column_total_marks=[marks.get((n_rows, j), "") for j in range(n_cols)],
        total=value((n_rows, n_cols)),
        total_mark=marks.get((n_rows, n_cols), ""),
    )
