"""The staff feed status page: which facilities are silent, held snapshots, pull connectors."""

from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.http import require_GET

from vinex.accounts import matrix
from vinex.accounts.selectors import agency_for_user, user_roles
from vinex.feeds import selectors


@staff_member_required
@require_GET
def feed_status(request: HttpRequest) -> HttpResponse:
    now = timezone.now()
    # An agency operator sees their own agency's feeds only; administrators see every feed. An operator
    # tied to no agency sees nothing, rather than everyone's.
    agency = agency_for_user(user=request.user)
    if agency is None and matrix.ADMINISTRATOR not in user_roles(user=request.user):
        raise PermissionDenied("an agency operator needs an agency")
    statuses = selectors.feed_statuses(now=now, agency=agency)
    context = {
        "now": now,
        "feeds": [{"status": s, "hours_silent": s.seconds_silent(now) / 3600,
                   "cadence_hours": s.cadence.total_seconds() / 3600} for s in statuses],
        "stale_count": sum(s.stale for s in statuses),
        "held": selectors.snapshots_held(agency=agency),
        "sources": selectors.pull_sources_all(agency=agency),
    }
    return render(request, "feeds/status.html", context)
