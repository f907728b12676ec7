"""Keep the count of rejected events that the data-quality section reports."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.dispatch import receiver

from vinex.custody.models import Agency
from vinex.pipeline.events import events_rejected
from vinex.reports.models import EventRejection


@receiver(events_rejected)
def event_rejections_record(sender: Any, *, agency: Agency, count: int, at: datetime, **kwargs: Any) -> None:
    if count:
        EventRejection.objects.create(agency=agency, at=at, count=count)
