"""The idle timeout: 30 minutes without a request ends a staff session; activity keeps it alive."""

from __future__ import annotations

import time

import pytest
from django.conf import settings
from django.test import Client

from tests.accounts.helpers import make_staff, signed_in
from vinex.accounts import matrix
from vinex.accounts.middleware import LAST_SEEN_SESSION_KEY


@pytest.fixture
def client(db: None) -> Client:
    client = signed_in(make_staff("ada", matrix.ADMINISTRATOR), verified=True)
    assert client.get("/staff/").status_code == 200
    return client


def _idle_for(client: Client, seconds: int) -> None:
    session = client.session
    session[LAST_SEEN_SESSION_KEY] = int(time.time()) - seconds
    session.save()


def test_the_idle_limit_is_thirty_minutes() -> None:
    assert settings.VINEX_STAFF_IDLE_SECONDS == 30 * 60
    assert settings.SESSION_COOKIE_AGE == 30 * 60


def test_after_thirty_idle_minutes_the_next_request_goes_to_sign_in(client: Client) -> None:
    _idle_for(client, 30 * 60 + 5)
    response = client.get("/staff/outbox/")
    assert response.status_code == 302
    assert response["Location"].startswith("/staff/login/")
    assert "idle=1" in response["Location"]
    # Signed out for good, not only turned away once.
    assert client.get("/staff/")["Location"].startswith("/staff/login/")
    assert "_auth_user_id" not in client.session


def test_the_sign_in_page_says_why(client: Client) -> None:
    _idle_for(client, 31 * 60)
    location = client.get("/staff/")["Location"]
    assert "signed out after a period without activity" in client.get(location).content.decode()


def test_idle_time_counts_not_time_since_sign_in(client: Client) -> None:
    # Three requests 25 minutes apart: 75 minutes signed in, never 30 idle.
    for _ in range(3):
        _idle_for(client, 25 * 60)
        assert client.get("/staff/").status_code == 200


def test_an_idle_session_also_ends_on_a_public_page(client: Client) -> None:
    _idle_for(client, 31 * 60)
    client.get("/healthz")
    assert "_auth_user_id" not in client.session


def test_staff_pages_are_never_cached(client: Client) -> None:
    assert "no-store" in client.get("/staff/")["Cache-Control"]


def test_a_verified_user_without_a_role_is_told_to_ask_for_one(db: None) -> None:
    response = signed_in(make_staff("nobody"), verified=True).get("/staff/")
    assert response.status_code == 403
    assert "no staff role yet" in response.content.decode()
