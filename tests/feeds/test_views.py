from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.test import Client
from django.utils import timezone

from vinex.custody.models import Agency, Facility
from vinex.feeds.models import FacilityFeed

pytestmark = pytest.mark.django_db


def test_staff_see_silent_feeds_in_red(agency: Agency) -> None:
    now = timezone.now()
    FacilityFeed.objects.create(facility=Facility.objects.get(code="main"), last_snapshot_at=now)
    FacilityFeed.objects.create(facility=Facility.objects.get(code="annex"), last_event_at=now - timedelta(days=5))
    staff = User.objects.create_user("staff", password="a long enough password", is_staff=True)
    client = Client()
    client.force_login(staff)
    page = client.get("/staff/feeds/").content.decode()
    assert "1 feed silent" in page
    assert '<tr class="stale" data-facility="pine/annex">' in page
    assert '<tr class="ok" data-facility="pine/main">' in page


def test_the_status_page_is_for_staff_only(agency: Agency) -> None:
    response = Client().get("/staff/feeds/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
