"""Each locator search reads one index of subjects instead of scanning the table (a scan of millions of
people per search would make the public search unusable).

Checked on SQLite, whose planner picks an index by the query's conditions alone. PostgreSQL's picks among
usable indexes by their statistics, which a table of a few rows does not have: its choice there says
nothing about a table of millions."""

from __future__ import annotations

from datetime import date
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.locator.people import book
from vinex.custody.models import Agency
from vinex.locator.selectors import ByANumber, ByName, LocatorQuery, locator_search


def _search_plan(query: LocatorQuery) -> str:
    """The database's plan of the statement ``locator_search`` runs to find the matching subjects."""
    with CaptureQueriesContext(connection) as captured:
        results = locator_search(query=query)
    assert results, "the person searched for is found"
    sql = next(q["sql"] for q in captured.captured_queries if "ORDER BY s.status_changed_at" in q["sql"])
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN QUERY PLAN {sql}")
        rows: list[Any] = cursor.fetchall()
    return "\n".join(str(row[-1]) for row in rows)


@pytest.mark.parametrize(("query", "index"), [
    (ByANumber("123456789", "MX"), "subject_a_number"),
    (ByName("María José", "García Núñez", "MX"), "subject_name_birth_country"),
    (ByName("María José", "García Núñez", "MX", date(1980, 5, 17)), "subject_name_birth_country"),
])
def test_search_reads_the_subjects_index_of_its_kind(agency: Agency, query: LocatorQuery, index: str) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL chooses among indexes by statistics that a table of a few rows does not have")
    book(agency, "S1")
    book(agency, "S2", first_name="Ana", last_name="Ruiz", a_number=None, date_of_birth=date(1975, 1, 2))

    plan = _search_plan(query)

    assert index in plan, plan
