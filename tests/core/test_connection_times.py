"""PostgreSQL's times are read by psycopg's compiled loader, with the value and zone Django's own gives."""

from __future__ import annotations

import datetime

import pytest
from django.db import connection
from django.db.backends.postgresql.psycopg_any import register_tzloader

from vinex.core.connections import utc_time_loader
from vinex.custody.models import Agency

pytestmark = pytest.mark.django_db

_TIMES = "SELECT '2026-03-08 01:59:59.5-05'::timestamptz, '1999-12-31 23:00:00+14'::timestamptz, NULL::timestamptz"


def _read() -> list[tuple[datetime.datetime | None, ...]]:
    with connection.cursor() as cursor:
        cursor.execute(_TIMES)
        return cursor.fetchall()


@pytest.fixture
def postgres() -> None:
    if connection.vendor != "postgresql":
        pytest.skip("the loader is PostgreSQL's driver's")


def test_times_read_as_django_reads_them(postgres: None) -> None:
    compiled = _read()
    register_tzloader(connection.timezone, connection.connection)  # Django's own, for this connection only
    try:
        django_read = _read()
    finally:
        connection.connection.adapters.register_loader("timestamptz", utc_time_loader())
    assert compiled == django_read == [(datetime.datetime(2026, 3, 8, 6, 59, 59, 500000, tzinfo=datetime.UTC),
                                        datetime.datetime(1999, 12, 31, 9, 0, tzinfo=datetime.UTC), None)]
    assert all(value.tzinfo is datetime.UTC for value in compiled[0] if value is not None)


def test_a_model_time_comes_back_in_utc(postgres: None) -> None:
    created = Agency.objects.create(code="pine", name="Pine", jurisdiction_code="US-XX-001")
    assert Agency.objects.get(pk=created.pk).created_at == created.created_at
    assert Agency.objects.get(pk=created.pk).created_at.tzinfo is datetime.UTC


def test_the_compiled_loader_is_the_one_in_use(postgres: None) -> None:
    loader = connection.connection.adapters.get_loader(1184, 0)  # timestamptz, text
    assert loader is not None and loader.__name__ == "UtcTimeLoader"
