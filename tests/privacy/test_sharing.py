"""Agency sharing policies as administrators write them, and the refusals page privacy officers read."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

from tests.accounts.helpers import staff_client
from vinex.audit.models import AuditEntry
from vinex.custody.models import Agency
from vinex.policy.sharing import Purpose, sharing_check, sharing_policy_parse
from vinex.privacy.denials import disclosure_denial_record

pytestmark = pytest.mark.django_db


def admin_post_policy(admin: Client, agency: Agency, policy: str) -> Any:
    return admin.post(f"/admin/custody/agency/{agency.pk}/change/", {
        "code": agency.code, "name": agency.name, "jurisdiction_code": agency.jurisdiction_code,
        "sharing_policy": policy, "support_name": "", "support_phone": "",
    })


def test_an_administrator_sets_a_sanctuary_policy_and_the_change_is_audited(agency: Agency,
                                                                             other_agency: Agency) -> None:
    admin, _ = staff_client("ada", "administrator")

    response = admin_post_policy(admin, agency, '{"deny_partners": ["STATE"], "deny_purposes": ["research"]}')

    assert response.status_code == 302
    agency.refresh_from_db()
    assert agency.sharing_policy == {"deny_partners": ["state"], "deny_purposes": ["research"]}
    assert not sharing_check(owner=agency, partner=other_agency, purpose=Purpose.COURT).allowed
    change = AuditEntry.objects.get(action="permission_change", object_type="agency_sharing_policy")
    assert change.object_id == "pine" and change.actor.startswith("user:")


@pytest.mark.parametrize("policy, complaint", [
    ('{"deny_partner": ["state"]}', "deny_partner"),
    ('{"deny_purposes": ["gossip"]}', "deny_purposes"),
])
def test_a_policy_with_a_mistake_is_refused_with_the_reason(agency: Agency, policy: str, complaint: str) -> None:
    admin, _ = staff_client("ada", "administrator")

    response = admin_post_policy(admin, agency, policy)

    assert response.status_code == 200 and complaint in response.content.decode()
    agency.refresh_from_db()
    assert agency.sharing_policy == {}


def test_policy_parsing_names_the_bad_field() -> None:
    with pytest.raises(ValueError, match=r"deny_purposes\.0"):
        sharing_policy_parse({"deny_purposes": ["nope"]})
    assert sharing_policy_parse(None).deny_partners == ()


def test_the_refusals_page_counts_per_agency_partner_and_purpose(agency: Agency, other_agency: Agency) -> None:
    for ids in (["1", "2"], ["3"]):
        disclosure_denial_record(owner=agency, partner=other_agency, purpose=Purpose.IMMIGRATION_ENFORCEMENT,
                                 reason="policy", object_type="subject", object_ids=ids)
    auditor, _ = staff_client("aud", "auditor")

    page = auditor.get("/staff/privacy/denials/").content.decode()

    assert "<td>pine</td><td>state</td><td>immigration_enforcement</td><td>2</td><td>3</td>" in page

