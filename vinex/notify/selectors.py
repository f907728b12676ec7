"""Reads from notify."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache

from django.db import connection, models, transaction

from vinex.custody.models import Subject
from vinex.notify.models import CallPreference, Channel, Contact, Registrant, Subscription, SubscriptionStatus

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


@dataclass(slots=True)
class Follower:
    """An active subscription of a person, with the contacts a message about them may go to now."""

    subscription: Subscription
    contacts: list[Contact]


@dataclass(slots=True)
class Followers:
    """Each person's followers, read once for a batch of events (whether anyone follows them decides which
    events notify; who, and at which contacts, is whom the messages go to) however often it is asked."""

    of: dict[int, list[Follower]] = field(default_factory=dict)
    # How many agencies hold or held each person asked about (more than one once linkage joined records).
    agencies: dict[int, int] = field(default_factory=dict)
    asked: set[int] = field(default_factory=set)

    def followed(self, person_ids: Iterable[int | None]) -> set[int]:
        """Which of these people have at least one active subscription."""
        wanted = {p for p in person_ids if p is not None}
        self._read(wanted - self.asked)
        return {p for p in wanted if p in self.of}

    def following(self, person_ids: Iterable[int]) -> dict[int, list[Follower]]:
        wanted = set(person_ids)
        self._read(wanted - self.asked)
        return {p: self.of[p] for p in wanted if p in self.of}

    def _read(self, person_ids: set[int]) -> None:
        if not person_ids:
            return
        ids = sorted(person_ids)
        for start in range(0, len(ids), _CHUNK):
            self._read_chunk(ids[start : start + _CHUNK])
        self.asked |= person_ids

    def _read_chunk(self, person_ids: list[int]) -> None:
        subscriptions: dict[int, Follower] = {}
        db = transaction.get_connection()  # looked up once (each use of the proxy looks it up again)
        with db.cursor() as cursor:
            cursor.execute(_followers_sql(db.vendor, len(person_ids)), [*_FIXED, *person_ids])
            rows = cursor.fetchall()
        alias = db.alias
        for sub_id, person_id, registrant_id, tier, language, call_preference, agencies, contact_id, channel in rows:
            follower = subscriptions.get(sub_id)
            if follower is None:
                registrant = Registrant.from_db(alias, _REGISTRANT_FIELDS, [registrant_id, language, call_preference])
                subscription = Subscription.from_db(alias, _SUBSCRIPTION_FIELDS,
                                                    [sub_id, registrant_id, person_id, tier, _ACTIVE])
                subscription.registrant = registrant
                follower = subscriptions[sub_id] = Follower(subscription, [])
                self.of.setdefault(person_id, []).append(follower)
                self.agencies[person_id] = agencies
            if contact_id is not None:
                contact = Contact.from_db(alias, _CONTACT_FIELDS, [contact_id, registrant_id, channel])
                contact.registrant = follower.subscription.registrant
                follower.contacts.append(contact)


# What rendering and queueing a message read; any other field of these instances is loaded if asked for.
_REGISTRANT_FIELDS = ("id", "language", "call_preference")
_SUBSCRIPTION_FIELDS = ("id", "registrant_id", "person_id", "tier", "status")
_CONTACT_FIELDS = ("id", "registrant_id", "channel")
_ACTIVE = SubscriptionStatus.ACTIVE.value
# The statement's fixed parameters, as plain text: the channels the outbox sends on, the voice channel and
# the preference of whoever chose no calls, an active subscription.
_FIXED = (Channel.EMAIL.value, Channel.SMS.value, Channel.VOICE.value, Channel.VOICE.value, CallPreference.NONE.value,
          _ACTIVE)


@lru_cache(maxsize=64)
def _followers_sql(vendor: str, count: int) -> str:
    """Active subscriptions of the people, each with its registrant and its contacts that may be written to
    (verified, not opted out, no calls to whoever chose none), and how many agencies hold the person: one
    statement, from the models' metadata, in subscription then contact order."""
    q = connection.ops.quote_name

    def col(model: type[models.Model], alias: str, name: str) -> str:
        field = model._meta.get_field(name)
        assert isinstance(field, models.Field) and field.column  # a column of the table, not a relation's far end
        return f"{alias}.{q(field.column)}"

    s, r, c, x = Subscription, Registrant, Contact, Subject
    agencies = (f"(SELECT COUNT(DISTINCT {col(x, 'x', 'agency')}) FROM {q(x._meta.db_table)} x "  # noqa: S608
                f"WHERE {col(x, 'x', 'person')} = {col(s, 's', 'person')})")
    columns = ", ".join([*(col(s, "s", n) for n in ("id", "person", "registrant", "tier")), col(r, "r", "language"),
                         col(r, "r", "call_preference"), agencies, col(c, "c", "id"), col(c, "c", "channel")])
    reachable = (f"{col(c, 'c', 'channel')} IN (%s, %s, %s) AND {col(c, 'c', 'verified_at')} IS NOT NULL "
                 f"AND {col(c, 'c', 'opted_out_at')} IS NULL "
                 f"AND {col(c, 'c', 'undeliverable_at')} IS NULL "
                 f"AND NOT ({col(c, 'c', 'channel')} = %s AND {col(r, 'r', 'call_preference')} = %s)")
    tables = (f"{q(s._meta.db_table)} s "
              f"JOIN {q(r._meta.db_table)} r ON {col(r, 'r', 'id')} = {col(s, 's', 'registrant')} "
              f"LEFT JOIN {q(c._meta.db_table)} c ON {col(c, 'c', 'registrant')} = {col(s, 's', 'registrant')} "
              f"AND {reachable}")
    wanted = f"{col(s, 's', 'status')} = %s AND {col(s, 's', 'person')} IN ({', '.join(['%s'] * count)})"
    order = f"{col(s, 's', 'id')}, {col(c, 'c', 'id')}"
    return f"SELECT {columns} FROM {tables} WHERE {wanted} ORDER BY {order}"  # noqa: S608
