"""Reads from notify."""

from __future__ import annotations

from collections.abc import Iterable

from vinex.notify.models import Subscription, SubscriptionStatus

_CHUNK = 900


def person_ids_followed(*, person_ids: Iterable[int | None]) -> set[int]:
    """Which of these people have at least one active subscription."""
    ids = sorted({p for p in person_ids if p is not None})
    followed: set[int] = set()
    for start in range(0, len(ids), _CHUNK):
        chunk = ids[start : start + _CHUNK]
        followed.update(
            Subscription.objects.filter(person_id__in=chunk, status=SubscriptionStatus.ACTIVE)
            .values_list("person_id", flat=True)
            .distinct()
        )
    return followed
