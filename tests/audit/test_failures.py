"""Wrong API keys are limited per client and logged in aggregate, not one hash-chained entry each."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from vinex.audit.failures import failures_summarise
from vinex.audit.models import AuditEntry, FailureTally
from vinex.custody.models import Agency

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def small_limit(settings: Any) -> None:
    settings.VINEX_AUTH_FAILURE_LIMIT = 5
    settings.VINEX_AUTH_FAILURE_WINDOW_SECONDS = 900


def push(token: str, address: str = "203.0.113.7") -> int:
    client = Client(REMOTE_ADDR=address, headers={"Authorization": f"Bearer {token}"})
    return client.post("/api/v1/custody-events", {"events": []}, content_type="application/json").status_code


def test_a_guessing_client_is_refused_past_the_limit_and_logged_twice_not_per_attempt(
        agency: Agency, api_token: str) -> None:
    statuses = [push(f"vx_guess{i}_wrongsecret") for i in range(12)]

    assert statuses == [401] * 5 + [429] * 7
    failures = AuditEntry.objects.filter(action="login_failed", object_type="apikey")
    assert list(failures.values_list("outcome", flat=True).order_by("seq")) == ["denied", "rate_limited"]
    assert all(actor.startswith("client:") and "203.0.113" not in actor
               for actor in failures.values_list("actor", flat=True))
    assert push(api_token) == 429  # even a right key waits out the window from that client
    assert push("vx_guess_wrong", address="198.51.100.9") == 401  # other clients are not affected
    assert push(api_token, address="198.51.100.9") != 401


def test_a_finished_window_is_summed_up_in_one_entry(agency: Agency) -> None:
    for i in range(8):
        push(f"vx_guess{i}_wrongsecret")
    push("not-even-a-key")

    assert failures_summarise(now=timezone.now()) == 0  # the window is still open
    written = failures_summarise(now=timezone.now() + timedelta(seconds=900))

    assert written == 1
    summary = AuditEntry.objects.get(action="login_failed", outcome="summary")
    assert summary.purpose.startswith("9 failed attempts from ") and summary.purpose.endswith(" UTC")
    assert not FailureTally.objects.exists()
    assert AuditEntry.objects.filter(action="login_failed").count() == 3
