"""Moving SubjectContact from privacy to custody keeps the table and its rows on an existing database."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from vinex.custody.contacts import is_own_contact
from vinex.custody.models import Subject, SubjectContact

BEFORE_THE_MOVE = [("custody", "0007_events_facility_unindexed"), ("privacy", "0003_data_report_answer_contact")]


@pytest.mark.django_db(transaction=True)
def test_contacts_recorded_before_the_move_are_found_after_it() -> None:
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE_THE_MOVE)
    old = executor.loader.project_state(BEFORE_THE_MOVE).apps
    agency = old.get_model("custody", "Agency").objects.create(code="pine", name="Pine", jurisdiction_code="X")
    person = old.get_model("custody", "Person").objects.create()
    subject = old.get_model("custody", "Subject").objects.create(
        agency=agency, agency_subject_id="S-1", person=person, first_name="Robin", last_name="Quill")
    old.get_model("privacy", "SubjectContact").objects.create(subject=subject, value_index="f" * 64)

    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    moved = SubjectContact.objects.get()
    assert (moved.subject_id, moved.value_index) == (subject.pk, "f" * 64)
    assert is_own_contact(person=Subject.objects.get(pk=subject.pk).person, value_indexes=["f" * 64])
    SubjectContact.objects.create(subject_id=subject.pk, value_index="e" * 64)  # the table takes new rows too
    assert SubjectContact.objects.count() == 2
