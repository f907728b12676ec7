"""Adding and turning on pull sources: one place for the staff page and the command line.

A source is added with its settings checked (``PullSource.save`` refuses settings that do not fit
its kind), tested with a dry run (``connectors.connector_dry_run``: nothing stored, nobody told), then
enabled. Its facility's feed takes the source's cadence when it has none of its own, so a source
that stops delivering is reported silent after twice its interval, like any feed.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from vinex.audit.unit import Actor, audit_unit
from vinex.custody.models import Facility
from vinex.feeds.models import FacilityFeed, PullSource


class SourceError(ValueError):
    """A pull source cannot be added or changed as asked."""


def _message(error: ValidationError) -> str:
    return "; ".join(m for messages in error.message_dict.values() for m in messages)


def pull_source_add(*, facility: Facility, kind: str, location: str, actor: Actor, interval_seconds: int = 3600,
                    settings: dict[str, Any] | None = None, auth_header_name: str = "Authorization",
                    auth_header_value: str = "", enabled: bool = False) -> PullSource:
    """A new pull source for ``facility``; raises SourceError when its location or settings do not fit its kind."""
    source = PullSource(facility=facility, kind=kind, location=location.strip(), interval_seconds=interval_seconds,
                        settings=settings or {}, auth_header_name=auth_header_name or "Authorization",
                        auth_header_value=auth_header_value, enabled=enabled)
    try:
        with transaction.atomic(), audit_unit(actor=actor) as unit:
            source.save()
            feed, _ = FacilityFeed.objects.get_or_create(facility=facility)
            if feed.cadence_seconds is None:
                FacilityFeed.objects.filter(pk=feed.pk).update(cadence_seconds=interval_seconds)
            unit.add("create", "pull_source", source.pk, purpose=f"{kind} connector for {_label(facility)}")
    except ValidationError as error:
        raise SourceError(_message(error)) from None
    return source


def pull_source_enable(*, source: PullSource, actor: Actor, enabled: bool = True) -> PullSource:
    """Turn a source on (it runs at once, then on its cadence) or off."""
    with transaction.atomic(), audit_unit(actor=actor) as unit:
        source.enabled, source.next_run_at = enabled, None
        source.save(update_fields=["enabled", "next_run_at"])
        unit.add("update", "pull_source", source.pk, purpose="enabled" if enabled else "disabled")
    return source


def _label(facility: Facility) -> str:
    return f"{facility.agency.code}/{facility.code}"
