from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from tests.accounts.helpers import staff_client
from vinex.accounts import matrix
from vinex.accounts.models import AgencyMembership
from vinex.custody.models import Agency, Facility
from vinex.feeds.models import FacilityFeed

pytestmark = pytest.mark.django_db


def feeds(agency: Agency, other_agency: Agency) -> None:
    now = timezone.now()
    FacilityFeed.objects.create(facility=Facility.objects.get(code="main"), last_snapshot_at=now)
    FacilityFeed.objects.create(facility=Facility.objects.get(code="annex"), last_event_at=now - timedelta(days=5))
    FacilityFeed.objects.create(facility=Facility.objects.get(code="north"), last_event_at=now - timedelta(days=5))


def test_administrators_see_silent_feeds_in_red(agency: Agency, other_agency: Agency) -> None:
    feeds(agency, other_agency)
    client, _ = staff_client("ada", matrix.ADMINISTRATOR)
    page = client.get("/staff/feeds/").content.decode()
    assert "2 feeds silent" in page
    assert '<tr class="stale" data-facility="pine/annex">' in page
    assert '<tr class="stale" data-facility="state/north">' in page
    assert '<tr class="ok" data-facility="pine/main">' in page


def test_an_agency_operator_sees_only_their_agency(agency: Agency, other_agency: Agency) -> None:
    feeds(agency, other_agency)
    client, _ = staff_client("olu", matrix.AGENCY_OPERATOR, agency=agency)
    page = client.get("/staff/feeds/").content.decode()
    assert "1 feed silent" in page and "pine/annex" in page
    assert "state/north" not in page


def test_an_agency_operator_tied_to_no_agency_sees_no_feed(agency: Agency, other_agency: Agency) -> None:
    feeds(agency, other_agency)
    client, user = staff_client("ola", matrix.AGENCY_OPERATOR)
    AgencyMembership.objects.filter(user=user).delete()  # an administrator took the membership away
    response = client.get("/staff/feeds/")
    assert response.status_code == 403
    assert b"pine/annex" not in response.content and b"state/north" not in response.content


def test_the_status_page_is_for_staff_only(agency: Agency) -> None:
    response = Client().get("/staff/feeds/")
    assert response.status_code == 302
