"""Demo data: two agencies, three facilities, fifty people in custody, a few verified registrants.

Loading is idempotent: running it again changes nothing and creates no duplicate rows.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.contrib.auth.models import User
from django.db import transaction
from django.utils import timezone

from vinex.accounts import matrix
from vinex.accounts.services import staffuser_create
from vinex.advocates.services import membership_set, organisation_create
from vinex.audit.unit import Actor
from vinex.custody.models import Agency, EventSource, Facility
from vinex.custody.schemas import EventIn
from vinex.notify.models import Channel, CreatedVia, Registrant, SubscriptionStatus, Tier
from vinex.notify.services import contact_add, contacts_find, subscription_create
from vinex.pipeline import IncomingEvent, events_ingest, payload_hash

AGENCIES: list[dict[str, Any]] = [
    {
        "code": "pine-county",
        "name": "Pine County Sheriff's Office",
        "jurisdiction_code": "US-XX-001",
        "support_name": "Pine County Victim Services",
        "support_phone": "+1 555 010 0100",
        # A county under a sanctuary ordinance, written deny-by-default: it shares only for the purposes it
        # lists, and names immigration enforcement (and the federal immigration agency) as refused outright.
        "sharing_policy": {"allow_partners": ["*"],
                           "allow_purposes": ["victim_notification", "court", "corrections", "law_enforcement"],
                           "deny_partners": ["ice-ero"], "deny_purposes": ["immigration_enforcement"]},
        "facilities": [
            ("pine-main", "Pine County Jail", "100 Main St, Pineville", "+1 555 010 0101", "America/New_York"),
            ("pine-annex", "Pine County Jail Annex", "12 Annex Rd, Pineville", "+1 555 010 0102", "America/New_York"),
        ],
    },
    {
        "code": "state-doc",
        "name": "State Department of Corrections",
        "jurisdiction_code": "US-XX",
        "support_name": "State Office of Victim Services",
        "support_phone": "+1 555 010 0200",
        "facilities": [
            ("state-north", "North State Prison", "1 Prison Way, Northtown", "+1 555 010 0201", "America/Chicago"),
        ],
    },
]

FIRST = ["Alex", "Jordan", "Maria", "José", "Sam", "Taylor", "Ana", "Luis", "Chris", "Dana"]
LAST = ["García", "Smith", "Johnson", "Martínez", "Brown", "López", "Davis", "Hernández", "Wilson", "Moore"]

# Contacts use reserved example domains and fictional numbers.
DEMO_REGISTRANTS = [
    ("en", "email", "victim.one@example.org", "pine-county", "PC-0001"),
    ("es", "email", "victima.dos@example.org", "pine-county", "PC-0002"),
    ("en", "sms", "+12025550143", "pine-county", "PC-0001"),
    ("es", "sms", "+12025550187", "state-doc", "SD-0001"),
]


@dataclass
class DemoSummary:
    agencies: int
    facilities: int
    subjects: int
    registrants: int


def _agencies() -> dict[str, Agency]:
    agencies = {}
    for spec in AGENCIES:
        agency, _ = Agency.objects.update_or_create(
            code=spec["code"],
            defaults={**{k: spec[k] for k in ("name", "jurisdiction_code", "support_name", "support_phone")},
                      "sharing_policy": spec.get("sharing_policy", {})},
        )
        for code, name, address, phone, tz in spec["facilities"]:
            Facility.objects.update_or_create(
                agency=agency, code=code, defaults={"name": name, "address": address, "phone": phone, "timezone": tz}
            )
        agencies[agency.code] = agency
    return agencies


def _bookings(agency: Agency, prefix: str, count: int, rng: random.Random) -> list[IncomingEvent]:
    facilities = list(agency.facilities.order_by("code"))
    booked_at = timezone.now() - timedelta(days=3)
    events = []
    for n in range(1, count + 1):
        raw = {
            "event_id": f"demo-{prefix}-{n:04d}-booked",
            "type": "BOOKED",
            "occurred_at": (booked_at + timedelta(minutes=n)).isoformat(),
            "facility_code": facilities[n % len(facilities)].code,
            "subject": {
                "agency_subject_id": f"{prefix}-{n:04d}",
                "first_name": rng.choice(FIRST),
                "last_name": rng.choice(LAST),
                "date_of_birth": f"19{rng.randint(60, 99)}-0{rng.randint(1, 9)}-1{rng.randint(0, 9)}",
                "country_of_birth": rng.choice(["US", "MX", "GT", "SV", "HN"]),
                "identifiers": {"booking_number": f"B{n:06d}", "a_number": f"{rng.randint(0, 999_999_999):09d}"},
            },
        }
        events.append(IncomingEvent(EventIn.model_validate(raw), payload_hash(raw), EventSource.MANUAL, "demo"))
    return events


def demo_load(*, actor: Actor) -> DemoSummary:
    rng = random.Random(20261125)  # noqa: S311 - reproducible fake names
    with transaction.atomic():
        agencies = _agencies()
        for code, prefix, count in (("pine-county", "PC", 30), ("state-doc", "SD", 20)):
            events_ingest(agency=agencies[code], events=_bookings(agencies[code], prefix, count, rng), actor=actor)
        for language, channel, value, agency_code, subject_id in DEMO_REGISTRANTS:
            _demo_registrant(language, channel, value, agencies[agency_code], subject_id, actor)
        _demo_advocates(agencies["pine-county"], actor)
    return DemoSummary(
        agencies=len(agencies),
        facilities=Facility.objects.filter(agency__in=agencies.values()).count(),
        subjects=sum(a.subjects.count() for a in agencies.values()),
        registrants=Registrant.objects.filter(created_via=CreatedVia.STAFF).count(),
    )


def _demo_registrant(language: str, channel: str, value: str, agency: Agency, subject_id: str, actor: Actor) -> None:
    found = contacts_find(channel=channel, value=value, actor=actor)
    if any(c.registrant.created_via == CreatedVia.STAFF for c in found):
        return
    registrant = Registrant.objects.create(language=language, created_via=CreatedVia.STAFF)
    contact_add(registrant=registrant, channel=Channel(channel), value=value, verified=True, actor=actor)
    subject = agency.subjects.get(agency_subject_id=subject_id)
    subscription_create(
        registrant=registrant,
        person=subject.person,
        tier=Tier.VERIFIED_VICTIM,
        created_via=CreatedVia.STAFF,
        status=SubscriptionStatus.ACTIVE,
        actor=actor,
    )


def _demo_advocates(agency: Agency, actor: Actor) -> None:
    """A victim-witness unit serving the county, and its advocate ``advocate`` (no password until an
    administrator sets one: ``vinex changepassword advocate``)."""
    organisation = organisation_create(code="pine-victim-witness", name="Pine County Victim-Witness Unit",
                                       agencies=[agency], actor=actor)
    user = User.objects.filter(username="advocate").first()
    if user is None:
        user = staffuser_create(username="advocate", password=None, roles=frozenset({matrix.ADVOCATE}), actor=actor)
        membership_set(user=user, organisation=organisation, actor=actor)
