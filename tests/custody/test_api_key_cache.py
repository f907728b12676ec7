"""A key that authenticated is remembered briefly, so an agency pushing single events is not looked up
on every request; failures are never remembered, and a revocation takes effect once the memory expires."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.actors import ACTOR
from vinex.core import memory
from vinex.custody import api as custody_api
from vinex.custody.models import Agency, ApiKey
from vinex.custody.services import apikey_create

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _forget_keys() -> None:
    custody_api._RECENT_KEYS.forget()


def test_a_key_is_looked_up_once_while_remembered(agency: Agency, settings: Any) -> None:
    settings.VINEX_APIKEY_CACHE_SECONDS = 60
    _, token = apikey_create(actor=ACTOR, agency=agency)
    first = custody_api.apikey_recently_authenticated(token)
    with CaptureQueriesContext(connection) as queries:
        again = custody_api.apikey_recently_authenticated(token)
    assert first is not None and again is not None and again.pk == first.pk
    assert len(queries) == 0


def test_a_revoked_key_is_refused_once_the_memory_expires(agency: Agency, settings: Any,
                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    settings.VINEX_APIKEY_CACHE_SECONDS = 5
    key, token = apikey_create(actor=ACTOR, agency=agency)
    assert custody_api.apikey_recently_authenticated(token) is not None
    ApiKey.objects.filter(pk=key.pk).update(revoked_at="2026-01-01T00:00:00Z")
    later = time.monotonic() + 6
    monkeypatch.setattr(memory.time, "monotonic", lambda: later)
    assert custody_api.apikey_recently_authenticated(token) is None


def test_with_no_memory_a_revocation_shows_at_once(agency: Agency, settings: Any) -> None:
    settings.VINEX_APIKEY_CACHE_SECONDS = 0
    key, token = apikey_create(actor=ACTOR, agency=agency)
    assert custody_api.apikey_recently_authenticated(token) is not None
    ApiKey.objects.filter(pk=key.pk).update(revoked_at="2026-01-01T00:00:00Z")
    assert custody_api.apikey_recently_authenticated(token) is None


def test_a_wrong_token_is_never_remembered(agency: Agency, settings: Any) -> None:
    settings.VINEX_APIKEY_CACHE_SECONDS = 60
    _, token = apikey_create(actor=ACTOR, agency=agency)
    wrong = token[:-4] + ("aaaa" if not token.endswith("aaaa") else "bbbb")
    assert custody_api.apikey_recently_authenticated(wrong) is None
    assert custody_api.apikey_recently_authenticated(wrong) is None
    assert len(custody_api._RECENT_KEYS) == 0
