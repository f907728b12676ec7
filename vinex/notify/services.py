"""Writes to notify: registrants, contacts, subscriptions, the outbox and delivery outcomes."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any

from django.conf import settings
from django.contrib.auth.hashers import make_password
from django.core import signing
from django.db import connection, transaction
from django.db.models import Field
from django.utils import timezone

from vinex.audit.unit import Actor, audit_unit
from vinex.custody.models import Agency, CustodyEvent, Person
from vinex.notify import lifecycle, retry
from vinex.notify.messages import agencies_of_people, other_agencies, render_event_message
from vinex.notify.models import (
    Channel,
    Contact,
    CreatedVia,
    DeliveryReceipt,
    Notification,
    NotificationStatus,
    Registrant,
    Subscription,
    SubscriptionStatus,
    Tier,
)
from vinex.notify.selectors import Followers
from vinex.policy.contacts import contact_index, normalise_contact

UNSUBSCRIBE_SALT = "vinex.notify.unsubscribe"
OUTBOX_CHANNELS = (Channel.EMAIL, Channel.SMS, Channel.VOICE)


# Every service below that writes or reads personal data records it (ids only, never values) in the
# audit unit of its transaction, as done by the ``actor`` its caller names.


def registrant_create(*, language: str, actor: Actor, created_via: str = CreatedVia.PORTAL) -> Registrant:
    with audit_unit(actor=actor) as unit:
        registrant = Registrant.objects.create(language=language, created_via=created_via)
        unit.add("create", "registrant", registrant.pk)
    return registrant


def contact_add(*, registrant: Registrant, channel: str, value: str, actor: Actor, verified: bool = False) -> Contact:
    """Add (or return the existing) contact; the value is normalised, encrypted and blind-indexed."""
    normalised = normalise_contact(channel, value)
    index = contact_index(channel, normalised)
    with audit_unit(actor=actor) as unit:
        contact, created = Contact.objects.get_or_create(
            registrant=registrant,
            channel=channel,
            value_index=index,
            defaults={"value": normalised, "verified_at": timezone.now() if verified else None},
        )
        if created:
            unit.add("create", "contact", contact.pk)
    return contact


def registrant_set_pin(*, registrant: Registrant, pin: str) -> None:
    """Store the 4-digit PIN that confirms voice notifications (hashed with argon2)."""
    if not (len(pin) == 4 and pin.isdigit()):
        raise ValueError("the PIN must be 4 digits")
    registrant.pin_hash = make_password(pin)
    registrant.save(update_fields=["pin_hash"])


def contacts_find(*, channel: str, value: str, actor: Actor) -> list[Contact]:
    """Every contact with this value, found by blind index without decrypting the table."""
    normalised = normalise_contact(channel, value)
    with audit_unit(actor=actor) as unit:
        found = list(Contact.objects.filter(channel=channel, value_index=contact_index(channel, normalised)))
        unit.add_many("read", "contact", [c.pk for c in found], purpose="lookup by value")
    return found


def subscription_create(
    *,
    registrant: Registrant,
    person: Person,
    actor: Actor,
    tier: str = Tier.PUBLIC,
    created_via: str = CreatedVia.PORTAL,
    status: str = SubscriptionStatus.PENDING,
) -> Subscription:
    if status not in lifecycle.SUBSCRIPTION_INITIAL:
        raise ValueError(f"a subscription cannot start {status}")
    with audit_unit(actor=actor) as unit:
        subscription, created = Subscription.objects.get_or_create(
            registrant=registrant,
            person=person,
            defaults={"tier": tier, "created_via": created_via, "status": status},
        )
        if created:
            unit.add("create", "subscription", subscription.pk)
    return subscription


def unsubscribe_token(*, contact: Contact) -> str:
    return _unsubscribe_token(contact.pk, settings.SECRET_KEY)


@lru_cache(maxsize=4096)
def _unsubscribe_token(contact_id: int, secret_key: str) -> str:
    """Signed once per contact and key: the link never expires, so the token signed for a contact's last
    message serves the next one (each event email carries it, and signing is done inside the request)."""
    return signing.dumps(contact_id, key=secret_key, salt=UNSUBSCRIBE_SALT, compress=True)


def unsubscribe_url(*, contact: Contact) -> str:
    return f"{settings.VINEX_PUBLIC_URL}/unsubscribe/{unsubscribe_token(contact=contact)}/"


def contact_from_unsubscribe_token(*, token: str, actor: Actor) -> Contact | None:
    try:
        contact_id = signing.loads(token, salt=UNSUBSCRIBE_SALT)
    except signing.BadSignature:
        return None
    with audit_unit(actor=actor) as unit:
        contact = Contact.objects.filter(pk=contact_id).first()
        if contact is not None:
            unit.add("read", "contact", contact.pk, purpose="unsubscribe link")
    return contact


def contact_opt_out(*, contacts: Sequence[Contact], actor: Actor, when: datetime | None = None) -> int:
    """Stop all messages to these contacts at once, including ones already queued."""
    when = when or timezone.now()
    ids = [c.pk for c in contacts]
    with audit_unit(actor=actor) as unit:
        count = Contact.objects.filter(pk__in=ids, opted_out_at__isnull=True).update(opted_out_at=when)
        lifecycle.notifications_suppress_waiting(rows=Notification.objects.filter(contact_id__in=ids),
                                                 reason="recipient opted out", now=when)
        unit.add_many("update", "contact", ids, purpose="opt out")
    return count


def contact_opt_in(*, contacts: Sequence[Contact], actor: Actor) -> int:
    ids = [c.pk for c in contacts]
    with audit_unit(actor=actor) as unit:
        count = Contact.objects.filter(pk__in=ids).update(opted_out_at=None)
        unit.add_many("update", "contact", ids, purpose="opt in")
    return count


def notification_enqueue_direct(
    *, contact: Contact, template: str, body: str, language: str, actor: Actor, subject_line: str = ""
) -> Notification:
    """Queue one message that is not about a custody event (a verification code, a feed alert...).

    It goes through the same outbox, worker, retries and opt-out checks as event notifications.
    """
    now = timezone.now()
    with audit_unit(actor=actor) as unit:
        notification = Notification.objects.create(
            contact=contact,
            channel=contact.channel,
            template=template,
            language=language,
            subject_line=subject_line,
            body=body,
            next_attempt_at=now,
            created_at=now,
        )
        unit.add("create", "notification", notification.pk, purpose=template)
    return notification


def notification_enqueue_for_events(*, events: Sequence[CustodyEvent], actor: Actor,
                                    followers: Followers | None = None) -> list[Notification]:
    """Write outbox rows for every reachable contact of every active subscriber of these events.

    Called inside the transaction that records the events, so an event and its messages are
    committed together or not at all; the contact reads are added to that transaction's audit unit.
    ``followers`` is what the caller already read of who follows whom (ingest asked it which events
    notify); the people it was not asked about are read now. Returns the rows written, without their ids.
    """
    if not events:
        return []
    followers = followers or Followers()
    following = followers.following({e.subject.person_id for e in events})
    if not following:
        return []
    # Only a person whose records linkage joined across agencies can be held by an agency besides the event's.
    linked = [p for p in following if followers.agencies.get(p, 0) > 1]
    held_by = agencies_of_people(linked) if linked else {}
    rows = []
    for event in events:
        others = other_agencies(event, held_by)
        for follower in following.get(event.subject.person_id, []):
            rows.extend(_event_notifications(event, follower.subscription, follower.contacts, others))
    _notifications_insert(rows)
    # Rendering read each recipient's contact record (language, channel, unsubscribe link). No savepoint:
    # this adds entries to the ingest's unit and needs no statement of its own.
    with audit_unit(actor=actor, savepoint=False) as unit:
        unit.add_many("read", "contact", [n.contact_id for n in rows], purpose="event notification")
    return rows


def _notifications_insert(rows: Sequence[Notification]) -> None:
    """``bulk_create`` without its per-call compilation: each field's value as the ORM saves it (the body
    encrypted, ``updated_at`` stamped), in one statement prepared once."""
    if not rows:
        return
    # The connection itself, not the ``connection`` proxy: each field's conversion asks it for its
    # operations and features, and through the proxy every ask is a lookup of this thread's connection.
    db = transaction.get_connection()
    sql, fields = _notification_insert(db.vendor)
    values = [[f.get_db_prep_save(f.pre_save(row, True), db) for f in fields] for row in rows]
    with db.cursor() as cursor:
        cursor.executemany(sql, values)


@lru_cache(maxsize=4)
def _notification_insert(vendor: str) -> tuple[str, tuple[Field[Any, Any], ...]]:
    fields = tuple(f for f in Notification._meta.concrete_fields if not f.primary_key)
    quote = connection.ops.quote_name
    names = ", ".join(quote(f.column) for f in fields)
    marks = ", ".join(["%s"] * len(fields))
    return f"INSERT INTO {quote(Notification._meta.db_table)} ({names}) VALUES ({marks})", fields  # noqa: S608


def notification_enqueue_for_contacts(
    *, event: CustodyEvent, subscription: Subscription, contacts: Sequence[Contact]
) -> list[Notification]:
    """Queue ``event``'s message for some of a subscriber's contacts (e.g. after unanswered calls)."""
    others = other_agencies(event, agencies_of_people([event.subject.person_id]))
    return Notification.objects.bulk_create(_event_notifications(event, subscription, contacts, others))


def _event_notifications(event: CustodyEvent, subscription: Subscription, contacts: Sequence[Contact],
                         others: Sequence[Agency]) -> list[Notification]:
    now = timezone.now()
    rows = []
    for contact in contacts:
        message = render_event_message(
            event=event,
            channel=contact.channel,
            language=subscription.registrant.language,
            tier=subscription.tier,
            # Only an email carries the link (a text message says STOP, a call says how to stop).
            unsubscribe_url=unsubscribe_url(contact=contact) if contact.channel == "email" else "",
            others=others,
        )
        rows.append(
            Notification(
                subscription=subscription,
                event=event,
                contact=contact,
                channel=contact.channel,
                template=message.template,
                language=subscription.registrant.language,
                subject_line=message.subject_line,
                body=message.body,
                next_attempt_at=now,
                created_at=now,
            )
        )
    return rows


# Twilio delivery errors after hand-over that a later attempt may get past (queue overflow,
# handset unreachable, unknown carrier error). Others (landline, unknown number, blocked) are final.
TRANSIENT_RECEIPT_CODES = frozenset({"30001", "30003", "30008", "30017"})


def notification_record_receipt(*, provider_id: str, provider_status: str, error_code: str = "",
                                 notification_id: int | None = None) -> bool:
    """Record a provider's delivery receipt and apply it; returns False when no notification matches.

    The notification is found by the provider's id or, when the worker has not recorded that id yet,
    by ``notification_id`` (which the status callback URL carries). A receipt for a row still
    ``sending`` is kept and applied when the worker records the send.
    """
    now = timezone.now()
    with transaction.atomic():
        found = Notification.objects.select_for_update()
        notification = found.filter(provider_id=provider_id).first() if provider_id else None
        if notification is None and notification_id is not None:
            notification = found.filter(pk=notification_id).first()
        if notification is None:
            return False
        receipt = DeliveryReceipt.objects.create(
            notification=notification, provider_status=provider_status[:32], error_code=error_code[:16]
        )
        if notification.status != NotificationStatus.SENDING:
            _receipt_apply(notification, receipt, now)
    return True


def notification_receipts_apply(*, notifications: Sequence[Notification]) -> None:
    """Apply, in arrival order, the receipts that came while these rows were ``sending`` (since their claim)."""
    if not notifications:
        return
    claims = {n.pk: n for n in notifications}
    now = timezone.now()
    for receipt in DeliveryReceipt.objects.filter(notification_id__in=claims).order_by("pk"):
        notification = claims[receipt.notification_id]
        # Receipts from before this claim belong to an earlier attempt and were applied then.
        if notification.claimed_at is not None and receipt.received_at >= notification.claimed_at:
            notification.refresh_from_db(fields=["status", "attempts"])
            _receipt_apply(notification, receipt, now)


def _receipt_apply(notification: Notification, receipt: DeliveryReceipt, now: datetime) -> bool:
    """Move the notification as the receipt says; intermediate reports ("queued", "sent") move nothing."""
    why = f"receipt {receipt.provider_status}"
    if receipt.provider_status == "delivered":
        return lifecycle.notification_move(notification_id=notification.pk, to=NotificationStatus.DELIVERED, now=now,
                                           why=why, delivered_at=now, last_error="")
    if receipt.provider_status not in {"undelivered", "failed"}:
        return False
    fields: dict[str, object] = {
        "last_error": f"provider reported {receipt.provider_status} ({receipt.error_code or 'no code'})"}
    transient = receipt.error_code in TRANSIENT_RECEIPT_CODES
    if retry.should_retry(attempts=notification.attempts, permanent=not transient):
        return lifecycle.notification_move(
            notification_id=notification.pk, to=NotificationStatus.FAILED_TRANSIENT, now=now, why=why,
            next_attempt_at=retry.next_attempt_at(attempts=notification.attempts, now=now), **fields)
    # Only a message that had been handed over can fail; the table refuses any other.
    return lifecycle.notification_move(notification_id=notification.pk, to=NotificationStatus.FAILED_PERMANENT,
                                       now=now, why=why, **fields)
