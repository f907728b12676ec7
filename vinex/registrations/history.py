"""A registration's messages and what became of each: the answer to "was she reached?".

One history for everyone who asks: the registrant on the portal and through the API, the call centre on
the phone, advocates on their caseload (who add only their own escalations on top). Each message carries
its attempts, calls, confirmation (PIN or text reply), the fallback it stood for, what vinex does next and
whether it reached her, by the one rule ``REACHED``. It reads delivery facts only, never a message's text
or a contact's value beyond its masked form; ``registration_history`` records the read.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from vinex.audit.unit import Actor, audit_unit
from vinex.notify.messages import event_headline
from vinex.notify.models import Channel, Notification, NotificationStatus
from vinex.registrations.models import Registration
from vinex.registrations.selectors import mask_contact

N = NotificationStatus
REPLY_CONFIRMED = "confirmed by text reply"  # what vinex.notify.voice writes when a text reply confirms a call
HISTORY_MAX = 200

# --- Reached or not: the one rule ------------------------------------------------------------------

# Delivered, or for email accepted by the recipient's server: SMTP acceptance is as far as email goes
# (vinex.notify.channels.base), so an email handed over counts. A text needs the carrier's receipt, a call
# the PIN or a text reply (both mark it delivered).
REACHED = Q(status=N.DELIVERED) | Q(channel=Channel.EMAIL, status=N.SENT)


def message_reached(*, channel: str, status: str) -> bool:
    """``REACHED`` for one message already read."""
    return status == N.DELIVERED or (channel == Channel.EMAIL and status == N.SENT)


# --- The history -----------------------------------------------------------------------------------


class NextStep(StrEnum):
    """What vinex did (or does) next about a message."""

    NONE = ""  # reached, nothing more to do
    WAITING = "waiting"  # queued for its first try
    SENDING = "sending"
    RETRY = "retry"  # another try (or call) at ``next_at``
    AWAITING_RECEIPT = "awaiting_receipt"  # handed over; the provider has not reported yet
    AWAITING_PIN = "awaiting_pin"  # a call placed; no PIN or text reply yet
    AWAITING_CALL = "awaiting_call"  # a call with nothing to confirm (a code): its outcome is not in yet
    FELL_BACK = "fell_back"  # calls never confirmed: followed by a text or email
    GAVE_UP = "gave_up"
    STOPPED = "stopped"  # she withdrew or opted out


class Outcome(StrEnum):
    """What became of a message, as every page names it (``message_status_words``)."""

    CONFIRMED_PIN = "confirmed_pin"
    CONFIRMED_REPLY = "confirmed_reply"
    DELIVERED = "delivered"
    ACCEPTED = "accepted"  # an email accepted by her mail server
    CALLED = "called"  # a call placed; not confirmed yet
    SENT = "sent"  # handed over; no receipt yet
    WAITING = "waiting"
    SENDING = "sending"
    RETRYING = "retrying"
    FELL_BACK = "fell_back"  # calls not confirmed; told in writing instead
    FAILED = "failed"
    STOPPED = "stopped"


@dataclass(frozen=True)
class Attempt:
    """One try at handing a message to the provider."""

    number: int
    started_at: datetime
    outcome: str  # sent | transient | permanent
    error: str


@dataclass(frozen=True)
class Call:
    """One call placed for a voice message."""

    placed_at: datetime
    status: str
    answered_by: str
    confirmed_at: datetime | None


@dataclass(frozen=True)
class Message:
    """One message to one contact and everything that happened to it."""

    id: int
    event_id: int | None
    event_type: str  # the custody event's type; "" for a code or a confirmation of the registration
    template: str
    channel: str
    contact: str  # masked
    queued_at: datetime
    status: str
    handed_over_at: datetime | None
    delivered_at: datetime | None
    confirmed_at: datetime | None  # a PIN keyed in, or a reply to the text
    confirmed_by: str  # "pin" | "reply" | ""
    attempts: tuple[Attempt, ...]
    calls: tuple[Call, ...]
    fallback_for: str  # the channel this message stood in for ("voice"), or ""
    next_step: NextStep
    next_at: datetime | None
    reached: bool
    last_error: str

    @property
    def failed(self) -> bool:
        return self.status in (N.FAILED_PERMANENT, N.FAILED_TRANSIENT)

    @property
    def outcome(self) -> Outcome:
        return message_outcome(self)


def registration_history(*, registration: Registration, actor: Actor,
                         purpose: str = "message history") -> list[Message]:
    """``registration_messages``, recorded in the audit log as read by ``actor`` for ``purpose``."""
    messages = registration_messages(registration=registration)
    with audit_unit(actor=actor) as unit:
        unit.add("view", "registration", registration.public_id, purpose=purpose[:100])
        unit.add_many("read", "notification", [m.id for m in messages], purpose=purpose[:100])
    return messages


def registration_messages(*, registration: Registration) -> list[Message]:
    """Every message sent (or being sent) for this registration, and those about no registration (codes)
    to its registrant's contacts, newest first (at most ``HISTORY_MAX``); contacts only masked."""
    rows = list(
        Notification.objects.filter(Q(subscription=registration.subscription_id)
                                    | Q(subscription__isnull=True, contact__registrant=registration.registrant_id))
        .select_related("event", "contact").prefetch_related("delivery_attempts", "voice_calls")
        .order_by("-created_at", "-pk")[:HISTORY_MAX]
    )
    fallbacks = _fallback_events(rows)
    return [_message(n, fallbacks) for n in rows]


def _fallback_events(rows: list[Notification]) -> set[int]:
    """Events whose calls were never confirmed and were followed by a text or email: vinex queues that
    written message when it gives up calling, so later than the call (event messages are queued together)."""
    gave_up = {n.event_id: n.created_at for n in rows if n.event_id and n.channel == Channel.VOICE
               and n.status == N.FAILED_PERMANENT}
    return {n.event_id for n in rows if n.event_id in gave_up and n.channel != Channel.VOICE
            and n.created_at > gave_up[n.event_id]}


def _message(notification: Notification, written_after_voice: set[int]) -> Message:
    calls = tuple(Call(c.created_at, c.status, c.answered_by, c.confirmed_at)
                  for c in sorted(notification.voice_calls.all(), key=lambda c: (c.created_at, c.pk)))
    attempts = tuple(Attempt(a.number, a.started_at, a.outcome, a.error)
                     for a in sorted(notification.delivery_attempts.all(), key=lambda a: a.number))
    reached = message_reached(channel=notification.channel, status=notification.status)
    is_voice = notification.channel == Channel.VOICE
    followed_in_writing = notification.event_id in written_after_voice
    step = _next_step(notification, fell_back=is_voice and followed_in_writing, reached=reached)
    confirmed_at, confirmed_by = _confirmation(notification, calls)
    return Message(
        id=notification.pk, event_id=notification.event_id,
        event_type=notification.event.type if notification.event is not None else "",
        template=notification.template, channel=notification.channel, contact=mask_contact(notification.contact),
        queued_at=notification.created_at, status=notification.status, handed_over_at=notification.sent_at,
        delivered_at=notification.delivered_at, confirmed_at=confirmed_at, confirmed_by=confirmed_by,
        attempts=attempts, calls=calls, fallback_for=Channel.VOICE if followed_in_writing and not is_voice else "",
        next_step=step, next_at=notification.next_attempt_at if step in (NextStep.RETRY, NextStep.WAITING) else None,
        reached=reached, last_error=notification.last_error,
    )


def _confirmation(notification: Notification, calls: tuple[Call, ...]) -> tuple[datetime | None, str]:
    # Only a delivered call counts as confirmed: confirming is what marks it delivered (vinex.notify.voice).
    if notification.channel != Channel.VOICE or notification.status != N.DELIVERED:
        return None, ""
    pinned = [c.confirmed_at for c in calls if c.confirmed_at is not None]
    if pinned:
        return min(pinned), "pin"
    if notification.last_error == REPLY_CONFIRMED:
        return notification.delivered_at, "reply"
    return None, ""


def _next_step(notification: Notification, *, fell_back: bool, reached: bool) -> NextStep:
    status = N(notification.status)
    if reached:
        return NextStep.NONE
    if status == N.SENT:
        if notification.channel != Channel.VOICE:
            return NextStep.AWAITING_RECEIPT
        return NextStep.AWAITING_PIN if notification.event_id is not None else NextStep.AWAITING_CALL
    if status == N.FAILED_PERMANENT:
        return NextStep.FELL_BACK if fell_back else NextStep.GAVE_UP
    return {
        N.QUEUED: NextStep.WAITING, N.SENDING: NextStep.SENDING, N.FAILED_TRANSIENT: NextStep.RETRY,
        N.SUPPRESSED: NextStep.STOPPED,
    }.get(status, NextStep.NONE)


_OUTCOME_OF_STATUS = {
    N.QUEUED: Outcome.WAITING, N.SENDING: Outcome.SENDING, N.SENT: Outcome.SENT, N.DELIVERED: Outcome.DELIVERED,
    N.FAILED_TRANSIENT: Outcome.RETRYING, N.FAILED_PERMANENT: Outcome.FAILED, N.SUPPRESSED: Outcome.STOPPED,
}


def message_outcome(message: Message) -> Outcome:
    """What became of a message: the status every page shows for it."""
    if message.confirmed_by:
        return Outcome.CONFIRMED_PIN if message.confirmed_by == "pin" else Outcome.CONFIRMED_REPLY
    if message.next_step == NextStep.FELL_BACK:
        return Outcome.FELL_BACK
    if message.status == N.SENT:
        if message.channel == Channel.EMAIL:
            return Outcome.ACCEPTED
        return Outcome.CALLED if message.channel == Channel.VOICE else Outcome.SENT
    return _OUTCOME_OF_STATUS[N(message.status)]


# --- Words for people: how a message and its fate are named on every page -------------------------------

_OUTCOME_WORDS = {
    Outcome.DELIVERED: _("Delivered"),
    Outcome.CALLED: _("Called; not confirmed yet"),
    Outcome.SENT: _("Sent"),
    Outcome.WAITING: _("Waiting to be sent"),
    Outcome.SENDING: _("Being sent"),
    Outcome.RETRYING: _("Not delivered yet; we will try again"),
    Outcome.FELL_BACK: _("Calls not confirmed; sent in writing instead"),
    Outcome.FAILED: _("Could not be delivered"),
    Outcome.STOPPED: _("Not sent: messages to this contact were stopped"),
}
# The same facts told to her ("your PIN") or about her to an advocate ("her PIN").
_TO_HER = {
    Outcome.CONFIRMED_PIN: _("Confirmed with your PIN"),
    Outcome.CONFIRMED_REPLY: _("Confirmed by your text reply"),
    Outcome.ACCEPTED: _("Sent: delivered to your email server"),
}
_ABOUT_HER = {
    Outcome.CONFIRMED_PIN: _("Confirmed with her PIN"),
    Outcome.CONFIRMED_REPLY: _("Confirmed by her text reply"),
    Outcome.ACCEPTED: _("Sent: delivered to her email server"),
}
_CHANNEL_WORDS = {Channel.EMAIL: _("Email"), Channel.SMS: _("Text message"), Channel.VOICE: _("Phone call")}
_TEMPLATE_WORDS = {
    "verification_code": _("Your one-time code"),
    "registration_confirmed": _("Registration confirmed"),
    "linkage/correction": _("Correction to an earlier message"),
}


def message_status_words(message: Message, *, about_her: bool = False) -> str:
    """What became of a message, in plain words: said to the registrant, or with ``about_her`` to someone
    who serves her. The same ``message_outcome`` either way."""
    outcome = message_outcome(message)
    words = (_ABOUT_HER if about_her else _TO_HER).get(outcome) or _OUTCOME_WORDS[outcome]
    return str(words)


def message_channel_words(channel: str) -> str:
    return str(_CHANNEL_WORDS.get(Channel(channel), channel))


def message_title(message: Message) -> str:
    """What the message was about: the event's headline, or what kind of notice it was."""
    if message.event_type:
        return event_headline(message.event_type)
    return str(_TEMPLATE_WORDS.get(message.template, _("Custody update")))
