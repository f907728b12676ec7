"""Field corrections: a wrong name, date of birth or facility put right, with provenance, and everyone told.

A correction is recorded as a ``FieldCorrection`` (the original value, the corrected one, on what grounds,
by whom), so the history keeps what vinex held before. Then:

- every registrant who received a message the wrong value made wrong gets a short correction notice (a
  wrong name: every message sent about the person; a wrong facility: the messages about events at it; a
  date of birth never appears in messages, so it invalidates none). Registrants who withdrew or opted out
  are not contacted again;
- the agency's feed contacts (its feed alert recipients) are told which record and field were corrected,
  so that it corrects its own system: the agency's next event or roster would otherwise bring the error
  back;
- everything is in the audit log (ids and field names only, never the values).
"""

from __future__ import annotations

from datetime import date
from typing import Any

from django.db.models import Q

from vinex.audit.unit import Actor, AuditUnit, audit_unit
from vinex.custody.models import Facility, Subject, name_key
from vinex.feeds.models import FeedAlertRecipient
from vinex.notify.models import Contact, Notification, NotificationStatus
from vinex.notify.services import notification_enqueue_direct
from vinex.privacy.keys import PURGED_INDEX_PREFIX
from vinex.privacy.models import CorrectedField, DataReport, FieldCorrection

_LEFT = (NotificationStatus.SENT, NotificationStatus.DELIVERED)

_NOTICE = {
    "en": "vinex: A correction. An earlier message from vinex about a person you registered for gave a wrong "
          "{what}. It has been corrected. You do not need to do anything.",
    "es": "vinex: Una corrección. Un mensaje anterior de vinex sobre una persona por la que se registró tenía "
          "{what} incorrecto. Ya se corrigió. No necesita hacer nada.",
}
_WHAT = {
    ("en", CorrectedField.FIRST_NAME): "name", ("en", CorrectedField.LAST_NAME): "name",
    ("en", CorrectedField.FACILITY): "facility",
    ("es", CorrectedField.FIRST_NAME): "un nombre", ("es", CorrectedField.LAST_NAME): "un nombre",
    ("es", CorrectedField.FACILITY): "un centro de detención",
}


class CorrectionInvalid(ValueError):
    """The correction cannot be made (unknown field, bad value, unknown facility)."""


def correction_notice(*, field: str, language: str) -> str:
    """The neutral notice for a registrant told something wrong: what kind of detail, never the values."""
    language = language if language in _NOTICE else "en"
    return _NOTICE[language].format(what=_WHAT[(language, CorrectedField(field))])


def subject_field_correct(*, subject: Subject, field: str, value: str, provenance: str, actor: Actor,
                          report: DataReport | None = None) -> FieldCorrection:
    """Correct one field of ``subject`` and tell whoever the wrong value misled; see the module docstring."""
    if field not in CorrectedField.values:
        raise CorrectionInvalid(f"only {', '.join(CorrectedField.values)} can be corrected here")
    if not provenance.strip():
        raise CorrectionInvalid("say on what grounds the record is corrected")
    with audit_unit(actor=actor) as unit:
        # Locks the subject row only: the facility is an outer join, which PostgreSQL cannot lock.
        subject = (Subject.objects.select_for_update(of=("self",)).select_related("agency", "facility")
                   .get(pk=subject.pk))
        original, old_facility_id = _shown(subject, field), subject.facility_id
        new_value = _parsed(subject, field, value)
        if _shown_value(field, new_value) == original:
            raise CorrectionInvalid("the record already says that")
        _apply(subject, field, new_value)
        correction = FieldCorrection.objects.create(
            subject=subject, field=field, original=original, corrected=_shown_value(field, new_value),
            provenance=provenance.strip()[:200], report=report, corrected_by=actor.ref)
        unit.add("correct_field", "subject", subject.pk, purpose=f"{field}; {correction.provenance}")
        correction.recipients_told = _tell_recipients(unit, subject, field, old_facility_id, actor)
        correction.agency_contacts_told = _tell_agency(unit, subject, field, actor)
        correction.save(update_fields=["recipients_told", "agency_contacts_told"])
    return correction


def _shown(subject: Subject, field: str) -> str:
    if field == CorrectedField.FACILITY:
        return subject.facility.code if subject.facility else ""
    return _shown_value(field, getattr(subject, field))


def _shown_value(field: str, value: Any) -> str:
    if isinstance(value, Facility):
        return value.code
    if isinstance(value, date):
        return value.isoformat()
    return "" if value is None else str(value)


def _parsed(subject: Subject, field: str, value: str) -> Any:
    value = value.strip()
    if field == CorrectedField.FACILITY:
        facility = Facility.objects.filter(agency=subject.agency, code=value.lower()).first()
        if facility is None:
            raise CorrectionInvalid(f"{subject.agency.code} has no facility {value!r}")
        return facility
    if field == CorrectedField.DATE_OF_BIRTH:
        try:
            return date.fromisoformat(value)
        except ValueError:
            raise CorrectionInvalid("give the date of birth as YYYY-MM-DD") from None
    if not value or len(value) > 100:
        raise CorrectionInvalid("a name needs 1 to 100 characters")
    return value


def _apply(subject: Subject, field: str, value: Any) -> None:
    setattr(subject, field, value)
    fields = [field]
    if field in (CorrectedField.FIRST_NAME, CorrectedField.LAST_NAME):
        subject.name_key = name_key(subject.first_name, subject.last_name)
        fields.append("name_key")
    subject.save(update_fields=fields)


def _misled(subject: Subject, field: str, old_facility_id: int | None) -> list[Contact]:
    """Contacts that received a message the wrong value made wrong, and may still be written to."""
    sent = Notification.objects.filter(event__subject=subject, status__in=_LEFT)
    if field == CorrectedField.FACILITY:
        sent = sent.filter(Q(event__facility_id=old_facility_id) | Q(event__to_facility_id=old_facility_id))
    elif field == CorrectedField.DATE_OF_BIRTH:
        return []  # never in a message
    contact_ids = sent.values("contact_id")
    return list(Contact.objects.filter(pk__in=contact_ids, opted_out_at__isnull=True,
                                       registrant__withdrawn_at__isnull=True)
                .exclude(value_index__startswith=PURGED_INDEX_PREFIX).select_related("registrant").order_by("pk"))


def _tell_recipients(unit: AuditUnit, subject: Subject, field: str, old_facility_id: int | None,
                     actor: Actor) -> int:
    contacts = _misled(subject, field, old_facility_id)
    for contact in contacts:
        language = contact.registrant.language
        notification_enqueue_direct(contact=contact, template="field_correction", language=language,
                                    body=correction_notice(field=field, language=language),
                                    subject_line="vinex: a correction", actor=actor)
    unit.add_many("correction_notice", "contact", [c.pk for c in contacts], purpose=f"{field} of subject {subject.pk}")
    return len(contacts)


def _tell_agency(unit: AuditUnit, subject: Subject, field: str, actor: Actor) -> int:
    recipients = [r for r in FeedAlertRecipient.objects.filter(agency=subject.agency).select_related(
        "contact__registrant") if r.contact.reachable]
    body = (f"vinex: a record your agency sent was corrected after review: subject {subject.agency_subject_id}, "
            f"field {field}. Please correct it in your own system too, or your next update will bring the error "
            "back. The record and its history are on the vinex staff pages.")
    for recipient in recipients:
        notification_enqueue_direct(contact=recipient.contact, template="agency_record_corrected", body=body,
                                    language=recipient.contact.registrant.language,
                                    subject_line=f"vinex: record {subject.agency_subject_id} corrected", actor=actor)
    unit.add_many("correction_notice", "feed_alert_recipient", [r.pk for r in recipients],
                  purpose=f"{field} of subject {subject.pk}")
    return len(recipients)
