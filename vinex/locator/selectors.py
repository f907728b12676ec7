"""Reads for the public locator: exact lookups that reveal only what the disclosure policy allows.

A search needs exact identifiers (an A-number, a booking number, or a full name) plus a second fact,
so nobody can browse the custody population. People released more than
``VINEX_LOCATOR_RELEASED_DAYS`` ago, minors and ``protected`` subjects are never returned: for them
the answer is the same as for someone vinex has never heard of.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.conf import settings
from django.core import signing
from django.db.models import Q, QuerySet
from django.utils import timezone

from vinex.custody.models import Agency, CustodyStatus, Subject, name_key
from vinex.privacy.disclosure import Audience, disclose

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
    agency_code: str
    booking_number: str


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


def _matching(query: LocatorQuery) -> QuerySet[Subject]:
    subjects = Subject.objects.all()
    if isinstance(query, ByANumber):
        return subjects.filter(a_number=query.a_number, country_of_birth=query.country_of_birth)
    if isinstance(query, ByBooking):
        return subjects.filter(agency__code=query.agency_code, booking_number=query.booking_number)
    key = name_key(query.first_name, query.last_name)
    found = subjects.filter(name_key=key, country_of_birth=query.country_of_birth)
    return found.filter(date_of_birth=query.date_of_birth) if query.date_of_birth else found


def _visible(subjects: QuerySet[Subject], now: datetime) -> QuerySet[Subject]:
    """Drop protected people, minors and those long gone (or gone at an unknown time)."""
    today = timezone.localdate(now)
    adult_born_by = _years_before(today, settings.VINEX_LOCATOR_MINOR_AGE)
    gone_since = now - timedelta(days=settings.VINEX_LOCATOR_RELEASED_DAYS)
    long_gone = Q(status__in=_GONE) & (Q(status_changed_at__lt=gone_since) | Q(status_changed_at__isnull=True))
    minor = Q(date_of_birth__gt=adult_born_by)
    # A person protected by any agency stays hidden, whichever agency's record matched.
    protected = Q(person__subjects__protected=True)
    return subjects.filter(protected=False).exclude(minor).exclude(long_gone).exclude(protected)


def _years_before(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year - years)
    except ValueError:  # 29 February
        return day.replace(year=day.year - years, day=28)


def subject_ref_make(*, person_id: int) -> str:
    """An opaque, signed and expiring token naming the person a search found."""
    return signing.TimestampSigner(salt=SUBJECT_REF_SALT).sign_object({"p": person_id}, compress=True)


def subject_ref_person_id(*, subject_ref: str) -> int | None:
    """The person a ``subject_ref`` names, or None when it is forged, malformed or expired."""
    try:
        payload = signing.TimestampSigner(salt=SUBJECT_REF_SALT).unsign_object(
            subject_ref, max_age=settings.VINEX_SUBJECT_REF_MAX_AGE
        )
    except (signing.BadSignature, ValueError, TypeError):
        return None
    person = payload.get("p") if isinstance(payload, dict) else None
    return person if isinstance(person, int) else None


def locator_search(*, query: LocatorQuery, now: datetime | None = None) -> list[LocatorResult]:
    """Exact matches for ``query`` that the public may see, one per person, newest status first."""
    now = now or timezone.now()
    subjects = _visible(_matching(query), now).select_related("agency", "facility")
    seen: set[int] = set()
    results: list[LocatorResult] = []
    for subject in subjects.order_by("-status_changed_at", "-id")[: MAX_RESULTS * 2]:
        if subject.person_id in seen:
            continue
        seen.add(subject.person_id)
        results.append(_result(subject))
    return results[:MAX_RESULTS]


def _result(subject: Subject) -> LocatorResult:
    view = disclose(subject, audience=Audience.PUBLIC_LOCATOR)
    facility = None
    # Someone released, removed or deceased has no current facility, whatever their last one was.
    if view.get("facility_name") and view["status"] not in _GONE:
        facility = Facility(view["facility_name"], view.get("facility_address") or "", view.get("facility_phone") or "")
    return LocatorResult(
        name=view["name"], status=view["status"], facility=facility,
        subject_ref=subject_ref_make(person_id=subject.person_id),
    )


def agency_choices() -> list[tuple[str, str]]:
    """(code, name) of every agency, for the booking-number search."""
    return list(Agency.objects.order_by("name").values_list("code", "name"))
