"""Database connections kept across requests are checked when they may have gone stale, not before every
request.

With ``CONN_HEALTH_CHECKS`` Django asks each kept connection whether it still works (on PostgreSQL a
``SELECT 1``, a round trip to the server) before the first query of every request: at 200 single events a
second that is one statement in every thirteen. A connection that finished a request without an error less
than ``FRESH_SECONDS`` ago is taken as working. Should the database have gone away in that second, the
request's first query fails and Django closes the connection when the request ends, as it does for any
failed connection; the check still runs for every connection that was idle longer.
"""

from __future__ import annotations

from time import monotonic
from typing import Any

from django.core.signals import request_finished, request_started
from django.db import connections

FRESH_SECONDS = 1.0
_FINISHED_AT = "_vinex_finished_at"  # set on Django's connection wrapper, per thread like the wrapper itself


def _request_finished(**kwargs: Any) -> None:
    now = monotonic()
    for wrapper in connections.all(initialized_only=True):
        # A connection that failed, or that Django's own request-end check closed, is not marked.
        if wrapper.connection is not None and not wrapper.errors_occurred:
            setattr(wrapper, _FINISHED_AT, now)


def _request_started(**kwargs: Any) -> None:
    # Django's check runs only while ``health_check_enabled``, which nothing but its connect() sets; its
    # request-start receiver resets ``health_check_done`` instead, so the order of the two does not matter.
    now = monotonic()
    for wrapper in connections.all(initialized_only=True):
        if wrapper.connection is None or not wrapper.settings_dict.get("CONN_HEALTH_CHECKS"):
            continue
        fresh = not wrapper.errors_occurred and now - getattr(wrapper, _FINISHED_AT, -FRESH_SECONDS) < FRESH_SECONDS
        wrapper.health_check_enabled = not fresh  # type: ignore[attr-defined]  # not in django-stubs


def skip_fresh_health_checks() -> None:
    """Connect the receivers, in whatever order beside Django's ``close_old_connections``."""
    request_finished.connect(_request_finished, dispatch_uid="vinex.core.connections.finished")
    request_started.connect(_request_started, dispatch_uid="vinex.core.connections.started")
