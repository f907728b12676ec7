"""Message texts: one plain, humane sentence per event type, in the registrant's language.

Only what ``vinex.privacy.disclose`` allows reaches a message. Times are shown in the facility's time
zone. SMS bodies are kept within two segments (see ``sms_segments``).
"""

from __future__ import annotations

import unicodedata
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime, time
from functools import lru_cache
from zoneinfo import ZoneInfo

from babel.dates import format_date, format_datetime
from django.utils import translation
from django.utils.functional import Promise
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, pgettext, pgettext_lazy

from vinex.custody.models import Agency, CustodyEvent, CustodyStatus, EventType, Subject
from vinex.policy.disclosure import Audience, Disclosure, disclose, whereabouts_shared

SMS_MAX_SEGMENTS = 2
SMS_NAME_MAX = 40

# GSM 03.38 basic character set (plus the extension table): what fits 160 characters a segment.
_GSM7 = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿"
    "abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM7_EXT = set("^{}\\[~]|€")


@dataclass(frozen=True)
class RenderedMessage:
    template: str
    subject_line: str
    body: str


# Each table below is built once; a message translates only the entry it uses (into the language active
# then), not the whole table: rendering runs inside the request that records the event.
_STATUS_LABELS: dict[str, Promise] = {
    CustodyStatus.IN_CUSTODY: gettext_lazy("in custody"),
    CustodyStatus.ON_LEAVE: gettext_lazy("temporarily out of the facility"),
    CustodyStatus.RELEASED: gettext_lazy("released"),
    CustodyStatus.REMOVED: gettext_lazy("removed from the country"),
    CustodyStatus.ESCAPED: gettext_lazy("escaped"),
    CustodyStatus.DECEASED: gettext_lazy("deceased"),
    CustodyStatus.UNKNOWN: gettext_lazy("unknown"),
}


def status_label(status: str) -> str:
    return str(_STATUS_LABELS[CustodyStatus(status)])


# The lazy texts of this module's tables, by language. Catalogues do not change while a process runs, so each
# is looked up once per language instead of through the active language on every message (a dozen lookups a
# message, inside the request that records the event). Keyed by identity: only this module's constants,
# which live as long as the process, are passed in.
_TRANSLATED: dict[tuple[int, str], str] = {}


def _in(text: Promise, language: str) -> str:
    key = (id(text), language)
    found = _TRANSLATED.get(key)
    if found is None:
        with translation.override(language):
            found = _TRANSLATED[key] = str(text)
    return found


def format_when(moment: datetime, timezone_name: str, language: str) -> str:
    """A time in the facility's zone, named as a reader says it: "EST" in English; in Spanish, whose
    short zone names are mostly missing (babel gives "-0500"), the generic long name ("hora oriental")."""
    return _format_minute(moment.replace(second=0, microsecond=0), timezone_name, language)


@lru_cache(maxsize=2048)
def _format_minute(minute: datetime, timezone_name: str, language: str) -> str:
    """Messages show minutes, and the events of a busy hour share them: each minute is formatted once per
    zone and language (babel's formatting is a good part of rendering a message inside the request)."""
    pattern = "MMM d, y, h:mm a z" if language == "en" else "d MMM y, H:mm '('vvvv')'"
    return format_datetime(minute, pattern, tzinfo=ZoneInfo(timezone_name), locale=language)


def event_headline(event_type: str) -> str:
    """The short title of a message about ``event_type`` (an email's subject), in the active language."""
    return _headline(event_type)


def format_release(moment: datetime, timezone_name: str, language: str) -> str:
    """A scheduled release: rosters often give only the day (stored as local midnight), so a midnight
    time is shown as the day alone rather than as a misleading "12:00 AM"."""
    local = moment.astimezone(ZoneInfo(timezone_name))
    if local.time() != time(0):
        return format_when(moment, timezone_name, language)
    return format_date(local.date(), "MMM d, y" if language == "en" else "d MMM y", locale=language)


_SENTENCES: dict[str, Promise] = {
    EventType.BOOKED: gettext_lazy("%(name)s was booked into %(facility)s on %(when)s."),
    EventType.TRANSFERRED: gettext_lazy("%(name)s was transferred from %(facility)s to %(to_facility)s on %(when)s."),
    EventType.RELEASE_SCHEDULED: gettext_lazy("%(name)s is scheduled to be released soon from %(facility)s."),
    EventType.RELEASED: gettext_lazy("%(name)s was released from %(facility)s on %(when)s."),
    EventType.TEMPORARY_RELEASE: gettext_lazy(
        "%(name)s left %(facility)s on a temporary release (such as work release or a hospital stay) on %(when)s."
    ),
    EventType.RETURNED_TO_CUSTODY: gettext_lazy("%(name)s returned to custody at %(facility)s on %(when)s."),
    EventType.REMOVED: gettext_lazy("%(name)s was removed (deported) from the country on %(when)s."),
    EventType.ESCAPED: gettext_lazy("%(name)s escaped from %(facility)s on %(when)s. If you are in danger, call 911."),
    EventType.RECAPTURED: gettext_lazy("%(name)s was recaptured and is in custody at %(facility)s as of %(when)s."),
    EventType.DECEASED: gettext_lazy(
        "We are writing to tell you that %(name)s, held at %(facility)s, died on %(when)s."
    ),
    EventType.HEARING_SCHEDULED: gettext_lazy("A court hearing for %(name)s is set for %(hearing)s at %(court)s."),
    EventType.HEARING_RESCHEDULED: gettext_lazy(
        "The court hearing for %(name)s has moved to %(hearing)s at %(court)s."
    ),
    EventType.HEARING_CANCELLED: gettext_lazy("The court hearing for %(name)s at %(court)s has been cancelled."),
    EventType.CORRECTION: gettext_lazy(
        "Correction: an earlier message about %(name)s was wrong. Current status: %(status)s, %(facility)s."
    ),
}

_HEADLINES: dict[str, Promise] = {
    EventType.BOOKED: pgettext_lazy("email subject", "Custody update: booked"),
    EventType.TRANSFERRED: pgettext_lazy("email subject", "Custody update: transferred"),
    EventType.RELEASE_SCHEDULED: pgettext_lazy("email subject", "Custody update: release scheduled"),
    EventType.RELEASED: pgettext_lazy("email subject", "Custody update: released"),
    EventType.TEMPORARY_RELEASE: pgettext_lazy("email subject", "Custody update: temporary release"),
    EventType.RETURNED_TO_CUSTODY: pgettext_lazy("email subject", "Custody update: returned to custody"),
    EventType.REMOVED: pgettext_lazy("email subject", "Custody update: removed from the country"),
    EventType.ESCAPED: pgettext_lazy("email subject", "Urgent custody update: escape"),
    EventType.RECAPTURED: pgettext_lazy("email subject", "Custody update: back in custody"),
    EventType.DECEASED: pgettext_lazy("email subject", "Custody update: death in custody"),
    EventType.HEARING_SCHEDULED: pgettext_lazy("email subject", "Court hearing scheduled"),
    EventType.HEARING_RESCHEDULED: pgettext_lazy("email subject", "Court hearing moved"),
    EventType.HEARING_CANCELLED: pgettext_lazy("email subject", "Court hearing cancelled"),
    EventType.CORRECTION: pgettext_lazy("email subject", "Correction to an earlier message"),
}


def _sentence(event_type: str, facts: dict[str, str], reason: str, release_known: bool, language: str) -> str:
    """The one sentence that says what happened."""
    if event_type == EventType.RELEASED and reason == "transferred_to_other_jurisdiction":
        return _("%(name)s was released from %(facility)s to the custody of another agency on %(when)s.") % facts
    if event_type == EventType.RELEASED and reason == "error":
        return _("%(name)s was released in error from %(facility)s on %(when)s.") % facts
    if event_type == EventType.RELEASE_SCHEDULED and release_known:
        return _("%(name)s is scheduled to be released from %(facility)s on %(release)s.") % facts
    return _in(_SENTENCES[EventType(event_type)], language) % facts


def _headline(event_type: str) -> str:
    return str(_HEADLINES[EventType(event_type)])


def _facts(view: Disclosure, language: str, *, name_limit: int | None) -> dict[str, str]:
    tz = view.get("facility_timezone") or "UTC"
    name = view["name"]
    if name_limit and len(name) > name_limit:
        name = name[: name_limit - 1].rstrip() + "…"
    facts = {
        "name": name,
        "facility": view.get("facility_name") or _("the facility"),
        "to_facility": view.get("to_facility_name") or _("another facility"),
        "when": format_when(view["occurred_at"], tz, language),
        "court": view.get("court_name") or _("the court"),
        "status": _in(_STATUS_LABELS[CustodyStatus(view["status"])], language),
        "hearing": format_when(view["hearing_at"], tz, language) if view.get("hearing_at") else "",
        "release": format_release(view["release_at"], tz, language) if view.get("release_at") else "",
    }
    return facts


def _support_line(view: Disclosure) -> str:
    if view.get("support_phone"):
        return _("For support, call %(support)s at %(phone)s.") % {
            "support": view.get("support_name") or _("victim services"),
            "phone": view["support_phone"],
        }
    return ""


_FACILITY_LABEL = gettext_lazy("Facility")
_AGENCY_LABEL = gettext_lazy("Agency")
_STATUS_LABEL = gettext_lazy("Current status")
_REGISTERED_FOOTER = gettext_lazy(
    "You receive this message because you registered with vinex for updates about this person.")
_UNSUBSCRIBE_LEAD = gettext_lazy("To stop these messages, open:")


def _email_body(sentence: str, facts: dict[str, str], view: Disclosure, support_line: str,
                unsubscribe_url: str, language: str) -> str:
    """An event email's plain-text body: the sentence, the facility, agency and status, support, how to stop.

    Put together here rather than by a template: it is rendered inside the request that records the event.
    """
    phone = view.get("facility_phone")
    facility = f"{facts['facility']} ({phone})" if phone else facts["facility"]
    lines = [
        sentence,
        "",
        f"{_in(_FACILITY_LABEL, language)}: {facility}",
        f"{_in(_AGENCY_LABEL, language)}: {view.get('agency_name') or ''}",
        f"{_in(_STATUS_LABEL, language)}: {facts['status']}",
        "",
        *([support_line, ""] if support_line else [""]),
        _in(_REGISTERED_FOOTER, language),
        f"{_in(_UNSUBSCRIBE_LEAD, language)} {unsubscribe_url}",
    ]
    return "\n".join(lines) + "\n"


def render_event_message(
    *, event: CustodyEvent, channel: str, language: str, tier: str, unsubscribe_url: str,
    others: Sequence[Agency] = (),
) -> RenderedMessage:
    """The subject line and body telling a registrant about ``event``.

    ``others`` are the other agencies that hold or held the person (``agencies_of_people``). When
    linkage has joined the person's records of several agencies, the facility is named with its agency;
    when the agency holding the person refuses victim notification to the others (or the record is
    protected), the message says only that another agency holds them, or their status.
    """
    view = disclose(event.subject, audience=Audience.REGISTRANT_MESSAGE, event=event, tier=tier)
    if not all(whereabouts_shared(event.subject, with_agency=other) for other in others):
        return _withheld_message(view, channel, language, unsubscribe_url)
    with translation.override(language):
        if others:
            view = _with_agency(view)
        headline = _in(_HEADLINES[EventType(event.type)], language)
        if channel == "email":
            facts = _facts(view, language, name_limit=None)
            sentence = _sentence(event.type, facts, view.get("reason", ""), bool(view.get("release_at")), language)
            email_body = _email_body(sentence, facts, view, _support_line(view), unsubscribe_url, language)
            return RenderedMessage(f"event/{event.type}", headline, email_body)
        if channel == "voice":
            facts = _facts(view, language, name_limit=None)
            sentence = _sentence(event.type, facts, view.get("reason", ""), bool(view.get("release_at")), language)
            return RenderedMessage(f"event/{event.type}", headline, f"{sentence} {_support_line(view)}".strip())
        facts = _facts(view, language, name_limit=SMS_NAME_MAX)
        sentence = _sentence(event.type, facts, view.get("reason", ""), bool(view.get("release_at")), language)
        body = sms_body(sentence, _support_line(view))
        return RenderedMessage(f"event/{event.type}", headline, body)


def agencies_of_people(person_ids: Iterable[int]) -> dict[int, list[Agency]]:
    """The agencies that hold, or held, each person (more than one once linkage joined their records);
    read once for a whole batch of messages."""
    held_by = set(Subject.objects.filter(person_id__in=set(person_ids)).values_list("person_id", "agency_id"))
    agencies = Agency.objects.in_bulk({agency for _, agency in held_by})
    found: dict[int, list[Agency]] = defaultdict(list)
    for person, agency in sorted(held_by):
        found[person].append(agencies[agency])
    return found


def other_agencies(event: CustodyEvent, of_people: dict[int, list[Agency]]) -> list[Agency]:
    """The agencies besides the event's that hold or held its person (from ``agencies_of_people``)."""
    return [agency for agency in of_people.get(event.subject.person_id, []) if agency.pk != event.agency_id]


def _with_agency(view: Disclosure) -> Disclosure:
    """Name the facility with its agency: the victim registered elsewhere and may not know it."""
    fields = dict(view.fields)
    if fields.get("facility_name") and fields.get("agency_name"):
        fields["facility_name"] = f"{fields['facility_name']} ({fields['agency_name']})"
    return Disclosure(fields)


_HELD = (CustodyStatus.IN_CUSTODY, CustodyStatus.ON_LEAVE)


def _withheld_message(view: Disclosure, channel: str, language: str, unsubscribe_url: str) -> RenderedMessage:
    """What a victim may hear about a person held by an agency that does not share for victim notification."""
    with translation.override(language):
        facts = {"name": view["name"], "status": status_label(view["status"])}
        if view["status"] in _HELD:
            sentence = _("%(name)s is in the custody of another agency.") % facts
        else:
            sentence = _("The custody status of %(name)s has changed: %(status)s.") % facts
        headline = str(pgettext("email subject", "Custody update"))
        if channel == "sms":
            return RenderedMessage("event/withheld", headline, sms_body(sentence, ""))
        if channel == "email":
            footer = _("You receive this message because you registered with vinex for updates about this person.")
            sentence = f"{sentence}\n\n{footer}\n{_('To stop these messages, open:')} {unsubscribe_url}"
        return RenderedMessage("event/withheld", headline, sentence)


def correction_notice(*, channel: str, language: str) -> RenderedMessage:
    """The notice sent after a wrong link is undone to everyone who got a message because of it."""
    with translation.override(language):
        headline = str(pgettext("email subject", "Correction to an earlier message"))
        sentence = str(_(
            "Correction: we recently sent you a custody update about someone we wrongly took to be the person "
            "you registered for. Please disregard that message. Your registration is unchanged, and we will keep "
            "telling you about the person you chose."))
        if channel == "sms":
            return RenderedMessage("linkage/correction", headline, sms_body(sentence, ""))
        return RenderedMessage("linkage/correction", headline, sentence)


def sms_body(sentence: str, support_line: str) -> str:
    """``vinex:`` + sentence + support + how to stop, fitted into two GSM-7 segments."""
    stop = str(_("Reply STOP to stop, HELP for help."))
    parts = [f"vinex: {sentence}", support_line, str(stop)]
    body = gsm7_fold(" ".join(p for p in parts if p))
    if sms_segments(body) > SMS_MAX_SEGMENTS:
        body = gsm7_fold(f"vinex: {sentence} {stop}")
    return body


def gsm7_fold(text: str) -> str:
    """Replace characters outside GSM-7 (á, í, ó, ú, curly quotes, …) with their closest GSM-7 form.

    One such character would switch the whole message to UCS-2, cutting a segment from 160 to 70
    characters; Spanish readers read "dia" for "día" without trouble.
    """
    folded = []
    for char in text:
        if char in _GSM7 or char in _GSM7_EXT:
            folded.append(char)
            continue
        replacement = {"“": '"', "”": '"', "‘": "'", "’": "'", "…": "...", "–": "-", "—": "-", "\u00a0": " "}.get(char)
        if replacement is None:
            base = unicodedata.normalize("NFKD", char).encode("ascii", "ignore").decode()
            replacement = base if base else "?"
        folded.append(replacement)
    return "".join(folded)


def sms_segments(text: str) -> int:
    """How many SMS segments ``text`` takes (GSM-7: 160/153; otherwise UCS-2: 70/67)."""
    if all(c in _GSM7 or c in _GSM7_EXT for c in text):
        units = sum(2 if c in _GSM7_EXT else 1 for c in text)
        single, multi = 160, 153
    else:
        units = sum(2 if ord(c) > 0xFFFF else 1 for c in text)
        single, multi = 70, 67
    return 1 if units <= single else -(-units // multi)
