from __future__ import annotations

import random
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.conftest import T0
from vinex.custody import statemachine as sm
from vinex.custody.models import CustodyStatus as S
from vinex.custody.models import EventType as E


def facts(n: int, type_: str, minutes: int, **kw: object) -> sm.EventFacts:
    return sm.EventFacts(event_id=f"e{n}", type=type_, occurred_at=T0 + timedelta(minutes=minutes), seq=n,
                         facility_code=str(kw.pop("facility", "main")), **kw)  # type: ignore[arg-type]


def test_release_after_booking_is_released_with_reason() -> None:
    state = sm.derive([facts(1, E.BOOKED, 0), facts(2, E.RELEASED, 5, reason="bond")])
    assert (state.status, state.reason, state.facility_code) == (S.RELEASED, "bond", "main")


def test_transfer_moves_the_person_to_the_new_facility() -> None:
    state = sm.derive([facts(1, E.BOOKED, 0), facts(2, E.TRANSFERRED, 5, to_facility_code="annex")])
    assert (state.status, state.facility_code) == (S.IN_CUSTODY, "annex")


def test_hearings_do_not_change_custody_status() -> None:
    state = sm.derive([facts(1, E.BOOKED, 0), facts(2, E.HEARING_SCHEDULED, 5, scheduled_for=T0)])
    assert state.status == S.IN_CUSTODY


def test_correction_retracts_the_event_before_it() -> None:
    state = sm.derive([facts(1, E.BOOKED, 0), facts(2, E.RELEASED, 5), facts(3, E.CORRECTION, 6)])
    assert state.status == S.IN_CUSTODY


def test_correction_can_name_the_event_it_retracts() -> None:
    history = [facts(1, E.BOOKED, 0), facts(2, E.TRANSFERRED, 3, to_facility_code="annex"),
               facts(3, E.RELEASE_SCHEDULED, 4, scheduled_for=T0), facts(4, E.CORRECTION, 6, corrects_event_id="e2")]
    assert sm.derive(history).facility_code == "main"


def test_release_ends_a_scheduled_release_date() -> None:
    history = [facts(1, E.BOOKED, 0), facts(2, E.RELEASE_SCHEDULED, 1, scheduled_for=T0 + timedelta(days=3)),
               facts(3, E.RELEASED, 2)]
    assert sm.derive(history).scheduled_release_at is None


def test_impossible_transitions_are_explained() -> None:
    released = sm.derive([facts(1, E.BOOKED, 0), facts(2, E.RELEASED, 5)])
    error = sm.transition_error(released, facts(3, E.RELEASED, 9)) or ""
    assert "not possible while the person's status is RELEASED" in error
    dead = sm.derive([facts(1, E.BOOKED, 0), facts(2, E.DECEASED, 5)])
    assert sm.transition_error(dead, facts(3, E.ESCAPED, 9))
    assert sm.transition_error(dead, facts(3, E.HEARING_CANCELLED, 9, hearing_id="h")) is None


def test_anything_may_start_a_history_we_have_not_seen() -> None:
    for event_type in E:
        if event_type != E.CORRECTION:
            assert sm.transition_error(sm.INITIAL, facts(1, event_type, 0)) is None


# --- Property: the state depends on the set of events, never on arrival order ----------------------

STEP_TYPES = [E.BOOKED, E.TRANSFERRED, E.RELEASE_SCHEDULED, E.RELEASED, E.TEMPORARY_RELEASE, E.RETURNED_TO_CUSTODY,
              E.REMOVED, E.ESCAPED, E.RECAPTURED, E.DECEASED, E.HEARING_SCHEDULED, E.CORRECTION]


@st.composite
def valid_histories(draw: st.DrawFn) -> list[sm.EventFacts]:
    """A random walk through allowed transitions, with distinct, increasing times (ties included)."""
    history: list[sm.EventFacts] = []
    state = sm.INITIAL
    minute = 0
    for n in range(draw(st.integers(1, 12))):
        minute += draw(st.integers(0, 3))
        candidates = []
        for event_type in STEP_TYPES:
            kwargs: dict[str, object] = {"facility": state.facility_code or "main"}
            if event_type == E.TRANSFERRED:
                kwargs["to_facility_code"] = "annex" if state.facility_code != "annex" else "main"
            if event_type in (E.RELEASE_SCHEDULED, E.HEARING_SCHEDULED):
                kwargs["scheduled_for"] = T0 + timedelta(days=n)
            if event_type == E.HEARING_SCHEDULED:
                kwargs["hearing_id"] = f"h{n}"
            candidate = facts(n, event_type, minute, **kwargs)
            if event_type == E.CORRECTION and not [e for e in history if e.type not in sm.HEARING_TYPES]:
                continue
            if sm.transition_error(state, candidate) is None:
                candidates.append(candidate)
        if not candidates:
            break
        chosen = draw(st.sampled_from(candidates))
        history.append(chosen)
        state = sm.derive(history)
    return history


@settings(max_examples=300, deadline=None)
@given(valid_histories(), st.randoms(use_true_random=False))
def test_any_arrival_order_and_duplicates_give_the_same_state(history: list[sm.EventFacts],
                                                               rng: random.Random) -> None:
    shuffled = history + rng.sample(history, k=len(history) // 2)  # duplicates, dropped by event_id
    rng.shuffle(shuffled)
    unique = list({e.event_id: e for e in shuffled}.values())
    assert sm.derive(unique) == sm.derive(history)
