from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from vinex.custody.models import Agency, Facility
from vinex.feeds.models import FacilityFeed

pytestmark = pytest.mark.django_db


def test_the_public_page_names_silent_facilities_and_no_person(client: Client, agency: Agency) -> None:
    silent = FacilityFeed.objects.create(facility=Facility.objects.get(agency=agency, code="main"), monitored=True,
                                         cadence_seconds=3600)
    FacilityFeed.objects.filter(pk=silent.pk).update(last_event_at=timezone.now() - timedelta(hours=3))
    FacilityFeed.objects.create(facility=Facility.objects.get(agency=agency, code="annex"), monitored=True,
                                cadence_seconds=3600, last_event_at=timezone.now())
    page = client.get("/status/").content.decode()
    assert "Pine County Jail (Pine County Sheriff): notifications may be delayed since" in page
    assert "Pine Annex" not in page
    spanish = client.get("/status/", headers={"Accept-Language": "es"}).content.decode()
    assert "los avisos pueden llegar con retraso desde" in spanish


def test_all_quiet_says_so(client: Client, agency: Agency) -> None:
    assert "All facilities are reporting as expected." in client.get("/status/").content.decode()
