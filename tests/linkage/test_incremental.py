"""Linking as events arrive: the deterministic rules decide inside the agency's batch, from indexed lookups,
and every new or changed subject waits for the model in the queue."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest
from django.utils import timezone
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.linkage.test_services import booked_at
from tests.locator.people import book
from vinex.custody.models import Agency, Subject
from vinex.linkage.models import Decision, LinkDecision, LinkPending
from vinex.linkage.rules import RULE_FEATURES, pair_rules, rules_apply
from vinex.linkage.services import pending_add

# A few values per feature, so that agreeing, differing and unknown all come up often.
_VALUES = {"a_number": ["012345678", "987654321"], "fbi_number": ["123AB4", "999ZZ9"], "state_id": ["77", "78"],
           "state": ["us tx", "us az"], "country_of_birth": ["MX", "GT"], "date_of_birth": ["1980-05-17", "1979-01-02"]}
_RECORDS = st.fixed_dictionaries({f: st.sampled_from([None, *_VALUES[f]]) for f in RULE_FEATURES})


@settings(max_examples=300, deadline=None)
@given(left=_RECORDS, right=_RECORDS)
def test_the_rules_decide_the_same_on_ingest_as_in_the_model_and_the_command(
        left: dict[str, str | None], right: dict[str, str | None]) -> None:
    row = {f"{feature}_{side}": [record[feature]] for feature in RULE_FEATURES
           for side, record in (("l", left), ("r", right))}
    framed = rules_apply(pl.DataFrame(row, schema=dict.fromkeys(row, pl.Utf8)))
    outcome = pair_rules(left, right)
    assert (outcome.link, outcome.block) == (framed["rule_link"][0], framed["rule_block"][0])


def _linked() -> set[tuple[str, str, str]]:
    return {(d.left.agency_subject_id, d.right.agency_subject_id, d.rule)
            for d in LinkDecision.objects.filter(decision=Decision.LINKED).select_related("left", "right")}


@pytest.mark.django_db
def test_fbi_number_and_state_id_link_in_the_batch_that_reports_them(agency: Agency, detention: Agency) -> None:
    booked_at(agency, "C-1", first_name="Luis", last_name="Ortiz", identifiers={"fbi_number": "123-AB-4"})
    booked_at(agency, "C-2", first_name="Rosa", last_name="Vega", identifiers={"state_id": "TX77"})
    booked_at(detention, "D-1", first_name="Luis", last_name="Ortiz", identifiers={"fbi_number": "123-AB-4"})
    booked_at(detention, "D-2", first_name="Rosa", last_name="Vega", identifiers={"state_id": "TX77"})
    # County A and the detention centre are in two states: a state id means something only in its state.
    assert _linked() == {("D-1", "C-1", "same_fbi_number")}
    d1, c1 = Subject.objects.get(agency_subject_id="D-1"), Subject.objects.get(agency_subject_id="C-1")
    assert d1.person_id == c1.person_id


@pytest.mark.django_db
def test_a_state_id_links_within_its_state(agency: Agency) -> None:
    other = Agency.objects.create(code="doc", name="Department of Corrections", jurisdiction_code="US-XX")
    other.facilities.create(code="main", name="State Prison")
    booked_at(agency, "C-2", first_name="Rosa", last_name="Vega", identifiers={"state_id": "XX-77"})
    booked_at(other, "P-2", first_name="Rosa", last_name="Vega", identifiers={"state_id": "XX-77"})
    assert _linked() == {("P-2", "C-2", "same_state_id")}


@pytest.mark.django_db
def test_blank_identifiers_and_the_same_agency_never_link(agency: Agency, detention: Agency) -> None:
    book(agency, "C-1", a_number=None)
    book(agency, "C-2")
    book(agency, "C-3")  # same agency, same A-number: one agency's own records are not linkage's to join
    booked_at(detention, "D-1", first_name="María José", last_name="García Núñez", date_of_birth="1980-05-17")
    assert _linked() == set()
    assert Subject.objects.get(agency_subject_id="C-2").person_id != Subject.objects.get(
        agency_subject_id="C-3").person_id


@pytest.mark.django_db
def test_the_same_a_number_with_nothing_else_agreeing_is_left_to_the_model(
        agency: Agency, detention: Agency) -> None:
    book(agency, "C-1", country="MX")
    booked_at(detention, "D-1", first_name="Jose", last_name="Perez", country_of_birth="GT",
              date_of_birth="1990-01-01", identifiers={"a_number": "123456789"})
    assert _linked() == set()
    assert LinkPending.objects.filter(subject__agency_subject_id="D-1").exists()


@pytest.mark.django_db
def test_every_new_subject_waits_for_the_model_once_with_its_newest_time(agency: Agency) -> None:
    first, second = book(agency, "C-1"), book(agency, "C-2", a_number=None)
    assert set(LinkPending.objects.values_list("subject_id", flat=True)) == {first.pk, second.pk}
    later = timezone.now() + timedelta(minutes=3)
    pending_add([first.pk], now=later)
    assert LinkPending.objects.count() == 2
    assert LinkPending.objects.get(subject=first).queued_at == later
