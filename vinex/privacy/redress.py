"""Redress: anyone may report that vinex holds wrong data about a person; staff answer every report.

A report names the person through the ``subject_ref`` of a search result (so it can only be about
someone the reporter could already find) and says what looks wrong. A privacy officer either corrects
the record — a CORRECTION event through the same ingest path as an agency's, so the history keeps both
the wrong event and its retraction and everyone told of the wrong event gets a correction notice — or
rejects the report with a reason. Reading a report (its free text is personal data) and deciding it are
audited here, so no page can forget.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone, translation
from django.utils.translation import gettext as _

from vinex.audit.unit import Actor, AuditUnit, audit_unit
from vinex.custody.models import CustodyEvent, EventSource, EventType, Subject
from vinex.custody.schemas import EventIn
from vinex.locator.ratelimit import hash_key
from vinex.locator.selectors import subject_ref_person_id
from vinex.notify.messages import gsm7_fold
from vinex.notify.models import CreatedVia
from vinex.notify.services import contact_add, notification_enqueue_direct, registrant_create
from vinex.pipeline import IncomingEvent, events_ingest, payload_hash
from vinex.policy.contacts import InvalidContact, normalise_contact
from vinex.policy.disclosure import Audience, disclose
from vinex.privacy.corrections import subject_field_correct
from vinex.privacy.models import DataReport, ReporterKind, ReportStatus, ReportTopic

DETAILS_MAX = 2000
NOTE_MAX = 2000


class ReportInvalid(Exception):
    """What is wrong with a report, field by field (messages are translated when rendered)."""

    def __init__(self, errors: dict[str, str]) -> None:
        super().__init__("invalid data report")
        self.errors = errors


@dataclass(frozen=True)
class ReportIn:
    subject_ref: str
    topic: str
    details: str
    reporter: str = ReporterKind.OTHER
    reply_to: str = ""
    language: str = "en"


def _reply_channel(value: str) -> str:
    """How to answer a reporter: by email for an address, by text message for a phone number."""
    return "email" if "@" in value else "sms"


def _reply_to_normalised(value: str) -> str:
    return normalise_contact(_reply_channel(value), value)


def _validate(report: ReportIn) -> tuple[int, str]:
    errors: dict[str, str] = {}
    person_id = subject_ref_person_id(subject_ref=report.subject_ref)
    if person_id is None:
        errors["subject_ref"] = str(_("This search result has expired. Please search again."))
    if report.topic not in ReportTopic.values:
        errors["topic"] = str(_("Choose what is wrong."))
    if report.reporter not in ReporterKind.values:
        errors["reporter"] = str(_("Choose who you are."))
    if not report.details.strip():
        errors["details"] = str(_("Tell us what is wrong."))
    elif len(report.details) > DETAILS_MAX:
        errors["details"] = str(_("Please keep this under %(max)d characters.") % {"max": DETAILS_MAX})
    reply_to = ""
    if report.reply_to.strip():
        try:
            reply_to = _reply_to_normalised(report.reply_to.strip())
        except InvalidContact:
            errors["reply_to"] = str(_("Give an email address or a phone number, or leave this empty."))
    if errors:
        raise ReportInvalid(errors)
    assert person_id is not None
    return person_id, reply_to


def data_report_create(*, report: ReportIn, client_address: str) -> DataReport:
    """Record a report of wrong data; raises ``ReportInvalid``. The reporter is not asked who they are.

    Sending the same report again (a retry after a timeout, a double click) returns the report already
    recorded instead of a second one.
    """
    person_id, reply_to = _validate(report)
    ip_hash = hash_key(client_address, purpose="data-report-ip")
    with audit_unit(actor=Actor.public("public", ip_hash)) as unit:
        earlier = _same_report(person_id, ip_hash, report)
        if earlier is not None:
            return earlier
        created = DataReport.objects.create(
            person_id=person_id, topic=report.topic, reporter=report.reporter, details=report.details.strip(),
            reply_to=reply_to, language=report.language if report.language in ("en", "es") else "en",
            ip_hash=ip_hash,
        )
        unit.add("create", "data_report", created.public_id, purpose=f"report of wrong data ({report.topic})")
    return created


def _same_report(person_id: int, ip_hash: str, report: ReportIn) -> DataReport | None:
    since = timezone.now() - timedelta(days=1)
    candidates = DataReport.objects.filter(person_id=person_id, ip_hash=ip_hash, topic=report.topic,
                                           status=ReportStatus.OPEN, created_at__gte=since)
    # The details are encrypted, so they are compared after decrypting the few candidates.
    return next((r for r in candidates if r.details == report.details.strip()), None)


@dataclass(frozen=True)
class ReportView:
    report: DataReport
    subjects: list[Subject]
    events: list[CustodyEvent]


def _read(unit: AuditUnit, reports: list[DataReport], *, purpose: str) -> None:
    unit.add_many("read", "data_report", [r.public_id for r in reports], purpose=purpose)


def data_reports_open(*, actor: Actor) -> list[DataReport]:
    """Open reports, oldest first; each read of their free text is audited."""
    reports = list(DataReport.objects.filter(status=ReportStatus.OPEN).order_by("created_at")[:200])
    with audit_unit(actor=actor) as unit:
        _read(unit, reports, purpose="review reports of wrong data")
    return reports


def data_report_view(*, public_id: str, actor: Actor) -> ReportView | None:
    """One report with the person's records and event history, for deciding it (audited)."""
    report = DataReport.objects.filter(public_id=public_id).first()
    if report is None:
        return None
    subjects = list(Subject.objects.filter(person_id=report.person_id).select_related("agency", "facility"))
    events = list(CustodyEvent.objects.filter(subject__in=subjects).select_related("facility", "subject__agency")
                  .order_by("-occurred_at", "-id")[:100])
    with audit_unit(actor=actor) as unit:
        _read(unit, [report], purpose="decide a report of wrong data")
        unit.add_many("read", "subject", [s.pk for s in subjects], purpose="redress")
    return ReportView(report, subjects, events)


def _correction_for(event: CustodyEvent, report: DataReport, now: datetime) -> IncomingEvent:
    subject = event.subject
    raw = {
        "event_id": f"correction:{report.public_id}",
        "type": EventType.CORRECTION.value,
        "occurred_at": now.isoformat(),
        "facility_code": event.facility.code,
        "corrects_event_id": event.event_id,
        "subject": {"agency_subject_id": subject.agency_subject_id, "first_name": subject.first_name,
                    "last_name": subject.last_name},
    }
    return IncomingEvent(data=EventIn.model_validate(raw), payload_hash=payload_hash(raw),
                         source=EventSource.MANUAL, source_ref=f"data report {report.public_id}")


def _decide(report: DataReport, *, status: str, reviewer: str, note: str, now: datetime) -> None:
    updated = DataReport.objects.filter(pk=report.pk, status=ReportStatus.OPEN).update(
        status=status, decided_at=now, decided_by=reviewer[:64], decision_note=note[:NOTE_MAX])
    if not updated:
        raise ValueError("this report was already decided")
    report.refresh_from_db()


def data_report_correct(*, report: DataReport, event: CustodyEvent, actor: Actor, note: str = "") -> DataReport:
    """Retract ``event`` (one of the reported person's) with a CORRECTION and close the report.

    The CORRECTION goes through ``events_ingest``: the status is derived again without the retracted
    event, and those who were told of it receive a correction notice.
    """
    if event.subject.person_id != report.person_id:
        raise ValueError("that event is not about the reported person")
    if event.type == EventType.CORRECTION:
        raise ValueError("a correction cannot itself be corrected here; correct the original event")
    now = timezone.now()
    with audit_unit(actor=actor) as unit:
        _decide(report, status=ReportStatus.CORRECTED, reviewer=actor.ref, note=note, now=now)
        [outcome] = events_ingest(agency=event.agency, events=[_correction_for(event, report, now)], actor=actor)
        if outcome.status != "accepted":
            raise ValueError("; ".join(e["msg"] for e in outcome.errors) or f"correction {outcome.status}")
        report.correction = CustodyEvent.objects.get(agency=event.agency, event_id=f"correction:{report.public_id}")
        report.save(update_fields=["correction"])
        _answer(report, actor)
        unit.add("correct", "data_report", report.public_id, purpose=f"retracts event {event.pk}")
    return report


def data_report_correct_field(*, report: DataReport, subject: Subject, field: str, value: str, actor: Actor,
                              note: str = "") -> DataReport:
    """Correct one field (name, date of birth, facility) of one of the reported person's records and close the
    report; the correction keeps the original value, tells those the wrong value misled and the agency
    (``vinex.privacy.corrections``). Raises ``ValueError`` (``CorrectionInvalid``) when it cannot be made."""
    if subject.person_id != report.person_id:
        raise ValueError("that record is not about the reported person")
    with audit_unit(actor=actor) as unit:
        _decide(report, status=ReportStatus.CORRECTED, reviewer=actor.ref, note=note, now=timezone.now())
        subject_field_correct(subject=subject, field=field, value=value, report=report, actor=actor,
                              provenance=f"data report {report.public_id}")
        _answer(report, actor)
        unit.add("correct", "data_report", report.public_id, purpose=f"corrects {field} of subject {subject.pk}")
    return report


def data_report_reject(*, report: DataReport, actor: Actor, note: str) -> DataReport:
    """Close ``report`` without changing the record; the reason is required (the reporter deserves one)."""
    if not note.strip():
        raise ValueError("give the reason the record stays as it is")
    with audit_unit(actor=actor) as unit:
        _decide(report, status=ReportStatus.REJECTED, reviewer=actor.ref, note=note.strip(), now=timezone.now())
        _answer(report, actor)
        unit.add("reject", "data_report", report.public_id)
    return report


# --- The answer to the reporter -------------------------------------------------------------------

SMS_NOTE_MAX = 100


def _answer(report: DataReport, actor: Actor) -> None:
    """Tell the reporter the outcome, if they left a contact: through the normal outbox, from a registrant
    made for this one answer (retention erases it once the answer has had time to go out)."""
    if not report.reply_to:
        return
    channel = _reply_channel(report.reply_to)
    registrant = registrant_create(language=report.language, created_via=CreatedVia.STAFF, actor=actor)
    # The reporter gave this contact for exactly this answer; no code is sent to confirm it.
    contact = contact_add(registrant=registrant, channel=channel, value=report.reply_to, verified=True, actor=actor)
    subject = Subject.objects.filter(person_id=report.person_id).select_related("agency", "facility").first()
    name = disclose(subject, audience=Audience.REGISTRANT_MESSAGE)["name"] if subject else ""
    subject_line, body = answer_message(name=name, corrected=report.status == ReportStatus.CORRECTED,
                                        note=report.decision_note, channel=channel, language=report.language)
    notification_enqueue_direct(contact=contact, template="data_report_answer", body=body,
                                language=report.language, subject_line=subject_line, actor=actor)
    report.answer_contact = contact
    report.save(update_fields=["answer_contact"])


def answer_message(*, name: str, corrected: bool, note: str, channel: str, language: str) -> tuple[str, str]:
    """(subject line, body) of the answer to a report of wrong data, in the reporter's language."""
    with translation.override(language):
        subject_line = _("Your report of wrong information")
        if corrected:
            outcome = _("We checked your report about %(name)s. The record was wrong and has been corrected; "
                        "everyone who received a wrong message is being told.") % {"name": name}
        else:
            outcome = _("We checked your report about %(name)s with the agency. The record stays as it is.") % {
                "name": name}
        if channel == "sms":
            short = note if len(note) <= SMS_NOTE_MAX else note[: SMS_NOTE_MAX - 1] + "…"
            text = f"vinex: {outcome}" + (f" {short}" if short and not corrected else "")
            return str(subject_line), gsm7_fold(text)
        parts = [str(outcome)]
        if note and not corrected:
            parts.append(str(_("Reason: %(note)s")) % {"note": note})
        return str(subject_line), "\n\n".join(parts)
