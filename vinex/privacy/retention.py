"""Retention: personal data is kept only as long as it serves the person it belongs to.

- Contact values of a registrant who withdrew are erased ``VINEX_PURGE_AFTER_DAYS`` after withdrawal
  (default 30), with their PIN and the bodies of the messages sent to them.
- Message bodies of finished notifications are erased after ``VINEX_NOTIFICATION_BODY_DAYS`` (default
  90); the record that a message went out, when and how, stays.
- The contact a reporter of wrong data left for the answer is erased ``VINEX_PURGE_AFTER_DAYS`` after the
  report was decided.
- Contacts of registrations that were refused, or never verified, are erased
  ``VINEX_UNVERIFIED_CONTACT_DAYS`` after the registration was made (default 30), unless the registrant has
  another live registration.
- A case number is erased ``VINEX_CASE_NUMBER_DAYS`` after it was checked, or after the registration was
  made when it ended (refused, withdrawn) or was never verified (default 90).
- Hotline callers' names and notes are erased ``VINEX_HOTLINE_DATA_DAYS`` after the call (default 90); a
  callback's number and notes the same time after it was done or cancelled.
- The free text of a report of wrong data (and the staff answer, which may quote it) is erased
  ``VINEX_DATA_REPORT_DAYS`` after the report was decided (default 365).
- Audit entries are never purged here (they are kept at least a year, by design).

Rows are kept and blanked rather than deleted, so delivery history and the audit log still line up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import Q
from django.utils import timezone

from vinex.audit.unit import Actor, AuditUnit, audit_unit
from vinex.hotline.models import Callback, CallbackStatus, HotlineCall
from vinex.notify.lifecycle import NOTIFICATION_FINISHED, registrants_withdraw
from vinex.notify.models import Contact, Notification, Registrant
from vinex.privacy.keys import PURGED_INDEX_PREFIX
from vinex.privacy.models import DataReport
from vinex.registrations.models import Registration, RegistrationStatus

PURGED = ""
# Registrations through which nobody was ever told anything.
_NEVER_LIVE = (RegistrationStatus.REFUSED, RegistrationStatus.PENDING)


@dataclass(frozen=True)
class PurgeReport:
    contacts: int
    bodies: int
    unverified_contacts: int = 0
    case_numbers: int = 0
    hotline_records: int = 0
    report_details: int = 0


def retention_purge(*, actor: Actor, now: datetime | None = None) -> PurgeReport:
    """Erase what has outlived its purpose (idempotent: a second run finds nothing more)."""
    now = now or timezone.now()
    withdrawn_before = now - timedelta(days=settings.VINEX_PURGE_AFTER_DAYS)
    with audit_unit(actor=actor) as unit:
        _answered_reports_release(decided_before=withdrawn_before)
        gone = list(Registrant.objects.filter(withdrawn_at__lt=withdrawn_before).values_list("pk", flat=True))
        contacts = list(Contact.objects.filter(registrant_id__in=gone).exclude(value_index__startswith="purged:"))
        _contacts_erase(contacts)
        Registrant.objects.filter(pk__in=gone).exclude(pin_hash="").update(pin_hash="")
        erased_for_withdrawn = Notification.objects.filter(contact__registrant_id__in=gone).exclude(
            subject_line="[purged]").update(body=PURGED, subject_line="[purged]")
        old = now - timedelta(days=settings.VINEX_NOTIFICATION_BODY_DAYS)
        erased_old = Notification.objects.filter(created_at__lt=old, status__in=NOTIFICATION_FINISHED).exclude(
            subject_line="[purged]").update(body=PURGED, subject_line="[purged]")
        unit.add_many("delete", "contact", [c.pk for c in contacts], purpose="retention after withdrawal")
        return PurgeReport(
            contacts=len(contacts), bodies=erased_for_withdrawn + erased_old,
            unverified_contacts=_unverified_contacts_erase(unit, now),
            case_numbers=_case_numbers_erase(unit, now),
            hotline_records=_hotline_erase(unit, now),
            report_details=_report_details_erase(unit, now),
        )


def _days_before(now: datetime, setting: str) -> datetime:
    return now - timedelta(days=getattr(settings, setting))


def _contacts_erase(contacts: list[Contact]) -> None:
    for contact in contacts:
        # The blind index is unique per registrant and channel; a marker keeps it so.
        Contact.objects.filter(pk=contact.pk).update(value=PURGED, value_index=f"{PURGED_INDEX_PREFIX}{contact.pk}")


def _unverified_contacts_erase(unit: AuditUnit, now: datetime) -> int:
    """Contacts given for a registration that was refused or never verified: nobody is told anything through
    them, so they are erased, and the registrant withdrawn (unless another registration of theirs lives)."""
    before = _days_before(now, "VINEX_UNVERIFIED_CONTACT_DAYS")
    dead = Registration.objects.filter(created_at__lt=before, status__in=_NEVER_LIVE)
    live = Registration.objects.filter(status__in=(RegistrationStatus.ACTIVE, RegistrationStatus.HELD))
    registrants = Registrant.objects.filter(pk__in=dead.values("registrant_id")).exclude(
        pk__in=live.values("registrant_id"))
    registrants_withdraw(registrants=registrants, when=now)
    contacts = list(Contact.objects.filter(registrant__in=registrants).exclude(
        value_index__startswith=PURGED_INDEX_PREFIX))
    _contacts_erase(contacts)
    unit.add_many("delete", "contact", [c.pk for c in contacts], purpose="retention: registration never verified")
    return len(contacts)


def _case_numbers_erase(unit: AuditUnit, now: datetime) -> int:
    before = _days_before(now, "VINEX_CASE_NUMBER_DAYS")
    ended = Q(status__in=(*_NEVER_LIVE, RegistrationStatus.WITHDRAWN), created_at__lt=before)
    rows = Registration.objects.filter(Q(case_checked_at__lt=before) | ended, case_number__isnull=False)
    ids = list(rows.values_list("public_id", flat=True))
    Registration.objects.filter(public_id__in=ids).update(case_number=None)
    unit.add_many("delete", "registration_case_number", ids, purpose="retention")
    return len(ids)


def _hotline_erase(unit: AuditUnit, now: datetime) -> int:
    before = _days_before(now, "VINEX_HOTLINE_DATA_DAYS")
    # Encrypted values cannot be compared in SQL: rows are read, and written only when something is left.
    calls = [c for c in HotlineCall.objects.filter(Q(ended_at__lt=before) | Q(ended_at__isnull=True,
                                                                              created_at__lt=before))
             if c.caller_name or c.notes]
    HotlineCall.objects.filter(pk__in=[c.pk for c in calls]).update(caller_name=PURGED, notes=PURGED)
    finished = Q(status__in=(CallbackStatus.DONE, CallbackStatus.CANCELLED))
    callbacks = [c for c in Callback.objects.filter(finished & (Q(completed_at__lt=before) | Q(
        completed_at__isnull=True, created_at__lt=before))) if c.phone or c.notes]
    Callback.objects.filter(pk__in=[c.pk for c in callbacks]).update(phone=PURGED, notes=PURGED)
    unit.add_many("delete", "hotline_call", [c.pk for c in calls], purpose="retention: caller name and notes")
    unit.add_many("delete", "callback", [c.pk for c in callbacks], purpose="retention: number and notes")
    return len(calls) + len(callbacks)


def _report_details_erase(unit: AuditUnit, now: datetime) -> int:
    before = _days_before(now, "VINEX_DATA_REPORT_DAYS")
    reports = [r for r in DataReport.objects.filter(decided_at__lt=before) if r.details or r.decision_note]
    DataReport.objects.filter(pk__in=[r.pk for r in reports]).update(details=PURGED, decision_note=PURGED)
    unit.add_many("delete", "data_report_details", [r.public_id for r in reports], purpose="retention")
    return len(reports)


def _answered_reports_release(*, decided_before: datetime) -> None:
    """Reports of wrong data decided long enough ago no longer need the reporter's contact: erase it from the
    report and withdraw the registrant made for the answer, so the contact purge below erases that too."""
    answered = DataReport.objects.filter(decided_at__lt=decided_before).exclude(reply_to=PURGED)
    for report in answered:
        if report.answer_contact_id is not None:
            registrants_withdraw(registrants=Registrant.objects.filter(contacts__pk=report.answer_contact_id),
                                 when=report.decided_at or decided_before)
        DataReport.objects.filter(pk=report.pk).update(reply_to=PURGED)
