"""Registrants, their contacts and subscriptions, and the notification outbox."""

from __future__ import annotations

from django.db import models
from django.db.models import Q

from vinex.core.constraints import one_of
from vinex.custody.models import CustodyEvent, Person
from vinex.policy.crypto import EncryptedTextField


class Language(models.TextChoices):
    EN = "en", "English"
    ES = "es", "Español"


class Channel(models.TextChoices):
    EMAIL = "email"
    SMS = "sms"
    VOICE = "voice"


class CreatedVia(models.TextChoices):
    PORTAL = "portal"
    HOTLINE = "hotline"
    STAFF = "staff"
    OPERATOR = "operator"  # feed-health and system alerts to agency or vinex operators, not victims


class CallPreference(models.TextChoices):
    """How insistent voice notifications are, chosen by the registrant."""

    STANDARD = "standard"  # the calling schedule in settings, until the PIN or a text reply confirms
    GENTLE = "gentle"  # one call; if it is not confirmed, a text or email instead of calling again
    NONE = "none"  # never call; text and email only


class Registrant(models.Model):
    """Someone who asked to be told. Deliberately holds no name, address or immigration status."""

    language = models.CharField(max_length=2, choices=Language.choices, default=Language.EN)
    created_via = models.CharField(max_length=8, choices=CreatedVia.choices, default=CreatedVia.PORTAL)
    created_at = models.DateTimeField(auto_now_add=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    # argon2 hash of the 4-digit PIN that confirms a voice notification; never the PIN itself.
    pin_hash = models.CharField(max_length=200, blank=True)
    call_preference = models.CharField(max_length=8, choices=CallPreference.choices, default=CallPreference.STANDARD)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(call_preference__in=CallPreference.values),
                                   name="registrant_call_preference_valid"),
        ]

    def __str__(self) -> str:
        return f"registrant {self.pk}"


class Contact(models.Model):
    registrant = models.ForeignKey(Registrant, on_delete=models.CASCADE, related_name="contacts")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    value = EncryptedTextField(help_text="E.164 number or email address, encrypted at rest.")
    value_index = models.CharField(max_length=64, db_index=True, help_text="Blind index of the normalised value.")
    verified_at = models.DateTimeField(null=True, blank=True)
    opted_out_at = models.DateTimeField(null=True, blank=True)
    # Set when the address can no longer receive (an email's hard bounce): nothing more is sent to it, and
    # what bounced goes by the registrant's other contacts.
    undeliverable_at = models.DateTimeField(null=True, blank=True)
    undeliverable_reason = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["registrant", "channel", "value_index"], name="contact_unique"),
            models.CheckConstraint(condition=Q(channel__in=Channel.values), name="contact_channel_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.channel} contact {self.pk}"

    @property
    def reachable(self) -> bool:
        return self.verified_at is not None and self.opted_out_at is None and self.undeliverable_at is None


class SubscriptionStatus(models.TextChoices):
    PENDING = "pending"
    ACTIVE = "active"
    SUSPENDED = "suspended"
    WITHDRAWN = "withdrawn"


class Tier(models.TextChoices):
    PUBLIC = "public"
    VERIFIED_VICTIM = "verified_victim"
    OFFICER_APPROVED = "officer_approved"


class Subscription(models.Model):
    registrant = models.ForeignKey(Registrant, on_delete=models.CASCADE, related_name="subscriptions")
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="subscriptions")
    tier = models.CharField(max_length=16, choices=Tier.choices, default=Tier.PUBLIC)
    created_via = models.CharField(max_length=8, choices=CreatedVia.choices, default=CreatedVia.PORTAL)
    status = models.CharField(max_length=10, choices=SubscriptionStatus.choices, default=SubscriptionStatus.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["registrant", "person"], name="subscription_unique")]
        indexes = [models.Index(fields=["person", "status"])]

    def __str__(self) -> str:
        return f"subscription {self.pk} ({self.status})"


class NotificationStatus(models.TextChoices):
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    FAILED_TRANSIENT = "failed_transient"
    FAILED_PERMANENT = "failed_permanent"
    SUPPRESSED = "suppressed"  # opted out or withdrawn after it was queued


# Which status may follow which is decided in vinex.notify.lifecycle, the only writer of ``status``.


class Notification(models.Model):
    """One message to one contact: the outbox row, then the record of what happened to it."""

    subscription = models.ForeignKey(
        Subscription, on_delete=models.CASCADE, null=True, blank=True, related_name="notifications"
    )
    event = models.ForeignKey(
        CustodyEvent, on_delete=models.PROTECT, null=True, blank=True, related_name="notifications"
    )
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="notifications")
    channel = models.CharField(max_length=8, choices=Channel.choices)
    template = models.CharField(max_length=40)
    language = models.CharField(max_length=2, choices=Language.choices)
    subject_line = models.CharField(max_length=200, blank=True)
    body = EncryptedTextField()
    status = models.CharField(max_length=16, choices=NotificationStatus.choices, default=NotificationStatus.QUEUED)
    attempts = models.PositiveIntegerField(default=0)
    next_attempt_at = models.DateTimeField()
    claimed_by = models.CharField(max_length=64, blank=True)
    claimed_at = models.DateTimeField(null=True, blank=True)
    provider_id = models.CharField(max_length=64, blank=True, db_index=True)
    last_error = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["event", "contact"], condition=Q(event__isnull=False), name="one_notification_per_event_contact"
            ),
            models.CheckConstraint(condition=one_of("status", NotificationStatus.values),
                                   name="notification_status_valid"),
        ]
        indexes = [models.Index(fields=["status", "next_attempt_at"])]

    def __str__(self) -> str:
        return f"notification {self.pk} {self.channel} {self.status}"


class DeliveryAttempt(models.Model):
    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="delivery_attempts")
    number = models.PositiveIntegerField()
    worker = models.CharField(max_length=64)
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField()
    outcome = models.CharField(max_length=16)
    error = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["notification", "number"], name="attempt_number_unique")]

    def __str__(self) -> str:
        return f"attempt {self.number} of notification {self.notification_id}: {self.outcome}"


class DeliveryReceipt(models.Model):
    """A provider's report on a message after we handed it over (e.g. Twilio status callbacks)."""

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="receipts")
    provider_status = models.CharField(max_length=32)
    error_code = models.CharField(max_length=16, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"receipt {self.provider_status} for notification {self.notification_id}"


class VoiceCall(models.Model):
    """One call placed for a voice notification, as Twilio reported it."""

    notification = models.ForeignKey(Notification, on_delete=models.CASCADE, related_name="voice_calls")
    call_sid = models.CharField(max_length=64, unique=True)
    status = models.CharField(max_length=16, blank=True)
    answered_by = models.CharField(max_length=24, blank=True)
    pin_attempts = models.PositiveSmallIntegerField(default=0)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"call {self.call_sid} ({self.status or 'placed'})"


class BreakerState(models.TextChoices):
    CLOSED = "closed"  # sending normally
    OPEN = "open"  # paused after repeated provider faults, until ``paused_until``
    HALF_OPEN = "half_open"  # one probe message is out; its outcome closes or re-opens the breaker


class ProviderBreaker(models.Model):
    """The health of one provider account, shared by every worker process: its circuit breaker and any
    back-off the provider asked for (a 429's Retry-After). One small row per provider, read once a round."""

    provider = models.CharField(max_length=100, unique=True, help_text="e.g. twilio:AC… or smtp:host:port")
    state = models.CharField(max_length=10, choices=BreakerState.choices, default=BreakerState.CLOSED)
    consecutive_failures = models.PositiveIntegerField(default=0)
    paused_until = models.DateTimeField(null=True, blank=True, help_text="No send before this (open breaker).")
    backoff_until = models.DateTimeField(null=True, blank=True, help_text="No send before this (provider's 429).")
    opened_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=one_of("state", BreakerState.values),
                                              name="provider_breaker_state_valid")]

    def __str__(self) -> str:
        return f"{self.provider} ({self.state})"
