"""The public status page: which facilities' notifications may be delayed, and since when."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from vinex.feeds.selectors import delay_notices


@require_GET
def public_status(request: HttpRequest) -> HttpResponse:
    return render(request, "feeds/public_status.html", {"notices": delay_notices(now=timezone.now())})
