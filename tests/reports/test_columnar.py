"""The report read column by column (outside a transaction, on a second connection) gives the same bytes as
the report read through Django's cursor."""

from __future__ import annotations

import pytest

from tests.reports.fixtures import quarter_of_activity
from vinex.custody.models import Agency
from vinex.reports import facts
from vinex.reports.compute import report_compute
from vinex.reports.render import dumps, report_document, table_csv

pytestmark = pytest.mark.django_db(transaction=True)


def test_the_columnar_read_and_the_cursor_read_give_the_same_report(agency: Agency, other_agency: Agency,
                                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    activity = quarter_of_activity(agency, other_agency)
    assert facts._columnar_uri() is not None, "committed data on a file or server database is read columnar"
    columnar = report_compute(quarter=activity.quarter)
    assert columnar.tables["events_by_agency_type"]["total"], "the fixture's quarter has events"
    monkeypatch.setattr(facts, "_columnar_uri", lambda: None)
    cursor = report_compute(quarter=activity.quarter)
    assert dumps(report_document(columnar)) == dumps(report_document(cursor))
    assert [table_csv(t) for t in columnar.tables.values()] == [table_csv(t) for t in cursor.tables.values()]
    assert dumps(columnar.quality) == dumps(cursor.quality)
    assert columnar.input_hash == cursor.input_hash


def test_parameters_become_literals_with_quotes_doubled() -> None:
    assert facts._inline("a = %s AND b = %s AND strftime('%%s', c)", [3, "it's"]) == (
        "a = 3 AND b = 'it''s' AND strftime('%s', c)")
    with pytest.raises(TypeError):
        facts._inline("a = %s", [1.5])
