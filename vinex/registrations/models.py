"""Registrations (made on the portal, through the public API, by the hotline or its IVR) and the one-time
codes that verify them.

A registration records how it arrived (channel, a keyed hash of the client address, time) for abuse
review, and deliberately nothing about the registrant's case unless they choose to give a case number.
"""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from vinex.notify.models import Contact, CreatedVia, Registrant, Subscription
from vinex.policy.crypto import EncryptedTextField


class RegistrationStatus(models.TextChoices):
    PENDING = "pending_verification"
    ACTIVE = "active"
    HELD = "pending_review"
    REFUSED = "refused"
    WITHDRAWN = "withdrawn"


class Relationship(models.TextChoices):
    VICTIM = "victim", _("I am the victim")
    FAMILY = "family", _("Family member of the victim")
    ADVOCATE = "advocate", _("Victim advocate")
    WITNESS = "witness", _("Witness")
    OTHER = "other", _("Other")


class Arrival(models.TextChoices):
    WEB = "web"
    API = "api"
    HOTLINE = "hotline"
    ADVOCATE = "advocate"  # made by a victim advocate on the victim's behalf, with her consent
    IVR = "ivr"  # the phone menu: a calling number, unlike the call centre's staff, stands for one client


class Registration(models.Model):
    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    registrant = models.ForeignKey(Registrant, on_delete=models.CASCADE, related_name="registrations")
    subscription = models.OneToOneField(Subscription, on_delete=models.CASCADE, related_name="registration")
    created_via = models.CharField(max_length=8, choices=CreatedVia.choices, default=CreatedVia.PORTAL)
    channel = models.CharField(max_length=8, choices=Arrival.choices)
    ip_hash = models.CharField(max_length=64, help_text="Keyed hash of the client address; never the address.")
    # How the locator's audit entries name this client, so the privacy check can see a sweep of look-ups.
    locator_client = models.CharField(max_length=16, blank=True)
    # The client whose search result (subject_ref) was used: another than the registering one is held.
    search_client = models.CharField(max_length=16, blank=True)
    relationship = models.CharField(max_length=16, choices=Relationship.choices, blank=True)
    case_number = EncryptedTextField(null=True, blank=True, help_text="Only if the registrant chose to give it.")
    # Whether the agency confirmed that case number (checked by a privacy officer or the call centre).
    case_checked_at = models.DateTimeField(null=True, blank=True)
    case_confirmed = models.BooleanField(null=True, blank=True)
    status = models.CharField(max_length=24, choices=RegistrationStatus.choices, default=RegistrationStatus.PENDING)
    decision_reason = models.CharField(max_length=200, blank=True, help_text="For staff; never shown publicly.")
    manage_token_hash = models.CharField(max_length=64, blank=True, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    activated_at = models.DateTimeField(null=True, blank=True)
    withdrawn_at = models.DateTimeField(null=True, blank=True)
    purge_after = models.DateTimeField(null=True, blank=True, help_text="When the contact data is to be purged.")

    class Meta:
        db_table = "portal_registration"  # created by the portal app, where registrations began
        constraints = [
            models.CheckConstraint(condition=Q(status__in=RegistrationStatus.values), name="registration_status_valid"),
            models.CheckConstraint(
                condition=Q(relationship="") | Q(relationship__in=Relationship.values),
                name="registration_relationship_valid",
            ),
        ]
        indexes = [models.Index(fields=["ip_hash", "created_at"])]

    def __str__(self) -> str:
        return f"registration {self.public_id} ({self.status})"


class ContactVerification(models.Model):
    """The current one-time code for one contact. Only a keyed hash of the code is stored."""

    registration = models.ForeignKey(Registration, on_delete=models.CASCADE, related_name="verifications")
    contact = models.OneToOneField(Contact, on_delete=models.CASCADE, related_name="verification")
    code_hash = models.CharField(max_length=64)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0, help_text="Wrong guesses at the current code.")
    sends = models.PositiveSmallIntegerField(default=0)
    last_sent_at = models.DateTimeField()
    verified_at = models.DateTimeField(null=True, blank=True)
    # Names the phone or mailbox the contact reaches (screening.contact_identity), for the per-contact limit.
    identity_index = models.CharField(max_length=64, blank=True, db_index=True)

    class Meta:
        db_table = "portal_contactverification"

    def __str__(self) -> str:
        return f"verification of contact {self.contact_id}"


class ShareReason(models.TextChoices):
    REGISTERED = "registered"  # the organisation's advocate made the registration
    SHARED = "shared"  # the registrant chose to let the organisation see it


class RegistrationShare(models.Model):
    """An advocate organisation that serves this registrant and may see the registration and its messages.

    The organisation is named by its code: the advocates app sits above registrations, so registrations
    cannot link to its table, but the portal and the API can record a victim's choice to share here.
    """

    registration = models.ForeignKey(Registration, on_delete=models.CASCADE, related_name="shares")
    organisation_code = models.CharField(max_length=32, db_index=True)
    reason = models.CharField(max_length=10, choices=ShareReason.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["registration", "organisation_code"], name="registration_share_unique"),
            models.CheckConstraint(condition=Q(reason__in=ShareReason.values), name="registration_share_reason_valid"),
        ]

    def __str__(self) -> str:
        return f"{self.registration_id} shared with {self.organisation_code} ({self.reason})"
