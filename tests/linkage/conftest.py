from __future__ import annotations

import pytest

from vinex.custody.models import Agency, Facility


@pytest.fixture
def detention(db: None) -> Agency:
    """A second agency, in another state, whose records linkage may join to county A's."""
    agency = Agency.objects.create(code="ice-south", name="South Detention Center Authority",
                                   jurisdiction_code="US-TX-001")
    Facility.objects.create(agency=agency, code="main", name="South Texas Detention Center", timezone="America/Chicago")
    return agency
