"""Database connections: kept ones are checked when they may have gone stale, not before every request, and
PostgreSQL's times are read by the driver's compiled loader.

With ``CONN_HEALTH_CHECKS`` Django asks each kept connection whether it still works (on PostgreSQL a
``SELECT 1``, a round trip to the server) before the first query of every request: at 200 single events a
second that is one statement in every thirteen. A connection that finished a request without an error less
than ``FRESH_SECONDS`` ago is taken as working. Should the database have gone away in that second, the
request's first query fails and Django closes the connection when the request ends, as it does for any
failed connection; the check still runs for every connection that was idle longer.

Django reads every ``timestamptz`` value through a Python subclass of psycopg's loader, which parses the text
in Python; psycopg's own loader, compiled, gives the same value when the session's time zone is the one
Django wants (it sets UTC on every new connection). A single event reads a dozen such values.
"""

from __future__ import annotations

import datetime
from functools import cache
from time import monotonic
from typing import Any

from django.core.signals import request_finished, request_started
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.backends.signals import connection_created

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


def _compiled_time_loader(connection: BaseDatabaseWrapper, **kwargs: Any) -> None:
    raw = connection.connection
    if connection.vendor != "postgresql" or connection.timezone is not datetime.UTC or raw is None:
        return
    if raw.info.parameter_status("TimeZone") != "UTC":
        return
    raw.adapters.register_loader("timestamptz", utc_time_loader())


@cache
def utc_time_loader() -> type:
    from psycopg import abc, adapters
    from psycopg.adapt import Loader
    from psycopg.pq import Format

    found = adapters.get_loader(adapters.types["timestamptz"].oid, Format.TEXT)
    if found is None:
        raise LookupError("psycopg has no timestamptz loader")
    compiled: type[abc.Loader] = found

    class UtcTimeLoader(Loader):
        """psycopg's compiled loader (which cannot be subclassed), with the ``timezone`` Django looks for."""

        timezone = datetime.UTC

        def __init__(self, oid: int, context: Any = None) -> None:
            super().__init__(oid, context)
            # The compiled method itself, called without a Python frame of ours in between.
            self.load = compiled(oid, context).load  # type: ignore[method-assign]

        def load(self, data: Any) -> Any:  # what the line above replaces; declared for psycopg's abstract base
            raise NotImplementedError

    return UtcTimeLoader


def read_times_compiled() -> None:
    """Connect the receiver that gives each new PostgreSQL connection psycopg's compiled time loader."""
    connection_created.connect(_compiled_time_loader, dispatch_uid="vinex.core.connections.times")
