"""Calls the call centre takes and the callbacks it owes.

By design there is no field for a caller's immigration status, nationality or address, and none may
be added: callers are never asked. Free text (names, notes) is encrypted at rest and listed in each
model's ``personal_data_fields`` so that retention and review tools can find it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from vinex.notify.models import Contact, Language
from vinex.policy.crypto import EncryptedTextField
from vinex.registrations.models import Registration


class CallStatus(models.TextChoices):
    WAITING = "waiting", _("Waiting to be taken")
    OPEN = "open", _("In progress")
    CLOSED = "closed", _("Closed")


class CallSource(models.TextChoices):
    PHONE = "phone", _("Phone call to the call centre")
    IVR = "ivr", _("Phone menu")
    CALLBACK = "callback", _("Callback")


class CallOutcome(models.TextChoices):
    REGISTERED = "registered", _("Caller registered")
    INFORMED = "informed", _("Information given")
    CALLBACK = "callback", _("Callback scheduled")
    REFERRED = "referred", _("Referred to victim services")
    DROPPED = "dropped", _("Call dropped")
    OTHER = "other", _("Other")


class HotlineCall(models.Model):
    """One conversation with a caller, from the phone menu's queue or taken directly by staff."""

    personal_data_fields = ("caller_name", "notes")

    source = models.CharField(max_length=8, choices=CallSource.choices, default=CallSource.PHONE)
    status = models.CharField(max_length=8, choices=CallStatus.choices, default=CallStatus.OPEN)
    taken_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                 related_name="+")
    language = models.CharField(max_length=2, choices=Language.choices, default=Language.EN)
    caller_name = EncryptedTextField(blank=True, default="", help_text="Personal data, optional, encrypted.")
    notes = EncryptedTextField(blank=True, default="", help_text="Personal data, length-limited, encrypted.")
    # Twilio's id of the inbound call when it came through the phone menu (to match the queue).
    call_sid = models.CharField(max_length=64, blank=True, db_index=True)
    outcome = models.CharField(max_length=10, choices=CallOutcome.choices, blank=True)
    registrations = models.ManyToManyField(Registration, blank=True, related_name="hotline_calls")
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    ended_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(status__in=CallStatus.values), name="hotline_call_status_valid"),
            models.CheckConstraint(condition=Q(outcome="") | Q(outcome__in=CallOutcome.values),
                                   name="hotline_call_outcome_valid"),
        ]
        indexes = [models.Index(fields=["status", "created_at"])]

    def __str__(self) -> str:
        return f"hotline call {self.pk} ({self.status})"


class CallbackStatus(models.TextChoices):
    SCHEDULED = "scheduled", _("Scheduled")
    DONE = "done", _("Done")
    CANCELLED = "cancelled", _("Cancelled")


class CallbackOutcome(models.TextChoices):
    REACHED = "reached", _("Reached the caller")
    NO_ANSWER = "no_answer", _("No answer")
    VOICEMAIL = "voicemail", _("Left a voicemail")
    WRONG_NUMBER = "wrong", _("Wrong number")


class Callback(models.Model):
    """A call the call centre promised to make, at a time in the caller's time zone."""

    personal_data_fields = ("phone", "notes")

    call = models.ForeignKey(HotlineCall, on_delete=models.CASCADE, null=True, blank=True, related_name="callbacks")
    # A verified contact of the caller's registration, or else the number they gave (never verified by us).
    contact = models.ForeignKey(Contact, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    phone = EncryptedTextField(blank=True, default="", help_text="Personal data, encrypted: E.164 number to call.")
    language = models.CharField(max_length=2, choices=Language.choices, default=Language.EN)
    due_at = models.DateTimeField()
    timezone = models.CharField(max_length=64, help_text="The caller's time zone, to show the time they asked for.")
    status = models.CharField(max_length=10, choices=CallbackStatus.choices, default=CallbackStatus.SCHEDULED)
    outcome = models.CharField(max_length=10, choices=CallbackOutcome.choices, blank=True)
    notes = EncryptedTextField(blank=True, default="", help_text="Personal data, length-limited, encrypted.")
    attempts = models.PositiveSmallIntegerField(default=0)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+")
    completed_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                     related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)
    completed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(status__in=CallbackStatus.values), name="callback_status_valid"),
            models.CheckConstraint(condition=Q(outcome="") | Q(outcome__in=CallbackOutcome.values),
                                   name="callback_outcome_valid"),
        ]
        indexes = [models.Index(fields=["status", "due_at"])]

    def __str__(self) -> str:
        return f"callback {self.pk} ({self.status})"
