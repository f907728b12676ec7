"""Victim advocates: organisations (prosecutors' victim-witness units, shelters) that serve named agencies,
their members, the consent a victim gave to be registered by one, and the escalations of unreached victims.

Which registrations an organisation serves is recorded below, in ``vinex.registrations.RegistrationShare``
(named by the organisation's code), so that the portal can record a victim's own choice to share.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from vinex.custody.models import Agency, CustodyEvent
from vinex.notify.models import Contact
from vinex.registrations.models import Registration


class Organisation(models.Model):
    """A victim-services organisation; its advocates may register victims of people the named agencies hold."""

    code = models.SlugField(max_length=32, unique=True, help_text="Never changes: registrations name it.")
    name = models.CharField(max_length=200)
    agencies = models.ManyToManyField(Agency, related_name="advocate_organisations", blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.name


class Membership(models.Model):
    """The one organisation an advocate works for, and where her escalation alerts go."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE,
                                related_name="advocate_membership")
    organisation = models.ForeignKey(Organisation, on_delete=models.CASCADE, related_name="members")
    # An operator contact (encrypted like every contact); alerts go through the outbox like any message.
    alert_contact = models.ForeignKey(Contact, on_delete=models.SET_NULL, null=True, blank=True, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.user_id} → {self.organisation.code}"


class ConsentMethod(models.TextChoices):
    IN_PERSON = "in_person", _("In person")
    PHONE = "phone", _("By phone")
    WRITTEN = "written", _("In writing")


class Consent(models.Model):
    """The victim's consent to be registered by an advocate: who recorded it, when, how, and which text."""

    registration = models.OneToOneField(Registration, on_delete=models.CASCADE, related_name="advocate_consent")
    organisation = models.ForeignKey(Organisation, on_delete=models.PROTECT, related_name="consents")
    recorded_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True,
                                    related_name="+")
    given_at = models.DateTimeField()
    method = models.CharField(max_length=10, choices=ConsentMethod.choices)
    text_version = models.CharField(max_length=32)
    recorded_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(method__in=ConsentMethod.values), name="consent_method_valid"),
        ]

    def __str__(self) -> str:
        return f"consent for {self.registration_id} ({self.method}, {self.text_version})"


class Escalation(models.Model):
    """One alert to an organisation's advocates: a victim it serves was not reached about one event.

    The unique constraint is the marker that makes the job idempotent: one alert per victim and event.
    """

    registration = models.ForeignKey(Registration, on_delete=models.CASCADE, related_name="escalations")
    event = models.ForeignKey(CustodyEvent, on_delete=models.PROTECT, related_name="+")
    raised_at = models.DateTimeField()
    channels = models.CharField(max_length=40, help_text="The channels not reached, comma-separated.")
    notified = models.PositiveIntegerField(default=0, help_text="Alerts queued to advocates.")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["registration", "event"], name="one_escalation_per_event")]

    def __str__(self) -> str:
        return f"escalation of {self.registration_id} for event {self.event_id}"
