"""Email bounces: a VERP return path per message, and what a hard bounce changes.

With ``VINEX_BOUNCE_DOMAIN`` set, each email leaves with the envelope sender
``bounces+<notification id>-<signature>@<domain>``, so a bounce names the message it is about without
parsing its text, and a forged bounce (a wrong signature) is ignored. ``vinex bounces`` receives them
(``bounce_listener``); a hard bounce (a delivery status notification with a permanent ``5.x.x`` status)
marks the address undeliverable, fails the message, and sends it by the registrant's other contacts, as
an unconfirmed call falls back to writing. A soft bounce (``4.x.x``) is only recorded on the message: the
mail system retries those itself.
"""

from __future__ import annotations

import asyncio
import email
import hmac
import logging
import re
from dataclasses import dataclass
from email.message import Message
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.crypto import salted_hmac

from vinex.audit.unit import Actor, audit_unit
from vinex.notify import lifecycle
from vinex.notify.models import Channel, Contact, Notification, NotificationStatus
from vinex.notify.services import notification_enqueue_for_contacts

logger = logging.getLogger(__name__)

BOUNCE_SALT = "vinex.notify.bounce"
ACTOR = Actor.system("bounces")
_ADDRESS = re.compile(r"^bounces\+(?P<id>\d+)-(?P<signature>[0-9a-f]{16})@(?P<domain>[^@]+)$", re.IGNORECASE)
_STATUS = re.compile(r"^\s*([245])\.\d{1,3}\.\d{1,3}")


def _signature(notification_id: int) -> str:
    return salted_hmac(BOUNCE_SALT, str(notification_id)).hexdigest()[:16]


def return_path(*, notification_id: int) -> str | None:
    """The envelope sender for this message, or None when bounces are not collected."""
    if not settings.VINEX_BOUNCE_DOMAIN:
        return None
    return f"bounces+{notification_id}-{_signature(notification_id)}@{settings.VINEX_BOUNCE_DOMAIN}"


def notification_of_return_path(address: str) -> int | None:
    """The notification a bounce address names, if it is ours and its signature holds."""
    match = _ADDRESS.match(address.strip().strip("<>"))
    if match is None or match["domain"].lower() != settings.VINEX_BOUNCE_DOMAIN:
        return None
    notification_id = int(match["id"])
    return notification_id if hmac.compare_digest(match["signature"].lower(), _signature(notification_id)) else None


@dataclass(frozen=True)
class Bounce:
    hard: bool
    status: str
    diagnostic: str


def bounce_read(raw: bytes) -> Bounce | None:
    """What a delivery status notification (RFC 3464) says, or None when the message is not one."""
    message = email.message_from_bytes(raw)
    for part in message.walk():
        if part.get_content_type() != "message/delivery-status":
            continue
        for block in _status_blocks(part):
            status = str(block.get("Status", ""))
            found = _STATUS.match(status)
            if found and found[1] in "45":
                return Bounce(found[1] == "5", status.strip()[:20], str(block.get("Diagnostic-Code", "")).strip()[:200])
    return None


def _status_blocks(part: Message) -> list[Message]:
    payload = part.get_payload()
    if isinstance(payload, list):  # the standard library parses the per-recipient blocks as messages
        return [p for p in payload if isinstance(p, Message)]
    text = part.get_payload(decode=True) or b""
    return [email.message_from_bytes(block) for block in bytes(text).split(b"\n\n") if block.strip()]


def notification_bounce_record(*, notification_id: int, bounce: Bounce) -> bool:
    """Apply a bounce to the message it names; True when it was a hard bounce of a message we sent."""
    now = timezone.now()
    with transaction.atomic(), audit_unit(actor=ACTOR) as unit:
        notification = Notification.objects.select_related("contact", "subscription", "event").filter(
            pk=notification_id, channel=Channel.EMAIL).first()
        if notification is None:
            return False
        why = f"bounced {bounce.status} {bounce.diagnostic}".strip()[:300]
        if not bounce.hard:
            Notification.objects.filter(pk=notification.pk).update(last_error=why, updated_at=now)
            return False
        lifecycle.notification_move(notification_id=notification.pk, to=NotificationStatus.FAILED_PERMANENT, now=now,
                                    why="hard bounce", last_error=why)
        Contact.objects.filter(pk=notification.contact_id, undeliverable_at__isnull=True).update(
            undeliverable_at=now, undeliverable_reason=why)
        unit.add("update", "contact", notification.contact_id, purpose="hard bounce")
        # Nothing else may go to the address: what is still waiting for it is stopped too.
        lifecycle.notifications_suppress_waiting(rows=Notification.objects.filter(contact_id=notification.contact_id),
                                                 reason="address undeliverable (bounced)", now=now)
        _fall_back(notification)
    logger.warning("hard bounce", extra={"notification": notification_id, "status": bounce.status})
    return True


def _fall_back(notification: Notification) -> None:
    """Send the bounced message by the registrant's other contacts that have not had it yet."""
    if notification.event is None or notification.subscription is None:
        return  # a code or an operator alert: whoever asked for it will ask again
    others = [c for c in Contact.objects.filter(registrant_id=notification.contact.registrant_id)
              .exclude(channel=Channel.EMAIL).select_related("registrant")
              if c.reachable and not Notification.objects.filter(event_id=notification.event_id, contact=c).exists()]
    if others:
        notification_enqueue_for_contacts(event=notification.event, subscription=notification.subscription,
                                          contacts=others)


class BounceHandler:
    """The ``aiosmtpd`` handler of ``vinex bounces``: accepts mail only for valid bounce addresses."""

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: list[str]) -> str:
        if notification_of_return_path(address) is None:
            return "550 5.1.1 no such bounce address"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        bounce = bounce_read(envelope.original_content or envelope.content)
        if bounce is not None:
            for address in envelope.rcpt_tos:
                notification_id = notification_of_return_path(address)
                if notification_id is not None:
                    # The database is synchronous: off the event loop.
                    await asyncio.to_thread(_record_closing, notification_id, bounce)
        return "250 OK"


def _record_closing(notification_id: int, bounce: Bounce) -> None:
    from django.db import connection

    try:
        notification_bounce_record(notification_id=notification_id, bounce=bounce)
    finally:
        connection.close()
