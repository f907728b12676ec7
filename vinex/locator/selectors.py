"""Reads for the public locator: exact lookups that reveal only what the disclosure policy allows.

A search needs exact identifiers (an A-number, a booking number, or a full name) plus a second fact
(the country of birth; with a booking number, the last name or the date of birth), so nobody can
browse the custody population by counting through booking numbers. People released more than
``VINEX_LOCATOR_RELEASED_DAYS`` ago, minors (and, in name searches, anyone whose date of birth is
unknown), ``protected`` subjects and people held by an agency whose public-locator switch refuses
the search are never returned: for them the answer is the same as for someone vinex has never heard of.
"""

from __future__ import annotations

import base64
import hashlib
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from cryptography.fernet import Fernet, InvalidToken
from django.conf import settings
from django.db import connection
from django.utils import timezone

from vinex.audit.models import AuditEntry
from vinex.audit.unit import Actor, audit_unit
from vinex.custody.models import Agency, CustodyStatus, Subject, fold_name, name_key
from vinex.custody.models import Facility as FacilityModel
from vinex.locator.ratelimit import budget_check, hash_key
from vinex.policy.disclosure import Audience, Disclosure, disclose, public_locator_allowed, whereabouts_shared

SUBJECT_REF_SALT = "vinex.locator.subject-ref"
MAX_RESULTS = 10
# Statuses after which a person drops out of the locator once the retention window has passed.
_GONE = (CustodyStatus.RELEASED, CustodyStatus.REMOVED, CustodyStatus.DECEASED)


@dataclass(frozen=True)
class ByANumber:
    a_number: str
    country_of_birth: str


@dataclass(frozen=True)
class ByName:
    first_name: str
    last_name: str
    country_of_birth: str
    date_of_birth: date | None = None


@dataclass(frozen=True)
class ByBooking:
    """A booking number (often sequential) with the last name or the date of birth as its second fact."""

    agency_code: str
    booking_number: str
    last_name: str = ""
    date_of_birth: date | None = None


LocatorQuery = ByANumber | ByName | ByBooking


@dataclass(frozen=True)
class Facility:
    name: str
    address: str
    phone: str


@dataclass(frozen=True)
class LocatorResult:
    name: str
    status: str
    facility: Facility | None
    subject_ref: str
    person_id: int  # for audit and internal use; never shown to the public


# The locator answers the public at the highest rate of any read, so it runs one hand-written,
# parameterised statement (building the equivalent ORM query costs more than executing it). Each
# search kind reads one composite index; the visibility rules follow in the same statement.
_SEARCH_SQL = """
SELECT s.id, s.person_id, s.agency_id, s.first_name, s.last_name, s.status,
       f.id, f.name, f.address, f.phone, f.timezone, a.code, a.name, s.name_key
FROM {subject} s JOIN {agency} a ON a.id = s.agency_id LEFT JOIN {facility} f ON f.id = s.facility_id
WHERE {match}
  AND s.protected = %s
  AND (s.date_of_birth IS NULL OR s.date_of_birth <= %s)
  AND NOT (s.status IN (%s, %s, %s) AND (s.status_changed_at IS NULL OR s.status_changed_at < %s))
  AND NOT EXISTS (SELECT 1 FROM {subject} p WHERE p.person_id = s.person_id AND p.protected = %s)
ORDER BY s.status_changed_at DESC, s.id DESC
LIMIT %s
"""


def _match(query: LocatorQuery) -> tuple[str, list[Any]]:
    """The exact-match condition of one search kind, and its parameters."""
    if isinstance(query, ByANumber):
        # Written as the partial index's own condition, so that SQLite sees it may use the index.
        return ("s.a_number = %s AND s.country_of_birth = %s AND NOT (s.a_number = '')",
                [query.a_number, query.country_of_birth])
    if isinstance(query, ByBooking):
        condition = "s.agency_id IN (SELECT id FROM {agency} WHERE code = %s) AND s.booking_number = %s"
        params: list[Any] = [query.agency_code, query.booking_number]
        if query.date_of_birth:
            condition += " AND s.date_of_birth = %s"
            params.append(connection.ops.adapt_datefield_value(query.date_of_birth))
        return condition, params
    # Unknown age fails closed: without a date of birth nobody can tell a minor from an adult.
    condition = "s.name_key = %s AND s.country_of_birth = %s AND s.date_of_birth IS NOT NULL"
    params = [name_key(query.first_name, query.last_name), query.country_of_birth]
    if query.date_of_birth:
        condition += " AND s.date_of_birth = %s"
        params.append(connection.ops.adapt_datefield_value(query.date_of_birth))
    return condition, params


def _visibility_bounds(now: datetime) -> tuple[date, datetime]:
    """Who counts as a minor (born after the first) and who is long gone (left before the second)."""
    adult_born_by = _years_before(timezone.localdate(now), settings.VINEX_LOCATOR_MINOR_AGE)
    return adult_born_by, now - timedelta(days=settings.VINEX_LOCATOR_RELEASED_DAYS)


def _visibility_params(now: datetime) -> list[Any]:
    """Parameters of the rules that hide protected people, minors and people long gone."""
    adult_born_by, gone_since = _visibility_bounds(now)
    return [False, connection.ops.adapt_datefield_value(adult_born_by), *_GONE,
            connection.ops.adapt_datetimefield_value(gone_since), True]


def _visible_matches(query: LocatorQuery, now: datetime) -> list[Subject]:
    """Subjects matching ``query`` exactly that the public may see, with their facility and agency."""
    match, params = _match(query)
    tables = {"subject": Subject, "facility": FacilityModel, "agency": Agency}
    quoted = {name: connection.ops.quote_name(model._meta.db_table) for name, model in tables.items()}
    sql = _SEARCH_SQL.replace("{match}", match).format(**quoted)
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, *_visibility_params(now), MAX_RESULTS * 2])
        rows = cursor.fetchall()
    subjects = []
    for row in rows:
        if not _second_fact_matches(query, row[13]):
            continue
        subject = Subject(id=row[0], person_id=row[1], agency_id=row[2], first_name=row[3], last_name=row[4],
                          status=row[5], facility_id=row[6])
        subject.agency = Agency(id=row[2], code=row[11], name=row[12])
        subject.facility = None if row[6] is None else FacilityModel(
            id=row[6], agency_id=row[2], name=row[7], address=row[8], phone=row[9], timezone=row[10])
        subjects.append(subject)
    return _allowed_by_agencies(subjects, query)


def _second_fact_matches(query: LocatorQuery, subject_name_key: str) -> bool:
    """A booking search given a last name finds only people of that last name (folded like the name search)."""
    if not isinstance(query, ByBooking) or query.date_of_birth:
        return True
    _first, _bar, last = subject_name_key.partition("|")
    return bool(query.last_name) and last == fold_name(query.last_name)


def _allowed_by_agencies(subjects: list[Subject], query: LocatorQuery) -> list[Subject]:
    """Drop matches held by agencies whose public-locator switch refuses this kind of search."""
    if not subjects:
        return subjects
    agencies = Agency.objects.in_bulk({s.agency_id for s in subjects})
    by_a_number = isinstance(query, ByANumber)
    allowed = {pk for pk, agency in agencies.items() if public_locator_allowed(agency, by_a_number=by_a_number)}
    for subject in subjects:
        subject.agency = agencies[subject.agency_id]
    return [s for s in subjects if s.agency_id in allowed]


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def _subject_ref_cipher() -> Fernet:
    # Encrypted, not only signed: a signed token's payload is readable, and would give away internal ids.
    key = hashlib.sha256(f"{SUBJECT_REF_SALT} v2:{settings.SECRET_KEY}".encode()).digest()
    return Fernet(base64.urlsafe_b64encode(key))


def subject_ref_make(*, person_id: int, subject_id: int | None = None, client_ref: str = "") -> str:
    """An opaque, encrypted and expiring token naming the subject a search found (and its person then).

    ``client_ref`` (``locator_client_ref`` of the searching client) lets the registration check see a
    search made from one client and a registration from another.
    """
    payload: dict[str, Any] = {"p": person_id}
    if subject_id is not None:
        payload["s"] = subject_id
    if client_ref:
        payload["c"] = client_ref
    return _subject_ref_cipher().encrypt(json.dumps(payload, separators=(",", ":")).encode()).decode()


def _subject_ref_payload(subject_ref: str) -> dict[str, Any] | None:
    try:
        raw = _subject_ref_cipher().decrypt(subject_ref.encode(), ttl=settings.VINEX_SUBJECT_REF_MAX_AGE)
        payload = json.loads(raw)
    except (InvalidToken, ValueError, TypeError, UnicodeError):
        return None
    return payload if isinstance(payload, dict) else None


def subject_ref_client(*, subject_ref: str) -> str:
    """The client (``locator_client_ref``) whose search made ``subject_ref``; empty when it names none."""
    payload = _subject_ref_payload(subject_ref)
    client = payload.get("c") if payload else None
    return client if isinstance(client, str) else ""


def subject_ref_subject_id(*, subject_ref: str) -> int | None:
    """The subject a ``subject_ref`` names; None when it is forged, expired, or from before refs named one."""
    payload = _subject_ref_payload(subject_ref)
    subject = payload.get("s") if payload else None
    return subject if isinstance(subject, int) else None


def subject_ref_person_id(*, subject_ref: str) -> int | None:
    """The person a ``subject_ref`` names now, or None when it is forged, malformed or expired.

    A ref naming a subject follows it to whichever person linkage has put it in since the search; an
    older ref (a person only) keeps working until it expires.
    """
    payload = _subject_ref_payload(subject_ref)
    if payload is None:
        return None
    subject = payload.get("s")
    if isinstance(subject, int):
        return Subject.objects.filter(pk=subject).values_list("person_id", flat=True).first()
    person = payload.get("p")
    return person if isinstance(person, int) else None


def locator_search(*, query: LocatorQuery, now: datetime | None = None, client_ref: str = "") -> list[LocatorResult]:
    """Exact matches for ``query`` that the public may see, one per person, newest status first.

    ``client_ref`` names the searching client in the results' ``subject_ref``s.
    """
    now = now or timezone.now()
    matches = _visible_matches(query, now)
    current = _current_custody({s.person_id for s in matches}, now)
    by_a_number = isinstance(query, ByANumber)
    seen: set[int] = set()
    results: list[LocatorResult] = []
    for subject in matches:
        if subject.person_id in seen:
            continue
        seen.add(subject.person_id)
        results.append(_result(subject, current.get(subject.person_id), client_ref, by_a_number=by_a_number))
    return results[:MAX_RESULTS]


def _current_custody(person_ids: set[int], now: datetime) -> dict[int, Subject]:
    """The subject of each person whose status changed last, when the public may see it: where a person
    linked across agencies is now (the visibility rules apply to it as to any match)."""
    if not person_ids:
        return {}
    newest: dict[int, Subject] = {}
    for subject in (Subject.objects.filter(person_id__in=person_ids).select_related("agency", "facility")
                    .order_by("status_changed_at", "id")):
        newest[subject.person_id] = subject
    return {person: subject for person, subject in newest.items() if _visible(subject, now)}


def _visible(subject: Subject, now: datetime) -> bool:
    """The search's visibility rules (``_SEARCH_SQL``) for one subject already read."""
    adult_born_by, gone_since = _visibility_bounds(now)
    if subject.protected or (subject.date_of_birth is not None and subject.date_of_birth > adult_born_by):
        return False
    long_gone = subject.status_changed_at is None or subject.status_changed_at < gone_since
    return not (subject.status in _GONE and long_gone)


def locator_search_public(*, query: LocatorQuery, actor: Actor, via: str) -> list[LocatorResult]:
    """``locator_search`` for the public (API or portal), recording in the audit log whom it showed.

    The audit entry names the person shown and ``actor`` (``locator_actor``: a keyed hash of the client),
    never the search terms, so a privacy officer can see who keeps looking someone up.
    """
    if isinstance(query, ByBooking) and budget_check(name=f"agency:{query.agency_code}",
                                                     rate=settings.VINEX_LOCATOR_AGENCY_BUDGET):
        # Someone may be counting through this agency's booking numbers: past the agency's budget its
        # booking numbers find nobody (the operator is alerted) until the period has passed.
        return []
    with audit_unit(actor=actor) as unit:
        # The actor names the client (locator_actor): the results' subject_refs carry it to a registration.
        client_ref = actor.ref.removeprefix("public:") if actor.ref.startswith("public:") else ""
        results = locator_search(query=query, client_ref=client_ref)
        unit.add_many("view", "person", [r.person_id for r in results], purpose=f"locator search ({via})")
    return results


def locator_actor(client_key: str) -> Actor:
    """How the audit log names a locator client: ``public:<keyed hash>``, as ``people_looked_up`` reads it."""
    return Actor.public("public", locator_client_ref(client_key))


def locator_client_ref(client_key: str) -> str:
    """The keyed hash that names a locator client in the audit log (never the address itself)."""
    return hash_key(client_key, purpose="audit-client")[:16]


def people_looked_up(*, client_ref: str, since: datetime) -> int:
    """How many different people the locator showed to one client since ``since`` (from the audit log)."""
    return (AuditEntry.objects.filter(actor=f"public:{client_ref}", action="view", object_type="person", at__gte=since)
            .values("object_id").distinct().count())


def _result(subject: Subject, current: Subject | None, client_ref: str = "", *,
            by_a_number: bool = False) -> LocatorResult:
    """The match as the public may see it, showing where the person is now when another agency holds them."""
    view = disclose(subject, audience=Audience.PUBLIC_LOCATOR)
    status, facility = view["status"], None
    shown = view
    if current is not None and current.pk != subject.pk:
        shown = disclose(current, audience=Audience.PUBLIC_LOCATOR)
        status = shown["status"]
        if not (whereabouts_shared(current, with_agency=subject.agency)
                and public_locator_allowed(current.agency, by_a_number=by_a_number)):
            shown = Disclosure({})  # the holding agency does not share: its status, never its facility
    # Someone released, removed or deceased has no current facility, whatever their last one was.
    if shown.get("facility_name") and status not in _GONE:
        facility = Facility(shown["facility_name"], shown.get("facility_address") or "",
                            shown.get("facility_phone") or "")
    return LocatorResult(
        name=view["name"], status=status, facility=facility,
        subject_ref=subject_ref_make(person_id=subject.person_id, subject_id=subject.pk, client_ref=client_ref),
        person_id=subject.person_id,
    )


def agency_choices() -> list[tuple[str, str]]:
    """(code, name) of every agency, for the booking-number search."""
    return list(Agency.objects.order_by("name").values_list("code", "name"))
