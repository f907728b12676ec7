from __future__ import annotations

import pytest

from tests.conftest import event
from tests.custody.test_services import ingest
from vinex.custody.models import Agency, Facility
from vinex.feeds.selectors import population_ids, subjects_known

pytestmark = pytest.mark.django_db

ODD_IDS = ['S "1"', "S\\2", "S-ñ-3", "S,4", "[5]", "null"]


def test_the_population_comes_back_exactly_whatever_the_ids_hold(agency: Agency) -> None:
    main = Facility.objects.get(agency=agency, code="main")
    assert population_ids(facility=main).to_list() == []
    for number, asid in enumerate(ODD_IDS):
        assert ingest(agency, event(f"b{number}", "BOOKED", subject=asid)) == ["accepted"]
    assert sorted(population_ids(facility=main).to_list()) == sorted(ODD_IDS)
    known = subjects_known(facility=main, ids=[*ODD_IDS, "nobody"])
    assert sorted(known) == sorted(ODD_IDS) and {k.status for k in known.values()} == {"IN_CUSTODY"}
