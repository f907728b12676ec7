"""The feeds app's periodic jobs (run by ``vinex scheduler``)."""

from __future__ import annotations

from datetime import datetime, timedelta

from vinex.audit.unit import Actor
from vinex.core.jobs import Job
from vinex.feeds.connectors import pull_sources_run_due
from vinex.feeds.services import feed_events_catch_up, feed_health_check, pending_departures_release_due


def events_catch_up(*, now: datetime) -> None:
    """Count pushed events towards their facility's feed health (the cursor, not ``now``, says what is new)."""
    feed_events_catch_up()


def health_check(*, now: datetime) -> None:
    feed_health_check(now=now, actor=Actor.system("scheduler:feeds.health_check"))


def pending_departures(*, now: datetime) -> None:
    pending_departures_release_due(now=now, actor=Actor.system("scheduler:feeds.pending_departures"))


def pull_connectors(*, now: datetime) -> None:
    pull_sources_run_due(now=now, actor=Actor.system("scheduler:feeds.pull_connectors"))


JOBS = [
    # Listed before the health check so that, in one pass, pushed events count before silence is judged.
    Job(name="feeds.events_catch_up", run=events_catch_up, every=timedelta(seconds=30)),
    Job(name="feeds.health_check", run=health_check, every=timedelta(seconds=60)),
    # Feed cadences are hours long; a minute's delay in releasing someone missing from rosters is noise.
    Job(name="feeds.pending_departures", run=pending_departures, every=timedelta(seconds=60)),
    # Each source keeps its own timetable and claim; this only looks for the ones that are due.
    Job(name="feeds.pull_connectors", run=pull_connectors, every=timedelta(seconds=30)),
]
