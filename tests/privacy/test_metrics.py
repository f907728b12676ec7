"""Refused disclosures show in /metrics, counted by owning agency and purpose."""

from __future__ import annotations

import pytest
from django.test import Client

from vinex.custody.models import Agency
from vinex.policy.sharing import Purpose
from vinex.privacy.denials import disclosure_denial_record

pytestmark = pytest.mark.django_db


def test_refused_records_are_counted_per_agency_and_purpose(agency: Agency, other_agency: Agency,
                                                            client: Client) -> None:
    for ids in (["1", "2"], ["3"]):
        disclosure_denial_record(owner=agency, partner=other_agency, purpose=Purpose.IMMIGRATION_ENFORCEMENT,
                                 reason="policy", object_type="subject", object_ids=ids)

    text = client.get("/metrics").content.decode()

    assert 'vinex_disclosure_denied_records_total{agency="pine",purpose="immigration_enforcement"} 3.0' in text
