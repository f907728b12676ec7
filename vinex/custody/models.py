"""Agencies, facilities, people in custody and their append-only event history."""

from __future__ import annotations

import unicodedata
from functools import lru_cache
from typing import Any

from django.db import models

from vinex.core.constraints import one_of


def fold_name(value: str) -> str:
    """Case-, accent- and whitespace-insensitive form of a name: "  José  María " -> "jose maria"."""
    if value.isascii():  # most names: NFKD leaves ASCII alone and it has no combining marks
        return " ".join(value.casefold().split())
    decomposed = unicodedata.normalize("NFKD", value)
    stripped = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(stripped.casefold().split())


@lru_cache(maxsize=65_536)  # names repeat, and ingestion keys every event's subject
def name_key(first_name: str, last_name: str) -> str:
    return f"{fold_name(first_name)}|{fold_name(last_name)}"


class CustodyStatus(models.TextChoices):
    IN_CUSTODY = "IN_CUSTODY", "In custody"
    ON_LEAVE = "ON_LEAVE", "On leave"
    RELEASED = "RELEASED", "Released"
    REMOVED = "REMOVED", "Removed"
    ESCAPED = "ESCAPED", "Escaped"
    DECEASED = "DECEASED", "Deceased"
    UNKNOWN = "UNKNOWN", "Unknown"


class EventType(models.TextChoices):
    BOOKED = "BOOKED"
    TRANSFERRED = "TRANSFERRED"
    RELEASE_SCHEDULED = "RELEASE_SCHEDULED"
    RELEASED = "RELEASED"
    TEMPORARY_RELEASE = "TEMPORARY_RELEASE"
    RETURNED_TO_CUSTODY = "RETURNED_TO_CUSTODY"
    REMOVED = "REMOVED"
    ESCAPED = "ESCAPED"
    RECAPTURED = "RECAPTURED"
    DECEASED = "DECEASED"
    HEARING_SCHEDULED = "HEARING_SCHEDULED"
    HEARING_RESCHEDULED = "HEARING_RESCHEDULED"
    HEARING_CANCELLED = "HEARING_CANCELLED"
    CORRECTION = "CORRECTION"


class ReleaseReason(models.TextChoices):
    BOND = "bond"
    SERVED = "served"
    COURT_ORDER = "court_order"
    PAROLE = "parole"
    TRANSFERRED_TO_OTHER_JURISDICTION = "transferred_to_other_jurisdiction"
    ERROR = "error"
    UNKNOWN = "unknown"


class EventSource(models.TextChoices):
    API = "api"
    ROSTER = "roster"
    CONNECTOR = "connector"
    MANUAL = "manual"


class PublicLocator(models.TextChoices):
    """Whether the public locator (web, API, phone menu) may show this agency's people."""

    SHOWN = "shown", "Shown (A-number searches too, unless the sharing policy refuses immigration enforcement)"
    NOT_BY_A_NUMBER = "not_by_a_number", "Shown, but never found by an A-number search"
    HIDDEN = "hidden", "Never shown by the public locator"


class Agency(models.Model):
    code = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=200)
    jurisdiction_code = models.CharField(max_length=32, help_text="Code of the jurisdiction, e.g. a FIPS code.")
    # Which partners and purposes may receive this agency's custody data (enforced by vinex.privacy).
    sharing_policy = models.JSONField(default=dict, blank=True)
    # What the public locator may show of this agency's people (enforced by vinex.policy.disclosure).
    public_locator = models.CharField(max_length=16, choices=PublicLocator.choices, default=PublicLocator.SHOWN)
    support_name = models.CharField(max_length=200, blank=True, help_text="Local victim support named in messages.")
    support_phone = models.CharField(max_length=32, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "agencies"

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"


class Facility(models.Model):
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="facilities")
    code = models.SlugField(max_length=32)
    name = models.CharField(max_length=200)
    address = models.CharField(max_length=300, blank=True)
    phone = models.CharField(max_length=32, blank=True)
    timezone = models.CharField(max_length=64, default="America/New_York")

    class Meta:
        verbose_name_plural = "facilities"
        constraints = [models.UniqueConstraint(fields=["agency", "code"], name="facility_code_unique_per_agency")]

    def __str__(self) -> str:
        return f"{self.code} — {self.name}"


class ApiKey(models.Model):
    """An agency's credential for the push API. Only a hash of the secret is stored."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="api_keys")
    name = models.CharField(max_length=100, blank=True)
    prefix = models.CharField(max_length=16, unique=True)
    secret_hash = models.CharField(max_length=64)
    scopes = models.JSONField(default=list)
    # The purposes a partner key may state when it reads other agencies' data (vinex.policy.sharing.Purpose).
    purposes = models.JSONField(default=list, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    last_used_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.agency.code}:{self.prefix}"


class Person(models.Model):
    """The cross-agency identity that subscriptions follow (one per Subject until linkage merges them)."""

    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "people"

    def __str__(self) -> str:
        return f"person {self.pk}"


class Subject(models.Model):
    """A person in custody as one agency knows them, with the status derived from their events."""

    # Foreign-key indexes that a wider index or unique constraint already covers are left out: each
    # costs a write per row on the ingest path and answers nothing the wider one does not.
    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="subjects", db_index=False)
    agency_subject_id = models.CharField(max_length=64)
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="subjects")
    first_name = models.CharField(max_length=100)
    last_name = models.CharField(max_length=100)
    date_of_birth = models.DateField(null=True, blank=True)
    country_of_birth = models.CharField(max_length=2, blank=True)
    a_number = models.CharField(max_length=9, blank=True)
    fbi_number = models.CharField(max_length=32, blank=True)
    state_id = models.CharField(max_length=32, blank=True)
    booking_number = models.CharField(max_length=32, blank=True)
    protected = models.BooleanField(default=False, help_text="Juvenile, witness protection or court order.")
    # "first|last" folded for exact, case-, accent- and whitespace-insensitive lookups (see name_key()).
    name_key = models.CharField(max_length=201, blank=True, editable=False)

    # Derived from the ordered event history by vinex.custody.statemachine; never edited by hand.
    status = models.CharField(max_length=16, choices=CustodyStatus.choices, default=CustodyStatus.UNKNOWN)
    status_reason = models.CharField(max_length=40, blank=True)
    facility = models.ForeignKey(Facility, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                 db_index=False)
    status_changed_at = models.DateTimeField(null=True, blank=True)
    scheduled_release_at = models.DateTimeField(null=True, blank=True)
    # occurred_at of the newest event folded into the state above: newer events fold on from here.
    last_event_at = models.DateTimeField(null=True, blank=True)
    # How many of the subject's events the replay holds: early events waiting for the ones that explain
    # them (vinex.custody.statemachine.replay). Zero for a complete, valid history.
    pending_events = models.PositiveIntegerField(default=0)

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agency", "agency_subject_id"], name="subject_id_unique_per_agency"),
            models.CheckConstraint(condition=one_of("status", CustodyStatus.values), name="subject_status_valid"),
        ]
        indexes = [
            # Covers the population read of a roster import (who is in custody here), index only.
            models.Index(fields=["facility", "status", "agency_subject_id"]),
            models.Index(fields=["agency", "booking_number"]),
            # Linkage finds candidates by these, the locator searches by the A-number and the name; partial, so
            # a subject without one costs no index write.
            models.Index(fields=["a_number", "country_of_birth"], condition=~models.Q(a_number=""),
                         name="subject_a_number"),
            models.Index(fields=["fbi_number"], condition=~models.Q(fbi_number=""), name="subject_fbi_number"),
            models.Index(fields=["state_id"], condition=~models.Q(state_id=""), name="subject_state_id"),
            # One index for linkage (name and date of birth) and the locator (name and country, the date of
            # birth known): a new person's key lands on a page of its own in every index led by the name, so
            # each such index costs a batch of 1,000 new people about 1,000 pages written to disk.
            models.Index(fields=["name_key", "date_of_birth", "country_of_birth"],
                         condition=models.Q(date_of_birth__isnull=False), name="subject_name_birth_country"),
        ]

    def __str__(self) -> str:
        return f"{self.agency.code}:{self.agency_subject_id}"

    @property
    def display_name(self) -> str:
        return f"{self.first_name} {self.last_name}".strip()


class CustodyEvent(models.Model):
    """One fact reported by an agency. Append-only: corrections are new CORRECTION events."""

    agency = models.ForeignKey(Agency, on_delete=models.PROTECT, related_name="events", db_index=False)
    event_id = models.CharField(max_length=128)
    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="events", db_index=False)
    type = models.CharField(max_length=24, choices=EventType.choices)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField()
    # Not indexed: nothing looks events up by facility except the check before a facility is deleted (rare,
    # and refused whenever events name it), while each index costs a write per event on the ingest path.
    facility = models.ForeignKey(Facility, on_delete=models.PROTECT, related_name="+", db_index=False)
    to_facility = models.ForeignKey(Facility, on_delete=models.PROTECT, null=True, blank=True, related_name="+",
                                    db_index=False)
    reason = models.CharField(max_length=40, choices=ReleaseReason.choices, blank=True)
    scheduled_for = models.DateTimeField(null=True, blank=True)
    hearing_id = models.CharField(max_length=64, blank=True)
    court_name = models.CharField(max_length=200, blank=True)
    corrects_event_id = models.CharField(max_length=128, blank=True)
    source = models.CharField(max_length=16, choices=EventSource.choices, default=EventSource.API)
    source_ref = models.CharField(max_length=128, blank=True, help_text="e.g. roster snapshot id and row")
    payload_hash = models.CharField(max_length=64)
    notified = models.BooleanField(default=False, help_text="True when this event produced notifications.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["agency", "event_id"], name="event_id_unique_per_agency"),
            models.CheckConstraint(condition=one_of("type", EventType.values), name="event_type_valid"),
        ]
        indexes = [models.Index(fields=["subject", "occurred_at", "id"])]

    def __str__(self) -> str:
        return f"{self.agency_id}:{self.event_id} {self.type}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        if self.pk is not None and not kwargs.get("force_insert"):
            raise ValueError("custody events are append-only; record a CORRECTION instead")
        super().save(*args, **kwargs)


class SubjectContact(models.Model):
    """A phone number or email an agency holds for a person in custody, kept only as its blind index.

    Used for one thing: to notice a registration whose contact is the followed person's own (someone
    registering to follow themselves or their co-defendant is not a victim). The value itself is never
    stored, so it can never be shown or leaked.
    """

    subject = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="+")
    value_index = models.CharField(max_length=64, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "privacy_subjectcontact"  # where it was created, before it moved here from privacy
        constraints = [models.UniqueConstraint(fields=["subject", "value_index"], name="subject_contact_unique")]

    def __str__(self) -> str:
        return f"contact index of subject {self.subject_id}"
