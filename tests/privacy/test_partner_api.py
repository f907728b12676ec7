"""Partner agencies reading custody data: sanctuary rules hold, refusals are audited and counted, and no
agency-facing answer ever carries a victim's data."""

from __future__ import annotations

import csv
import io
import json
from datetime import datetime, timedelta
from typing import Any, cast

import pytest
from django.core.management import CommandError, call_command
from django.test import Client
from django.utils import timezone

from tests.actors import ACTOR
from tests.conftest import event
from tests.factories import subscribe
from vinex.audit.models import AuditEntry
from vinex.custody.models import Agency, Facility, Subject
from vinex.custody.services import apikey_create
from vinex.policy.sharing import Purpose
from vinex.privacy.denials import disclosure_denials_count

pytestmark = pytest.mark.django_db


@pytest.fixture
def federal(db: None) -> Agency:
    agency = Agency.objects.create(code="ice-ero", name="Federal Removal Operations", jurisdiction_code="US")
    Facility.objects.create(agency=agency, code="proc", name="Processing Center", timezone="America/Chicago")
    return agency


EVERY_PURPOSE = tuple(p.value for p in Purpose)
# What an agency that shares with everyone for every purpose writes (sharing is denied by default).
OPEN = {"allow_partners": ["*"], "allow_purposes": list(EVERY_PURPOSE)}


def client_for(agency: Agency, *scopes: str, purposes: tuple[str, ...] = EVERY_PURPOSE) -> Client:
    scopes = scopes or ("custody:read",)
    token = apikey_create(actor=ACTOR, agency=agency, scopes=scopes,
                          purposes=purposes if "custody:read" in scopes else ())[1]
    return Client(headers={"Authorization": f"Bearer {token}"})


@pytest.fixture
def held(api: Client, agency: Agency) -> Subject:
    """Robin Quill (A-number 123456789) booked into Pine County Jail, followed by a victim; Pine County
    shares with every agency for every purpose unless a test narrows its policy."""
    agency.sharing_policy = OPEN
    agency.save()
    booked = event("e1", "BOOKED")
    booked["subject"]["identifiers"] = {"a_number": "A123-456-789", "booking_number": "B-77"}
    response = api.post("/api/v1/custody-events", {"events": [booked]}, content_type="application/json")
    assert response.json()["accepted"] == 1
    subscribe(agency, "S-1", email="victim.private@example.org", sms="+12025550143")
    return Subject.objects.get(agency=agency, agency_subject_id="S-1")


def find(client: Client, **params: str) -> Any:
    return client.get("/api/v1/partner/subjects", params)


def test_a_partner_sees_status_where_the_policy_allows(held: Subject, other_agency: Agency) -> None:
    response = find(client_for(other_agency), a_number="123456789", purpose="law_enforcement")

    assert response.status_code == 200
    [result] = response.json()["results"]
    assert result["name"] == "Robin Quill"
    assert result["status"] == "IN_CUSTODY"
    assert result["facility_name"] == "Pine County Jail"
    assert result["agency_code"] == "pine" and result["booking_number"] == "B-77"
    reads = AuditEntry.objects.filter(action="read", object_type="subject", object_id=str(held.pk))
    assert reads.filter(actor="agency:state", purpose="law_enforcement").count() == 1


def test_sanctuary_policy_hides_the_subject_from_the_named_partner(held: Subject, agency: Agency,
                                                                     federal: Agency) -> None:
    agency.sharing_policy = {**OPEN, "deny_partners": ["ice-ero"]}
    agency.save()

    response = find(client_for(federal), a_number="A 123 456 789", purpose="law_enforcement")

    assert response.status_code == 200
    assert response.json() == {"results": []}  # exactly what an unknown person looks like
    denial = AuditEntry.objects.get(action="disclosure_denied", object_id=str(held.pk))
    assert (denial.actor, denial.outcome, denial.purpose) == ("agency:ice-ero", "denied", "law_enforcement")
    now = timezone.now()
    [count] = disclosure_denials_count(since=now - timedelta(hours=1), until=now + timedelta(hours=1))
    assert (count.owner, count.partner, count.purpose, count.requests, count.records) == (
        "pine", "ice-ero", "law_enforcement", 1, 1)


def test_a_purpose_rule_refuses_every_partner_for_that_purpose_only(held: Subject, agency: Agency,
                                                                     other_agency: Agency) -> None:
    agency.sharing_policy = {**OPEN, "deny_purposes": ["immigration_enforcement"]}
    agency.save()
    partner = client_for(other_agency)

    refused = find(partner, a_number="123456789", purpose="immigration_enforcement")
    allowed = find(partner, a_number="123456789", purpose="court")

    assert refused.json()["results"] == []
    assert [r["name"] for r in allowed.json()["results"]] == ["Robin Quill"]


def test_an_unreadable_policy_shares_nothing(held: Subject, agency: Agency, other_agency: Agency) -> None:
    agency.sharing_policy = {"deny_partner": "ice-ero"}  # a typo must not open the data
    agency.save()

    assert find(client_for(other_agency), a_number="123456789", purpose="court").json()["results"] == []


def test_an_agency_always_sees_its_own_people_even_protected(held: Subject, agency: Agency) -> None:
    agency.sharing_policy = {"deny_purposes": ["law_enforcement"]}
    agency.save()
    Subject.objects.filter(pk=held.pk).update(protected=True)

    response = find(client_for(agency), agency="PINE", agency_subject_id="S-1", purpose="law_enforcement")

    assert [r["name"] for r in response.json()["results"]] == ["Robin Quill"]


def test_protected_subjects_are_never_shown_to_partners(held: Subject, other_agency: Agency) -> None:
    Subject.objects.filter(pk=held.pk).update(protected=True)

    response = find(client_for(other_agency), agency="pine", booking_number="B-77", purpose="court")

    assert response.json()["results"] == []
    assert AuditEntry.objects.filter(action="disclosure_denied", object_id=str(held.pk)).exists()


def test_export_streams_the_population_as_csv_and_audits_each_row(held: Subject, other_agency: Agency) -> None:
    response: Any = client_for(other_agency).get("/api/v1/partner/agencies/pine/population.csv",
                                                 {"purpose": "corrections"})  # streamed: .streaming_content

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(r["agency_subject_id"], r["name"], r["status"]) for r in rows] == [("S-1", "Robin Quill", "IN_CUSTODY")]
    changed = rows[0]["status_changed_at"]
    assert "T" in changed and datetime.fromisoformat(changed).tzinfo is not None  # ISO 8601 with its offset
    assert AuditEntry.objects.filter(action="read", actor="agency:state", object_id=str(held.pk)).count() == 1


def test_export_cells_a_spreadsheet_would_run_as_formulas_stay_text(api: Client, agency: Agency,
                                                                   other_agency: Agency) -> None:
    agency.sharing_policy = OPEN
    agency.save()
    booked = event("e1", "BOOKED")
    booked["subject"] |= {"first_name": "=HYPERLINK(\"http://x.example\")", "last_name": "-Quill"}
    booked["subject"]["identifiers"] = {"booking_number": "@B-77"}
    assert api.post("/api/v1/custody-events", {"events": [booked]},
                    content_type="application/json").json()["accepted"] == 1

    response: Any = client_for(other_agency).get("/api/v1/partner/agencies/pine/population.csv",
                                                 {"purpose": "corrections"})
    [row] = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert row["name"] == "'=HYPERLINK(\"http://x.example\") -Quill"
    assert row["booking_number"] == "'@B-77"
    assert row["agency_subject_id"] == "S-1"  # ordinary values are untouched


def test_export_refused_by_policy_is_403_and_counted(held: Subject, agency: Agency, federal: Agency) -> None:
    agency.sharing_policy = {**OPEN, "deny_partners": ["ice-ero"], "deny_purposes": ["immigration_enforcement"]}
    agency.save()

    response = client_for(federal).get("/api/v1/partner/agencies/pine/population.csv", {"purpose": "court"})

    assert response.status_code == 403
    assert response.json()["detail"][0]["msg"] == "pine does not share custody data with ice-ero"
    assert AuditEntry.objects.filter(action="disclosure_denied", object_type="agency", object_id="pine").exists()


@pytest.mark.parametrize("params, field", [
    ({"a_number": "123456789"}, "purpose"),
    ({"a_number": "123456789", "purpose": "curiosity"}, "purpose"),
    ({"agency": "pine", "purpose": "court"}, None),
    ({"a_number": "12", "purpose": "court"}, "a_number"),
])
def test_bad_queries_get_field_errors(other_agency: Agency, params: dict[str, str], field: str | None) -> None:
    response = find(client_for(other_agency), **params)

    assert response.status_code == 422
    locs = [e["loc"] for e in response.json()["detail"]]
    assert field is None or any(field in loc for loc in locs), locs


def test_partner_reads_need_the_read_scope_and_a_key(held: Subject, agency: Agency) -> None:
    feed_only = client_for(agency, "events:write", "rosters:write")

    assert find(feed_only, a_number="123456789", purpose="court").status_code == 403
    assert Client().get("/api/v1/partner/subjects", {"a_number": "123456789", "purpose": "court"}).status_code == 401
    assert client_for(agency).get("/api/v1/partner/agencies/nope/population.csv",
                                  {"purpose": "court"}).status_code == 404


def test_no_agency_facing_answer_carries_victim_data(held: Subject, agency: Agency, other_agency: Agency) -> None:
    """Every endpoint an agency key can call, with a followed subject: no contact value in any answer."""
    everything = client_for(agency, "events:write", "rosters:write", "custody:read")
    answers = [
        find(everything, a_number="123456789", purpose="court").content,
        b"".join(cast(Any, everything.get("/api/v1/partner/agencies/pine/population.csv",
                                          {"purpose": "court"})).streaming_content),
        everything.post("/api/v1/custody-events", {"events": [event("e2", "RELEASED", minutes=5)]},
                        content_type="application/json").content,
        everything.put("/api/v1/rosters/main", "agency_subject_id,first_name,last_name\nS-2,Ann,Lee\n",
                       content_type="text/csv").content,
    ]
    schema = json.dumps(Client().get("/api/v1/openapi.json").json())

    for answer in answers:
        assert b"victim.private" not in answer and b"5550143" not in answer
    agency_paths = {path: ops for path, ops in json.loads(schema)["paths"].items()
                    if path.startswith(("/api/v1/partner", "/api/v1/custody", "/api/v1/rosters"))}
    assert len(agency_paths) == 4
    for word in ("registrant", "contact", "subscription", "email"):
        assert word not in json.dumps(agency_paths).lower()


def test_the_export_is_documented_as_csv() -> None:
    schema = Client().get("/api/v1/openapi.json").json()

    export = schema["paths"]["/api/v1/partner/agencies/{agency_code}/population.csv"]["get"]
    assert list(export["responses"]["200"]["content"]) == ["text/csv"]
    assert export["responses"]["403"]["content"]["application/json"]


def test_an_agency_without_a_policy_shares_nothing_but_victim_notification(held: Subject, agency: Agency,
                                                                         other_agency: Agency) -> None:
    agency.sharing_policy = {}
    agency.save()
    partner = client_for(other_agency)

    for purpose in ("law_enforcement", "court", "immigration_enforcement", "research"):
        assert find(partner, a_number="123456789", purpose=purpose).json()["results"] == [], purpose
    assert [r["name"] for r in find(partner, a_number="123456789", purpose="victim_notification").json()[
        "results"]] == ["Robin Quill"]


def test_a_sanctuary_allow_list_refuses_every_purpose_it_does_not_name(held: Subject, agency: Agency,
                                                                      federal: Agency, other_agency: Agency) -> None:
    agency.sharing_policy = {"allow_partners": ["state"], "allow_purposes": ["court", "corrections"]}
    agency.save()

    assert find(client_for(other_agency), a_number="123456789", purpose="court").json()["results"] != []
    assert find(client_for(other_agency), a_number="123456789", purpose="immigration_enforcement").json()[
        "results"] == []
    assert find(client_for(federal), a_number="123456789", purpose="court").json()["results"] == []


def test_a_purpose_the_key_was_not_issued_for_is_403(held: Subject, other_agency: Agency) -> None:
    partner = client_for(other_agency, purposes=("law_enforcement",))

    stated = find(partner, a_number="123456789", purpose="court")
    export = partner.get("/api/v1/partner/agencies/pine/population.csv", {"purpose": "corrections"})

    assert stated.status_code == 403 and export.status_code == 403
    assert stated.json()["detail"][0]["loc"] == ["query", "purpose"]
    assert find(partner, a_number="123456789", purpose="law_enforcement").status_code == 200


def test_a_read_key_is_issued_with_its_purposes(agency: Agency) -> None:
    with pytest.raises(ValueError, match="purposes"):
        apikey_create(actor=ACTOR, agency=agency, scopes=["custody:read"])
    with pytest.raises(ValueError, match="unknown purposes"):
        apikey_create(actor=ACTOR, agency=agency, scopes=["custody:read"], purposes=["curiosity"])
    key, _ = apikey_create(actor=ACTOR, agency=agency, scopes=["custody:read"], purposes=["court", "court"])
    assert key.purposes == ["court"]
    assert AuditEntry.objects.get(object_type="apikey", object_id=key.prefix).purpose.endswith("purposes court")


def test_the_apikey_command_issues_a_read_key_with_its_purposes(held: Subject, other_agency: Agency,
                                                               capsys: pytest.CaptureFixture[str]) -> None:
    call_command("apikey", "create", "--agency", "state", "--scope", "custody:read", "--purpose", "court")
    partner = Client(headers={"Authorization": f"Bearer {capsys.readouterr().out.strip()}"})

    assert find(partner, a_number="123456789", purpose="court").status_code == 200
    assert find(partner, a_number="123456789", purpose="law_enforcement").status_code == 403
    with pytest.raises(CommandError, match="purposes"):
        call_command("apikey", "create", "--agency", "state", "--scope", "custody:read")
