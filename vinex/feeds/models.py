"""Roster snapshots and their review, feed health, alert recipients and pull connectors."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from vinex.custody.models import Agency, Facility
from vinex.feeds.connector_settings import ConnectorSettingsError, connector_settings_clean
from vinex.notify.models import Contact
from vinex.policy.crypto import EncryptedTextField


class AgencyFeed(models.Model):
    """How an agency's roster files look and how often its feeds are expected to speak."""

    agency = models.OneToOneField(Agency, on_delete=models.CASCADE, related_name="feed")
    # {"first_name": "FNAME", ...}: our column name -> the agency's; unmapped columns keep our names.
    column_map = models.JSONField(default=dict, blank=True)
    cadence_seconds = models.PositiveIntegerField(
        null=True, blank=True, help_text="Expected time between deliveries; empty uses the site default."
    )

    def __str__(self) -> str:
        return f"feed of {self.agency.code}"


class FacilityFeed(models.Model):
    """Health of one facility's feed: when vinex last heard from it."""

    facility = models.OneToOneField(Facility, on_delete=models.CASCADE, related_name="feed")
    monitored = models.BooleanField(default=True)
    cadence_seconds = models.PositiveIntegerField(
        null=True, blank=True, help_text="Overrides the agency's cadence for this facility."
    )
    last_snapshot_at = models.DateTimeField(null=True, blank=True)
    last_event_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"feed of {self.facility.agency.code}/{self.facility.code}"


class EventCursor(models.Model):
    """The newest custody event already counted in feed health (a single row)."""

    last_event_pk = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"events counted up to {self.last_event_pk}"


class SnapshotStatus(models.TextChoices):
    APPLIED = "applied"
    QUARANTINED = "quarantined"
    REJECTED = "rejected"


class Snapshot(models.Model):
    """One full roster received for a facility, what it would change, and what was decided."""

    facility = models.ForeignKey(Facility, on_delete=models.PROTECT, related_name="snapshots")
    received_at = models.DateTimeField()
    origin = models.CharField(max_length=16, help_text="api, cli or connector")
    content_hash = models.CharField(max_length=64)
    header = models.JSONField(default=list)
    row_count = models.PositiveIntegerField(default=0)
    error_count = models.PositiveIntegerField(default=0)
    errors = models.JSONField(default=list, help_text="The first reported row errors.")
    status = models.CharField(max_length=12, choices=SnapshotStatus.choices)
    reasons = models.JSONField(default=list, help_text="Why the snapshot was held.")
    summary = models.JSONField(default=dict, help_text="Counts and a sample of what applying changes.")
    booked = models.PositiveIntegerField(default=0)
    released = models.PositiveIntegerField(default=0)
    transferred = models.PositiveIntegerField(default=0)
    unchanged = models.PositiveIntegerField(default=0)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decision_note = models.CharField(max_length=300, blank=True)

    class Meta:
        indexes = [models.Index(fields=["facility", "received_at"]), models.Index(fields=["status"])]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=SnapshotStatus.values), name="snapshot_status_valid"),
        ]
        permissions = [("review_snapshot", "Can apply or reject held roster snapshots")]

    def __str__(self) -> str:
        return f"snapshot {self.pk} of {self.facility_id} ({self.status})"


class SnapshotData(models.Model):
    """The validated rows of a held snapshot (Parquet), kept until someone decides on it."""

    snapshot = models.OneToOneField(Snapshot, on_delete=models.CASCADE, related_name="data")
    rows = models.BinaryField()
    kept_ids = models.JSONField(default=list, help_text="Subjects whose rows failed validation keep their status.")

    def __str__(self) -> str:
        return f"rows of snapshot {self.snapshot_id}"


class FeedAlertRecipient(models.Model):
    """Who hears that a feed went silent: an agency's staff, or (no agency) the vinex operator."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, null=True, blank=True, related_name="+")
    contact = models.ForeignKey(Contact, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [models.UniqueConstraint(fields=["agency", "contact"], name="feed_alert_recipient_unique")]

    def __str__(self) -> str:
        return f"feed alerts for {self.agency.code if self.agency else 'operator'} to contact {self.contact_id}"


class FeedAlert(models.Model):
    """One alert per silent period: the facility and when it was last heard from."""

    facility = models.ForeignKey(Facility, on_delete=models.CASCADE, related_name="+")
    silent_since = models.DateTimeField()
    raised_at = models.DateTimeField()
    notified = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["facility", "silent_since"], name="one_alert_per_silence")]

    def __str__(self) -> str:
        return f"feed alert for {self.facility_id} silent since {self.silent_since:%Y-%m-%d %H:%M}"


class ConnectorKind(models.TextChoices):
    DIRECTORY = "directory", "Drop folder (vinex roster files)"
    HTTPS = "https", "HTTPS address (vinex roster file)"
    ZUERCHER = "zuercher", "Zuercher Portal (inmate list)"
    JAILTRACKER = "jailtracker", "JailTracker (roster endpoint)"
    EXPORT = "export", "The agency's own CSV or XLSX export (column map)"
    SFTP = "sftp", "SFTP drop"


class PullSource(models.Model):
    """A place vinex fetches a facility's roster from on a schedule."""

    facility = models.ForeignKey(Facility, on_delete=models.CASCADE, related_name="pull_sources")
    kind = models.CharField(max_length=16, choices=ConnectorKind.choices)
    location = models.CharField(max_length=500, help_text="A drop folder path, an https:// or an sftp:// address.")
    auth_header_name = models.CharField(max_length=64, blank=True, default="Authorization")
    auth_header_value = EncryptedTextField(
        blank=True, default="", help_text="Encrypted at rest: the header's value, or an SFTP password or private key."
    )
    # The kind's own settings (page size, column map, host key...), checked against its schema on save.
    settings = models.JSONField(default=dict, blank=True)
    interval_seconds = models.PositiveIntegerField(default=3600)
    enabled = models.BooleanField(default=True)
    next_run_at = models.DateTimeField(null=True, blank=True)
    last_run_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    failures = models.PositiveIntegerField(default=0, help_text="Consecutive failed fetches.")
    last_error = models.CharField(max_length=300, blank=True)
    etag = models.CharField(max_length=200, blank=True)
    last_modified = models.CharField(max_length=100, blank=True)
    identity_note = models.CharField(max_length=300, blank=True, help_text="How the last roster's people were keyed.")

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(kind__in=ConnectorKind.values), name="pull_kind_valid")]

    def __str__(self) -> str:
        return f"{self.kind} source for {self.facility_id}"

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Settings are checked on every save that writes them, whatever the screen or command.
        fields = kwargs.get("update_fields")
        if fields is None or {"settings", "kind", "location"} & set(fields):
            self.clean()
        super().save(*args, **kwargs)

    def clean(self) -> None:
        try:
            self.settings = connector_settings_clean(kind=self.kind, location=self.location, settings=self.settings)
        except ConnectorSettingsError as error:
            raise ValidationError({"settings": str(error)}) from None


class PendingDeparture(models.Model):
    """Someone missing from their facility's roster who may be on another facility's next one (a transfer).

    They stay in custody until every other roster-fed facility of the agency has sent a snapshot
    without them, or twice the feed's cadence passes; then they are released.
    """

    facility = models.ForeignKey(Facility, on_delete=models.CASCADE, related_name="+")
    agency_subject_id = models.CharField(max_length=64)
    snapshot = models.ForeignKey(Snapshot, on_delete=models.CASCADE, related_name="+")
    noticed_at = models.DateTimeField()
    waiting_for = models.JSONField(default=list, help_text="Facility ids whose next snapshot may show them.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["facility", "agency_subject_id"], name="one_pending_departure")
        ]

    def __str__(self) -> str:
        return f"pending departure from {self.facility_id} noticed {self.noticed_at:%Y-%m-%d %H:%M}"


class ReleaseHoldDecision(models.TextChoices):
    PENDING = "", "Awaiting review"
    APPROVED = "approved", "Approved and sent"
    REJECTED = "rejected", "Rejected, never sent"


class ReleaseHold(models.Model):
    """A pushed RELEASED event whose notifications are held: its agency pushed an implausible share of
    releases within the sliding window (vinex.feeds.release_guard). The event is recorded as usual; only
    telling victims waits for a person to approve (send) or reject (discard) the agency's held releases."""

    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+", db_index=False)
    event = models.OneToOneField("custody.CustodyEvent", on_delete=models.CASCADE, related_name="+")
    held_at = models.DateTimeField()
    decision = models.CharField(max_length=8, choices=ReleaseHoldDecision.choices, blank=True, default="")
    decided_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.PROTECT, null=True, blank=True,
                                   related_name="+")
    decided_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [models.Index(fields=["agency", "decision"])]
        constraints = [models.CheckConstraint(condition=Q(decision__in=ReleaseHoldDecision.values),
                                              name="release_hold_decision_valid")]

    def __str__(self) -> str:
        return f"release notification of event {self.event_id} held ({self.decision or 'pending'})"
