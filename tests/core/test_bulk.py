from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

import pytest
from django.db import connection

from tests.actors import ACTOR
from vinex.core.bulk import UnsupportedField, ids_reserve, rows_insert, rows_prepare, rows_select, rows_update
from vinex.custody.models import Agency, Person, Subject
from vinex.notify.models import Contact
from vinex.notify.services import registrant_create

pytestmark = pytest.mark.django_db

NEW_YORK_WINTER = timezone(timedelta(hours=-5))


def test_rows_prepared_ahead_are_stored_as_the_same_instants() -> None:
    when = datetime(2026, 3, 1, 9, 30, 15, 250_000, tzinfo=NEW_YORK_WINTER)
    ids = ids_reserve(Person, 2)
    prepared = rows_prepare(Person, ("id", "created_at"), [(ids[0], when), (ids[1], when + timedelta(days=1))])
    rows_insert(Person, ("id", "created_at"), prepared, prepared=True)
    stored = dict(Person.objects.filter(pk__in=ids).values_list("pk", "created_at"))
    assert stored == {ids[0]: when, ids[1]: when + timedelta(days=1)}
    assert stored[ids[0]].astimezone(UTC).hour == 14  # the instant, not the wall-clock time, was kept


def test_prepared_rows_can_still_be_filled_in_before_writing() -> None:
    [prepared] = rows_prepare(Person, ("id", "created_at"), [(None, datetime(2026, 1, 2, tzinfo=UTC))])
    prepared[0] = ids_reserve(Person, 1)[0]
    rows_insert(Person, ("id", "created_at"), [prepared], prepared=True)
    assert Person.objects.get(pk=prepared[0]).created_at == datetime(2026, 1, 2, tzinfo=UTC)


def test_a_prepared_update_writes_dates_and_leaves_nulls_null(agency: Agency) -> None:
    subject = Subject.objects.create(agency=agency, agency_subject_id="S-1", person=Person.objects.create(),
                                     first_name="Ana", last_name="Lee", date_of_birth=date(1990, 1, 1))
    columns = ("date_of_birth", "scheduled_release_at", "first_name")
    rows = rows_prepare(Subject, [*columns, "id"], [(date(1985, 6, 30), None, "Anna", subject.pk)])
    assert rows_update(Subject, columns, rows, prepared=True) == 1
    subject.refresh_from_db()
    assert (subject.date_of_birth, subject.scheduled_release_at, subject.first_name) == (date(1985, 6, 30), None,
                                                                                         "Anna")


def test_one_row_and_many_rows_are_written_alike_and_a_guard_that_fails_leaves_the_row(agency: Agency) -> None:
    when = datetime(2026, 3, 1, 9, 30, tzinfo=NEW_YORK_WINTER)
    ids = ids_reserve(Person, 3)
    rows_insert(Person, ("id", "created_at"), [(ids[0], when)])  # an event pushed alone takes its own statement
    rows_insert(Person, ("id", "created_at"), [(ids[1], when), (ids[2], when)])
    assert set(Person.objects.filter(pk__in=ids).values_list("created_at", flat=True)) == {when}
    subject = Subject.objects.create(agency=agency, agency_subject_id="S-1", person_id=ids[0], first_name="Ana",
                                     last_name="Lee")
    renamed = [("Anna", subject.pk, "Ana")]
    assert rows_update(Subject, ("first_name",), renamed, match=("id", "first_name")) == 1
    assert rows_update(Subject, ("first_name",), renamed, match=("id", "first_name")) == 0  # no longer "Ana"
    subject.refresh_from_db()
    assert subject.first_name == "Anna"


def test_rows_read_back_carry_aware_times() -> None:
    when = datetime(2026, 7, 4, 12, 0, tzinfo=UTC)
    person = Person.objects.create()
    Person.objects.filter(pk=person.pk).update(created_at=when)
    assert rows_select(Person, ("id", "created_at"), among=("id", [person.pk])) == [(person.pk, when)]


def test_reserved_ids_are_never_ones_already_handed_out() -> None:
    handed_out = Person.objects.create().pk
    Person.objects.filter(pk=handed_out).delete()
    assert min(ids_reserve(Person, 3)) > handed_out


def test_an_encrypted_column_is_refused_and_nothing_is_written_in_clear() -> None:
    registrant = registrant_create(actor=ACTOR, language="en")
    columns = ("registrant_id", "channel", "value", "value_index", "created_at")
    row = (registrant.pk, "sms", "+12025550143", "index", datetime(2026, 1, 2, tzinfo=UTC))

    with pytest.raises(UnsupportedField, match=r"Contact\.value"):
        rows_insert(Contact, columns, [row])
    with pytest.raises(UnsupportedField):
        rows_prepare(Contact, columns, [row])
    with pytest.raises(UnsupportedField):
        rows_update(Contact, ("value",), [("+12025550143", 1)])
    with pytest.raises(UnsupportedField):
        rows_select(Contact, ("id",), among=("value", ["+12025550143"]))

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT count(*) FROM {Contact._meta.db_table}")  # noqa: S608
        assert cursor.fetchone()[0] == 0
