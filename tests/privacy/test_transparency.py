"""The public transparency page: each agency's sharing rules in plain words, and partner reads, exports and
refusals per completed quarter, counted from what the partner API really did and published only as a
suppressed report would be (nothing from 1 to 10, nothing a linear program can pin down, nothing per person)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.template.loader import render_to_string
from django.test import Client
from django.utils import timezone

from tests.accounts.helpers import staff_client
from tests.actors import ACTOR
from tests.locator.people import book
from tests.privacy.test_sharing import admin_post_policy
from tests.reports.attack import table_disclosed
from vinex.audit.models import AuditEntry
from vinex.custody.models import Agency, Facility, Subject
from vinex.custody.services import apikey_create
from vinex.policy.sharing import Purpose
from vinex.privacy.transparency import completed_quarters, transparency_document
from vinex.privacy.transparency_views import page_context
from vinex.reports.quarter import Quarter, iso_z

pytestmark = pytest.mark.django_db
EVERY_PURPOSE = tuple(p.value for p in Purpose)
SANCTUARY = {"allow_partners": ["*"], "allow_purposes": ["victim_notification", "law_enforcement", "court",
                                                         "corrections", "research"],
             "deny_partners": ["ice-ero"]}


@pytest.fixture(autouse=True)
def fresh_counts() -> None:
    """The counts of a completed quarter are cached; each test counts its own."""
    cache.clear()


@pytest.fixture
def federal(db: None) -> Agency:
    agency = Agency.objects.create(code="ice-ero", name="Federal Removal Operations", jurisdiction_code="US")
    Facility.objects.create(agency=agency, code="proc", name="Processing Center", timezone="America/Chicago")
    return agency


def partner(agency: Agency) -> Client:
    token = apikey_create(actor=ACTOR, agency=agency, scopes=("custody:read",), purposes=EVERY_PURPOSE)[1]
    return Client(headers={"Authorization": f"Bearer {token}"})


def look_up(client: Client, purpose: str, times: int, a_number: str = "123456789") -> None:
    for _ in range(times):
        response = client.get("/api/v1/partner/subjects", {"a_number": a_number, "purpose": purpose})
        assert response.status_code == 200


def export(client: Client, owner: str, purpose: str) -> int:
    response: Any = client.get(f"/api/v1/partner/agencies/{owner}/population.csv", {"purpose": purpose})
    if response.status_code == 200:
        b"".join(response.streaming_content)
    return int(response.status_code)


def after_this_quarter() -> Any:
    now = timezone.now()
    return Quarter(now.year, (now.month - 1) // 3 + 1).end + timedelta(minutes=1)


@pytest.fixture
def activity(agency: Agency, other_agency: Agency, federal: Agency) -> None:
    """This quarter, through the partner API: State reads a Pine County person 12 times for law enforcement
    and 3 times for a court and exports Pine's list once for research; the federal agency, which Pine's rules
    refuse, asks 4 times for immigration enforcement and tries one export. State also reads its own records."""
    agency.sharing_policy = SANCTUARY
    agency.save()
    book(agency, "S-1", a_number="123456789")
    book(other_agency_facility(other_agency), "N-1", a_number="987654321", first_name="Ezra")
    state, ice = partner(other_agency), partner(federal)
    look_up(state, "law_enforcement", 12)
    look_up(state, "court", 3)
    assert export(state, "pine", "research") == 200
    look_up(ice, "immigration_enforcement", 4)
    assert export(ice, "pine", "immigration_enforcement") == 403
    look_up(state, "corrections", 2, a_number="987654321")  # its own records: not sharing


def other_agency_facility(agency: Agency) -> Agency:
    """``book`` books into a facility coded ``main``."""
    Facility.objects.get_or_create(agency=agency, code="main", defaults={"name": "State Main"})
    return agency


def pine(document: dict[str, Any]) -> dict[str, Any]:
    return next(a for a in document["agencies"] if a["code"] == "pine")


def published_numbers(document: dict[str, Any]) -> list[int | None]:
    numbers: list[int | None] = []
    for agency in document["agencies"]:
        for tables in agency["quarters"].values():
            for table in tables.values():
                numbers += [v for row in table["values"] for v in row]
                numbers += [*table["row_totals"], *table["column_totals"], table["total"]]
    return numbers


def test_partner_reads_exports_and_refusals_are_counted_by_partner_and_purpose(activity: None) -> None:
    document = transparency_document(now=after_this_quarter())
    quarter = document["quarters"][0]["quarter"]
    tables = pine(document)["quarters"][quarter]

    reads = tables["reads"]
    assert reads["rows"] == ["ice-ero", "state"] and reads["columns"] == list(EVERY_PURPOSE)
    state = reads["values"][reads["rows"].index("state")]
    assert state[EVERY_PURPOSE.index("law_enforcement")] == 12
    assert state[EVERY_PURPOSE.index("court")] is None  # 3: withheld
    assert reads["suppressed"][1][EVERY_PURPOSE.index("court")] == "primary"
    assert reads["values"][0] == [0] * len(EVERY_PURPOSE)  # the federal agency read nothing
    refusals = tables["refusals"]
    ice = refusals["values"][refusals["rows"].index("ice-ero")]
    assert ice[EVERY_PURPOSE.index("immigration_enforcement")] is None  # 5 refusals: withheld
    assert refusals["suppressed"][0][EVERY_PURPOSE.index("immigration_enforcement")] == "primary"
    assert tables["exports"]["suppressed"][1][EVERY_PURPOSE.index("research")] == "primary"
    # An agency reading its own records is not sharing: State's own table stays empty.
    state_tables = next(a for a in document["agencies"] if a["code"] == "state")["quarters"][quarter]
    assert all(not t["rows"] for t in state_tables.values())


def test_every_published_count_is_zero_eleven_or_more_or_withheld_and_none_can_be_worked_out(
        activity: None) -> None:
    document = transparency_document(now=after_this_quarter())
    numbers = published_numbers(document)
    assert None in numbers and 12 in numbers
    assert all(n is None or n == 0 or n >= 11 for n in numbers)
    for agency in document["agencies"]:
        for tables in agency["quarters"].values():
            for name, table in tables.items():
                if table["rows"]:
                    assert table_disclosed(table) == [], (agency["code"], name)


def test_nothing_about_any_person_is_published(activity: None) -> None:
    document = json.dumps(transparency_document(now=after_this_quarter()), ensure_ascii=False)
    subject = Subject.objects.get(agency_subject_id="S-1")
    for detail in ("123456789", "María", "García", "S-1", "N-1", "Ezra", "987654321"):
        assert detail not in document
    assert f'"{subject.pk}"' not in document


def test_the_quarter_under_way_is_not_published(activity: None) -> None:
    document = transparency_document()
    current = Quarter(timezone.now().year, (timezone.now().month - 1) // 3 + 1)
    assert str(current) not in [q["quarter"] for q in document["quarters"]]
    assert all(not t["rows"] for a in document["agencies"] for ts in a["quarters"].values() for t in ts.values())
    assert completed_quarters(now=current.start)[0].end == current.start


def test_the_page_shows_the_tables_with_withheld_counts_as_dashes(activity: None) -> None:
    page = render_to_string("privacy/transparency.html", page_context(transparency_document(now=after_this_quarter())))
    assert "Records read by other agencies" in page and "Requests refused by the rules" in page
    assert "<td>12</td>" in page and "<td>—</td>" in page
    for small in range(1, 11):
        assert f"<td>{small}</td>" not in page


def test_the_page_and_json_are_public_and_explain_each_policy(agency: Agency, other_agency: Agency,
                                                               federal: Agency) -> None:
    agency.sharing_policy = SANCTUARY
    agency.save()
    federal.sharing_policy = "not a policy"
    federal.save()
    page = Client().get("/transparency/").content.decode()
    assert "Pine County Sheriff" in page
    assert "Other agencies that may read its data: any agency, except ice-ero." in page
    assert "Refused: immigration enforcement; any request from ice-ero." in page
    assert "shares nothing with other agencies until they are fixed" in page
    assert f"Rules last changed on {agency.created_at.date().isoformat()}." in page
    assert "No other agency read, exported or was refused this agency's data in this quarter." in page

    response = Client().get("/transparency.json")
    assert response.status_code == 200 and response["Content-Type"].startswith("application/json")
    policy = next(a for a in response.json()["agencies"] if a["code"] == "pine")["policy"]
    assert policy == {"valid": True, "shares_with": ["*"], "refused_partners": ["ice-ero"],
                      "purposes": ["victim_notification", "law_enforcement", "court", "corrections", "research"],
                      "refused_purposes": ["immigration_enforcement"]}
    assert len(response.json()["quarters"]) == 4


def test_the_page_in_spanish(agency: Agency) -> None:
    agency.sharing_policy = SANCTUARY
    agency.save()
    page = Client().get("/transparency/", headers={"Accept-Language": "es"}).content.decode()
    assert "Transparencia: quién recibe datos de custodia" in page and "Con estos fines:" in page
    assert "Rechazado: aplicación de las leyes de inmigración; cualquier solicitud de ice-ero." in page


def test_the_date_a_policy_last_changed_is_the_administrators_audited_change(agency: Agency) -> None:
    Agency.objects.filter(pk=agency.pk).update(created_at=timezone.now() - timedelta(days=400))
    agency.refresh_from_db()
    before = Client().get("/transparency.json").json()
    assert pine(before)["policy_changed_at"].startswith(agency.created_at.date().isoformat())

    admin, _ = staff_client("ada", "administrator")
    assert admin_post_policy(admin, agency, '{"deny_partners": ["ice-ero"]}').status_code == 302
    change = AuditEntry.objects.get(action="permission_change", object_type="agency_sharing_policy")
    after = Client().get("/transparency.json").json()
    assert pine(after)["policy_changed_at"] == iso_z(change.at)
    assert pine(after)["policy"]["refused_partners"] == ["ice-ero"]
    assert f"Rules last changed on {change.at.date().isoformat()}." in Client().get("/transparency/").content.decode()
