"""The staff feed status page: which facilities are silent, held snapshots, pull connectors."""

from __future__ import annotations

from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from vinex.accounts import matrix
from vinex.accounts.selectors import agency_for_user, user_roles
from vinex.custody.models import Agency
from vinex.feeds import selectors
from vinex.feeds.release_guard import (
    ReleaseHoldDecisionError,
    release_holds_approve,
    release_holds_pending,
    release_holds_reject,
)


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


# --- Release notifications held by the false-release guard -------------------------------------------


def _review_scope(request: HttpRequest) -> Agency | None:
    """The agency an operator reviews (administrators: every agency, None)."""
    agency = agency_for_user(user=request.user)
    if agency is None and matrix.ADMINISTRATOR not in user_roles(user=request.user):
        raise PermissionDenied("an agency operator needs an agency")
    return agency


@staff_member_required
@require_GET
def release_holds(request: HttpRequest) -> HttpResponse:
    """Agencies whose pushed releases are held for review, with approve and reject buttons."""
    agency = _review_scope(request)
    return render(request, "feeds/release_holds.html", {"held": release_holds_pending(agency=agency),
                                                        "decided": request.GET.get("decided", "")})


@staff_member_required
@require_POST
def release_holds_decide(request: HttpRequest, agency_code: str) -> HttpResponse:
    """Approve (send once) or reject (never send) an agency's held release notifications."""
    scope = _review_scope(request)
    agency = get_object_or_404(Agency, code=agency_code)
    if scope is not None and scope.pk != agency.pk:
        raise PermissionDenied("operators review their own agency's releases only")
    decide = {"approve": release_holds_approve, "reject": release_holds_reject}.get(request.POST.get("decision", ""))
    if decide is None:
        return HttpResponseBadRequest("decision must be approve or reject")
    try:
        decide(agency=agency, user=request.user, note=request.POST.get("note", ""))
    except ReleaseHoldDecisionError as error:
        return HttpResponseBadRequest(str(error))
    return redirect(f"{reverse('feed-release-holds')}?decided={agency.code}")
