"""The lifecycles of notifications and subscriptions: the tables, and the guarded writes that obey them."""

from __future__ import annotations

import itertools
import logging
from datetime import timedelta

import pytest
from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.actors import ACTOR
from tests.conftest import event
from tests.custody.test_services import ingest
from vinex.custody.models import Agency, Subject
from vinex.notify import lifecycle
from vinex.notify.lifecycle import (
    NOTIFICATION_MOVES,
    SUBSCRIPTION_MOVES,
    TIER_MOVES,
    notification_can_move,
    notification_move,
    registrant_withdraw,
    subscription_can_move,
    subscription_move,
    subscription_raise_tier,
    tier_can_move,
)
from vinex.notify.models import (
    Notification,
    NotificationStatus,
    Registrant,
    Subscription,
    SubscriptionStatus,
    Tier,
)
from vinex.notify.services import contact_add, notification_enqueue_direct, registrant_create, subscription_create

N = NotificationStatus
S = SubscriptionStatus
NOTIFICATION_PAIRS = list(itertools.product(N, N))
SUBSCRIPTION_PAIRS = list(itertools.product(S, S))
TIER_PAIRS = list(itertools.product(Tier, Tier))


# --- The tables ----------------------------------------------------------------------------------


def test_every_status_and_tier_has_a_row_in_its_table() -> None:
    assert set(NOTIFICATION_MOVES) == set(N)
    assert set(SUBSCRIPTION_MOVES) == set(S)
    assert set(TIER_MOVES) == set(Tier)


def test_the_finished_and_terminal_sets_are_what_the_rest_of_vinex_relies_on() -> None:
    assert {N.DELIVERED, N.FAILED_PERMANENT, N.SUPPRESSED} == lifecycle.NOTIFICATION_TERMINAL
    assert {N.QUEUED, N.FAILED_TRANSIENT} == lifecycle.NOTIFICATION_CLAIMABLE
    # Retention erases the bodies of these after 90 days: a voice message still calling is not among them.
    assert {N.SENT, N.DELIVERED, N.FAILED_PERMANENT, N.SUPPRESSED} == lifecycle.NOTIFICATION_FINISHED
    assert {N.QUEUED, N.FAILED_TRANSIENT} == lifecycle.NOTIFICATION_WAITING
    assert {S.WITHDRAWN} == lifecycle.SUBSCRIPTION_TERMINAL


def test_a_message_takes_the_path_the_design_describes() -> None:
    for path in ([N.QUEUED, N.SENDING, N.SENT, N.DELIVERED],
                 [N.QUEUED, N.SENDING, N.FAILED_TRANSIENT, N.SENDING, N.SENT, N.FAILED_PERMANENT],
                 [N.QUEUED, N.SENDING, N.QUEUED, N.SENDING, N.DELIVERED],
                 [N.QUEUED, N.SUPPRESSED]):
        assert all(notification_can_move(a, b) for a, b in itertools.pairwise(path)), path


def test_what_may_not_happen_to_a_message() -> None:
    assert not notification_can_move(N.FAILED_PERMANENT, N.DELIVERED)  # a late receipt for a failed message
    assert not notification_can_move(N.DELIVERED, N.SENT)  # a late "sent" after "delivered"
    assert not notification_can_move(N.SENT, N.SUPPRESSED)  # what has left cannot be called back
    assert not notification_can_move(N.SENT, N.SENDING)  # nor sent twice
    assert not notification_can_move(N.QUEUED, N.SENT)  # nothing is sent without a claim


def test_subscriptions_and_tiers() -> None:
    assert subscription_can_move(S.PENDING, S.ACTIVE) and subscription_can_move(S.SUSPENDED, S.ACTIVE)
    assert not subscription_can_move(S.WITHDRAWN, S.ACTIVE)
    assert tier_can_move(Tier.PUBLIC, Tier.VERIFIED_VICTIM) and tier_can_move(Tier.VERIFIED_VICTIM,
                                                                                Tier.OFFICER_APPROVED)
    assert not tier_can_move(Tier.OFFICER_APPROVED, Tier.VERIFIED_VICTIM)  # never quietly narrowed
    assert not tier_can_move(Tier.PUBLIC, Tier.PUBLIC)


@given(st.lists(st.sampled_from(list(N)), max_size=30))
def test_terminal_notification_statuses_stay_terminal_whatever_is_asked(requests: list[N]) -> None:
    status = N.QUEUED
    for to in requests:
        if notification_can_move(status, to):
            assert status not in lifecycle.NOTIFICATION_TERMINAL
            status = to
    # Once in a terminal status, nothing else was accepted: the walk ends there or never reached one.
    if status in lifecycle.NOTIFICATION_TERMINAL:
        assert not any(notification_can_move(status, to) for to in N)


@given(st.lists(st.sampled_from(list(S)), max_size=20))
def test_a_withdrawn_subscription_never_comes_back(requests: list[S]) -> None:
    status, withdrawn = S.PENDING, False
    for to in requests:
        if subscription_can_move(status, to):
            status = to
        withdrawn = withdrawn or status == S.WITHDRAWN
        assert not withdrawn or status == S.WITHDRAWN


# --- The guarded writes --------------------------------------------------------------------------


@pytest.fixture
def registrant(db: None) -> Registrant:
    return registrant_create(actor=ACTOR, language="en")


def a_notification(registrant: Registrant, status: N) -> Notification:
    contact = contact_add(actor=ACTOR,
                          registrant=registrant, channel="email", value="victim@example.org", verified=True)
    notification = notification_enqueue_direct(actor=ACTOR, contact=contact, template="t", body="b", language="en")
    Notification.objects.filter(pk=notification.pk).update(status=status)  # the state under test
    return notification


@pytest.mark.parametrize(("current", "to"), NOTIFICATION_PAIRS, ids=[f"{a}->{b}" for a, b in NOTIFICATION_PAIRS])
def test_a_notification_moves_exactly_when_the_table_allows(registrant: Registrant, current: N, to: N,
                                                            caplog: pytest.LogCaptureFixture) -> None:
    notification = a_notification(registrant, current)
    with caplog.at_level(logging.INFO, logger="vinex.notify.lifecycle"):
        moved = notification_move(notification_id=notification.pk, to=to, why="test", last_error="x")
    notification.refresh_from_db()
    allowed = notification_can_move(current, to)
    assert moved is allowed
    assert notification.status == (to if allowed else current)
    assert notification.last_error == ("x" if allowed else "")  # a refused move writes nothing at all
    assert ("notification transition refused" in caplog.text) is not allowed


def test_the_status_is_never_passed_as_a_plain_field(registrant: Registrant) -> None:
    notification = a_notification(registrant, N.QUEUED)
    with pytest.raises(TypeError):
        lifecycle.notifications_move(Notification.objects.filter(pk=notification.pk), to=N.SENDING,
                                     status=N.DELIVERED)


def test_an_attempt_cannot_be_recorded_as_queued(registrant: Registrant) -> None:
    notification = a_notification(registrant, N.SENDING)
    with pytest.raises(ValueError, match="cannot end in"):
        lifecycle.notifications_record_attempts(rows=[(notification.pk, "", N.QUEUED, [1, "", None, None,
                                                                                          timezone.now(), ""])],
                                                now=timezone.now())


@pytest.fixture
def person_subject(agency: Agency) -> Subject:
    ingest(agency, event("b1", "BOOKED"))
    return Subject.objects.get()


def a_subscription(registrant: Registrant, subject: Subject, *, status: S = S.PENDING,
                   tier: Tier = Tier.PUBLIC) -> Subscription:
    subscription = subscription_create(actor=ACTOR, registrant=registrant, person=subject.person)
    Subscription.objects.filter(pk=subscription.pk).update(status=status, tier=tier)  # the state under test
    subscription.refresh_from_db()
    return subscription


@pytest.mark.parametrize(("current", "to"), SUBSCRIPTION_PAIRS, ids=[f"{a}->{b}" for a, b in SUBSCRIPTION_PAIRS])
def test_a_subscription_moves_exactly_when_the_table_allows(registrant: Registrant, person_subject: Subject,
                                                            current: S, to: S) -> None:
    subscription = a_subscription(registrant, person_subject, status=current)
    moved = subscription_move(subscription=subscription, to=to)
    allowed = subscription_can_move(current, to)
    assert moved is allowed
    assert subscription.status == Subscription.objects.get().status == (to if allowed else current)


@pytest.mark.parametrize(("current", "to"), TIER_PAIRS, ids=[f"{a}->{b}" for a, b in TIER_PAIRS])
def test_a_tier_widens_exactly_when_the_table_allows(registrant: Registrant, person_subject: Subject, current: Tier,
                                                     to: Tier) -> None:
    subscription = a_subscription(registrant, person_subject, tier=current)
    moved = subscription_raise_tier(subscription=subscription, to=to)
    allowed = tier_can_move(current, to)
    assert moved is allowed
    assert subscription.tier == Subscription.objects.get().tier == (to if allowed else current)


def test_a_stale_object_cannot_revive_a_withdrawn_subscription(registrant: Registrant,
                                                              person_subject: Subject) -> None:
    subscription = a_subscription(registrant, person_subject, status=S.ACTIVE)
    stale = Subscription.objects.get(pk=subscription.pk)
    assert subscription_move(subscription=subscription, to=S.WITHDRAWN)
    # Someone still holding the old object (status "active" in memory) tries to suspend, then reactivate.
    assert not subscription_move(subscription=stale, to=S.SUSPENDED)
    assert not subscription_move(subscription=stale, to=S.ACTIVE)
    assert stale.status == Subscription.objects.get().status == S.WITHDRAWN


def test_a_subscription_starts_pending_or_active_only(registrant: Registrant, person_subject: Subject) -> None:
    with pytest.raises(ValueError, match="cannot start"):
        subscription_create(actor=ACTOR, registrant=registrant, person=person_subject.person, status=S.WITHDRAWN)


def test_withdrawing_a_registrant_withdraws_their_subscriptions_once(registrant: Registrant,
                                                                    person_subject: Subject) -> None:
    a_subscription(registrant, person_subject, status=S.ACTIVE)
    first = timezone.now()
    assert registrant_withdraw(registrant=registrant, when=first)
    assert not registrant_withdraw(registrant=registrant, when=first + timedelta(days=3))
    assert registrant.withdrawn_at == Registrant.objects.get().withdrawn_at == first  # the first time stays
    assert Subscription.objects.get().status == S.WITHDRAWN


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(st.sampled_from(list(N)), max_size=12))
def test_a_row_follows_the_table_under_any_sequence_of_requests(registrant: Registrant, requests: list[N]) -> None:
    notification = a_notification(registrant, N.QUEUED)
    expected = N.QUEUED
    for to in requests:
        moved = notification_move(notification_id=notification.pk, to=to)
        assert moved is notification_can_move(expected, to)
        expected = to if moved else expected
        assert Notification.objects.get(pk=notification.pk).status == expected
    Notification.objects.filter(pk=notification.pk).delete()
