"""A refused partner lookup looks like a lookup of nobody: in the answer, in the work done, and on /metrics."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.privacy.test_partner_api import client_for, federal, find, held  # noqa: F401  (fixtures)
from tests.site.scraping import metrics_text, sample, scrape_token  # noqa: F401  (a fixture)
from vinex.custody.models import Agency, Subject
from vinex.privacy.models import DisclosureDenial

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("scrape_token")]


@pytest.fixture
def sanctuary(held: Subject, agency: Agency) -> Agency:  # noqa: F811
    agency.sharing_policy = {"deny_partners": ["ice-ero"]}
    agency.save()
    return agency


def _lookup_queries(partner: Agency, a_number: str) -> tuple[int, dict[str, list[object]]]:
    client = client_for(partner)
    find(client, a_number="999999999", purpose="law_enforcement")  # warm: the key's first use updates it
    with CaptureQueriesContext(connection) as queries:
        response = find(client, a_number=a_number, purpose="law_enforcement")
    assert response.status_code == 200
    return len(queries), response.json()


def test_a_refusal_does_the_work_of_an_unknown_person(sanctuary: Agency, federal: Agency) -> None:  # noqa: F811
    unknown_queries, unknown = _lookup_queries(federal, "987654321")
    refused_queries, refused = _lookup_queries(federal, "123456789")

    assert refused == unknown == {"results": []}
    assert refused_queries == unknown_queries
    # The refusal is still recorded for staff and reports, and only the refusal.
    assert DisclosureDenial.objects.get().owner == sanctuary


def test_metrics_count_refusals_by_purpose_and_never_name_the_agency(sanctuary: Agency,
                                                                     federal: Agency) -> None:  # noqa: F811
    before = sample("vinex_disclosure_denied_records_total", purpose="law_enforcement")

    find(client_for(federal), a_number="123456789", purpose="law_enforcement")

    assert sample("vinex_disclosure_denied_records_total", purpose="law_enforcement") == before + 1
    denials = [line for line in metrics_text().splitlines() if line.startswith("vinex_disclosure")]
    assert denials and not any("agency" in line or "pine" in line for line in denials)
