"""What the privacy app keeps: refused disclosures (for reports) and reports of wrong data (redress)."""

from __future__ import annotations

import uuid

from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _

from vinex.custody.models import Agency, CustodyEvent, Person
from vinex.policy.crypto import EncryptedTextField


class DisclosureDenial(models.Model):
    """A partner read refused by the owning agency's sharing policy: counted, never the data itself."""

    owner = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+")
    partner = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="+")
    purpose = models.CharField(max_length=32)
    reason = models.CharField(max_length=200)
    records = models.PositiveIntegerField(default=1, help_text="How many records the refused read would have returned.")
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        indexes = [models.Index(fields=["at", "owner"])]

    def __str__(self) -> str:
        return f"{self.owner.code} refused {self.partner.code} ({self.purpose})"


class ReportTopic(models.TextChoices):
    STATUS = "status", _("The custody status is wrong (for example, not really released)")
    FACILITY = "facility", _("The facility is wrong")
    IDENTITY = "identity", _("This is not the right person, or the name or details are wrong")
    MESSAGE = "message", _("A message I received was wrong")
    OTHER = "other", _("Something else")


class ReporterKind(models.TextChoices):
    REGISTRANT = "registrant", _("I receive notifications about this person")
    SUBJECT = "subject", _("This record is about me")
    OTHER = "other", _("Other")


class ReportStatus(models.TextChoices):
    OPEN = "open"
    CORRECTED = "corrected"
    REJECTED = "rejected"


class DataReport(models.Model):
    """Somebody says the data about a person is wrong; staff answer with a correction or a reason."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    topic = models.CharField(max_length=16, choices=ReportTopic.choices)
    reporter = models.CharField(max_length=16, choices=ReporterKind.choices, default=ReporterKind.OTHER)
    details = EncryptedTextField(help_text="Free text from the reporter: personal data, encrypted.")
    reply_to = EncryptedTextField(blank=True, default="", help_text="Optional email or phone for the answer.")
    language = models.CharField(max_length=8, default="en")
    ip_hash = models.CharField(max_length=64, help_text="Keyed hash of the client address; never the address.")
    status = models.CharField(max_length=16, choices=ReportStatus.choices, default=ReportStatus.OPEN)
    created_at = models.DateTimeField(auto_now_add=True)
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.CharField(max_length=64, blank=True)
    decision_note = EncryptedTextField(blank=True, default="", help_text="Staff's answer; may quote the report.")
    correction = models.ForeignKey(CustodyEvent, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    # Where the answer went, if the reporter left a contact; retention erases it after the answer.
    answer_contact = models.ForeignKey("notify.Contact", on_delete=models.SET_NULL, null=True, blank=True,
                                       related_name="+")

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(status__in=ReportStatus.values), name="datareport_status_valid"),
            models.CheckConstraint(condition=Q(topic__in=ReportTopic.values), name="datareport_topic_valid"),
        ]
        indexes = [models.Index(fields=["status", "created_at"]), models.Index(fields=["ip_hash", "created_at"])]

    def __str__(self) -> str:
        return f"data report {self.public_id} ({self.status})"


class CaseConfirmation(models.Model):
    """A call-centre agent's confirmation of a registrant's case number, waiting for a second person: one
    agent alone cannot make a registrant a verified victim (``vinex.privacy.cases``)."""

    registration = models.ForeignKey("registrations.Registration", on_delete=models.CASCADE, related_name="+")
    confirmed_by = models.CharField(max_length=100, help_text="Actor reference of who confirmed (user:<id>).")
    role = models.CharField(max_length=32)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["registration", "confirmed_by"],
                                               name="case_confirmation_once_per_person")]

    def __str__(self) -> str:
        return f"case confirmation by {self.confirmed_by}"


class CorrectedField(models.TextChoices):
    FIRST_NAME = "first_name"
    LAST_NAME = "last_name"
    DATE_OF_BIRTH = "date_of_birth"
    FACILITY = "facility"


class FieldCorrection(models.Model):
    """One field of a subject corrected by staff, with where the correction came from: the original value is
    kept here (encrypted), so the history shows what vinex held before and who changed it on what grounds."""

    subject = models.ForeignKey("custody.Subject", on_delete=models.PROTECT, related_name="+")
    field = models.CharField(max_length=16, choices=CorrectedField.choices)
    original = EncryptedTextField(blank=True, default="", help_text="The value before the correction.")
    corrected = EncryptedTextField(blank=True, default="", help_text="The value after it.")
    provenance = models.CharField(max_length=200, help_text="On what grounds: a data report, the agency's word…")
    report = models.ForeignKey(DataReport, on_delete=models.PROTECT, null=True, blank=True, related_name="+")
    corrected_by = models.CharField(max_length=100)
    at = models.DateTimeField(auto_now_add=True)
    recipients_told = models.PositiveIntegerField(default=0)
    agency_contacts_told = models.PositiveIntegerField(default=0)

    class Meta:
        constraints = [models.CheckConstraint(condition=Q(field__in=CorrectedField.values),
                                              name="field_correction_field_valid")]
        indexes = [models.Index(fields=["subject", "at"])]

    def __str__(self) -> str:
        return f"correction of {self.field} of subject {self.subject_id}"


class MisuseRule(models.TextChoices):
    STAFF_VOLUME = "staff_volume", _("A staff account read far more people than its role's usual day")
    PRE_RELEASE = "pre_release", _("A person was read shortly before their release by an account outside the "
                                   "releasing agency")
    PARTNER_VOLUME = "partner_volume", _("A partner agency read far more records than on its usual day")
    PARTNER_HOURS = "partner_hours", _("A partner agency read records outside working hours")
    PARTNER_REFUSALS = "partner_refusals", _("A partner agency was refused again and again")
    PROTECTED_READ = "protected_read", _("A staff account read a protected person")


class MisuseFinding(models.TextChoices):
    MISUSE = "misuse", _("Misuse: reported and acted on")
    LEGITIMATE = "legitimate", _("Legitimate: the reads had a proper reason")
    INCONCLUSIVE = "inconclusive", _("Inconclusive")


class MisuseCase(models.Model):
    """A hit of a misuse rule over the audit log (``vinex.privacy.misuse``), for a privacy officer to look
    into and close with a finding. It names accounts, audit entries and record ids, never a victim's contact."""

    public_id = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    rule = models.CharField(max_length=24, choices=MisuseRule.choices)
    # What makes two hits the same one (the account and the day, the release…): a rerun opens no second case.
    fingerprint = models.CharField(max_length=200)
    actor = models.CharField(max_length=100, help_text="Who: the account the rule fired on (user:<id>, agency:<code>).")
    role = models.CharField(max_length=32, blank=True)
    summary = models.CharField(max_length=300, help_text="What happened, in counts and record ids.")
    explanation = models.TextField(help_text="Why the rule fired, in plain words, with its threshold.")
    first_at = models.DateTimeField(help_text="When: the first audit entry behind the hit.")
    last_at = models.DateTimeField()
    entries = models.JSONField(default=list, help_text="seq numbers of (up to 100 of) the audit entries behind it.")
    links = models.JSONField(default=list, help_text="Audit searches that show the entries: [[label, query], …].")
    opened_at = models.DateTimeField(auto_now_add=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.CharField(max_length=100, blank=True)
    finding = models.CharField(max_length=16, choices=MisuseFinding.choices, blank=True)
    finding_note = EncryptedTextField(blank=True, default="", help_text="The officer's finding, in words.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["rule", "fingerprint"], name="misuse_case_once_per_hit"),
            models.CheckConstraint(condition=Q(rule__in=MisuseRule.values), name="misuse_case_rule_valid"),
            models.CheckConstraint(condition=Q(finding="") | Q(finding__in=MisuseFinding.values),
                                   name="misuse_case_finding_valid"),
            models.CheckConstraint(condition=Q(closed_at__isnull=True) | ~Q(finding=""),
                                   name="misuse_case_closed_with_finding"),
        ]
        indexes = [models.Index(fields=["closed_at", "opened_at"])]

    def __str__(self) -> str:
        return f"misuse case {self.public_id} ({self.rule})"
