"""A kept connection is asked whether it still works only when it may have gone stale."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from django.core.signals import request_finished, request_started
from django.db import close_old_connections, connection, connections

import vinex.core.connections as kept

pytestmark = pytest.mark.django_db(transaction=True)  # Django's own request-end check needs autocommit


@pytest.fixture(params=["django's check first", "django's check last"], autouse=True)
def receivers_order(request: pytest.FixtureRequest) -> Iterator[None]:
    """Either order of Django's request-start check and ours (Django's test client, for one, disconnects
    its check around each request and connects it again, after ours)."""
    if request.param == "django's check last":
        for signal in (request_started, request_finished):
            signal.disconnect(close_old_connections)
            signal.connect(close_old_connections)
    yield


@pytest.fixture
def checks(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[bool]]:
    """The answers of Django's health check (``is_usable``) during the test, which still runs as it would."""
    wrapper = connections["default"]
    answers: list[bool] = []
    usable = wrapper.is_usable

    def counted() -> bool:
        answers.append(usable())
        return answers[-1]

    monkeypatch.setattr(wrapper, "is_usable", counted)
    yield answers


def a_request() -> int:
    """One request as the server runs it: Django's start and end signals around a query."""
    request_started.send(sender=None)
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
        (one,) = cursor.fetchone()
    request_finished.send(sender=None)
    return int(one)


def later(monkeypatch: pytest.MonkeyPatch, seconds: float) -> None:
    now = kept.monotonic()
    monkeypatch.setattr(kept, "monotonic", lambda: now + seconds)


def test_a_connection_that_finished_a_request_a_moment_ago_is_not_asked_again(checks: list[bool]) -> None:
    a_request()  # opens the connection: nothing to check yet
    checks.clear()

    assert a_request() == 1
    assert a_request() == 1
    assert checks == []


def test_a_connection_idle_longer_is_asked_before_its_next_query(checks: list[bool],
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    a_request()
    checks.clear()
    later(monkeypatch, kept.FRESH_SECONDS + 1)

    assert a_request() == 1
    assert checks == [True]


def test_a_connection_the_server_dropped_while_idle_is_replaced_before_the_request_uses_it(
        checks: list[bool], monkeypatch: pytest.MonkeyPatch) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("an SQLite connection is a file: no server can drop it")
    a_request()
    backend = connection.connection.info.backend_pid
    other = connections.create_connection("default")
    try:
        with other.cursor() as cursor:  # the server ends the session
            cursor.execute("SELECT pg_terminate_backend(%s)", [backend])
    finally:
        other.close()
    later(monkeypatch, kept.FRESH_SECONDS + 1)

    assert a_request() == 1
    assert checks == [False]
    assert connection.connection.info.backend_pid != backend
