"""Retention: personal data is kept only as long as it serves the person it belongs to.

- Contact values of a registrant who withdrew are erased ``VINEX_PURGE_AFTER_DAYS`` after withdrawal
  (default 30), with their PIN and the bodies of the messages sent to them.
- Message bodies of finished notifications are erased after ``VINEX_NOTIFICATION_BODY_DAYS`` (default
  90); the record that a message went out, when and how, stays.
- The contact a reporter of wrong data left for the answer is erased ``VINEX_PURGE_AFTER_DAYS`` after the
  report was decided.
- Audit entries are never purged here (they are kept at least a year, by design).

Rows are kept and blanked rather than deleted, so delivery history and the audit log still line up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.utils import timezone

from vinex.audit.unit import Actor, audit_unit
from vinex.notify.lifecycle import NOTIFICATION_FINISHED, registrants_withdraw
from vinex.notify.models import Contact, Notification, Registrant
from vinex.privacy.models import DataReport

PURGED = ""


@dataclass(frozen=True)
class PurgeReport:
    contacts: int
    bodies: int


def retention_purge(*, actor: Actor, now: datetime | None = None) -> PurgeReport:
    """Erase what has outlived its purpose (idempotent: a second run finds nothing more)."""
    now = now or timezone.now()
    withdrawn_before = now - timedelta(days=settings.VINEX_PURGE_AFTER_DAYS)
    with audit_unit(actor=actor) as unit:
        _answered_reports_release(decided_before=withdrawn_before)
        gone = list(Registrant.objects.filter(withdrawn_at__lt=withdrawn_before).values_list("pk", flat=True))
        contacts = list(Contact.objects.filter(registrant_id__in=gone).exclude(value_index__startswith="purged:"))
        for contact in contacts:
            # The blind index is unique per registrant and channel; a marker keeps it so.
            Contact.objects.filter(pk=contact.pk).update(value=PURGED, value_index=f"purged:{contact.pk}")
        Registrant.objects.filter(pk__in=gone).exclude(pin_hash="").update(pin_hash="")
        erased_for_withdrawn = Notification.objects.filter(contact__registrant_id__in=gone).exclude(
            subject_line="[purged]").update(body=PURGED, subject_line="[purged]")
        old = now - timedelta(days=settings.VINEX_NOTIFICATION_BODY_DAYS)
        erased_old = Notification.objects.filter(created_at__lt=old, status__in=NOTIFICATION_FINISHED).exclude(
            subject_line="[purged]").update(body=PURGED, subject_line="[purged]")
        unit.add_many("delete", "contact", [c.pk for c in contacts], purpose="retention after withdrawal")
    return PurgeReport(contacts=len(contacts), bodies=erased_for_withdrawn + erased_old)


def _answered_reports_release(*, decided_before: datetime) -> None:
    """Reports of wrong data decided long enough ago no longer need the reporter's contact: erase it from the
    report and withdraw the registrant made for the answer, so the contact purge below erases that too."""
    answered = DataReport.objects.filter(decided_at__lt=decided_before).exclude(reply_to=PURGED)
    for report in answered:
        if report.answer_contact_id is not None:
            registrants_withdraw(registrants=Registrant.objects.filter(contacts__pk=report.answer_contact_id),
                                 when=report.decided_at or decided_before)
        DataReport.objects.filter(pk=report.pk).update(reply_to=PURGED)
