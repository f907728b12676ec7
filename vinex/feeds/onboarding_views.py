"""``/staff/feeds/new``: choose a connector, test it (a dry run: nobody told), turn it on."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.admin.views.decorators import staff_member_required
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from vinex.accounts import matrix
from vinex.accounts.selectors import actor_ref, agency_for_user, user_roles
from vinex.audit.unit import Actor
from vinex.custody.models import Facility
from vinex.feeds.connectors import DryRun, connector_dry_run
from vinex.feeds.forms import PullSourceForm
from vinex.feeds.onboarding import SourceError, pull_source_add


def _facilities(request: HttpRequest) -> tuple[QuerySet[Facility], bool]:
    """The facilities this user may connect, and whether they are an administrator."""
    roles = user_roles(user=request.user)
    if matrix.ADMINISTRATOR in roles:
        return Facility.objects.all(), True
    agency = agency_for_user(user=request.user)
    if agency is None or matrix.AGENCY_OPERATOR not in roles:
        raise PermissionDenied("connecting a feed needs an agency operator of that agency, or an administrator")
    return Facility.objects.filter(agency=agency), False


@staff_member_required
@require_http_methods(["GET", "POST"])
def feed_new(request: HttpRequest) -> HttpResponse:
    facilities, is_admin = _facilities(request)
    form = PullSourceForm(request.POST or None, facilities=facilities, local_allowed=is_admin)
    result: DryRun | None = None
    if request.method == "POST" and form.is_valid():
        if "enable" in request.POST:
            data = form.cleaned_data
            actor = Actor.staff(actor_ref(user=request.user))
            try:
                source = pull_source_add(facility=data["facility"], kind=data["kind"], location=data["location"],
                                         interval_seconds=data["every_minutes"] * 60, settings=data["settings"],
                                         auth_header_name=data.get("auth_header_name") or "Authorization",
                                         auth_header_value=data.get("secret") or "", enabled=True, actor=actor)
            except SourceError as error:
                form.add_error(None, str(error))
            else:
                messages.success(request, f"Connector {source.pk} is on: it runs now, then every "
                                          f"{data['every_minutes']} minutes.")
                return redirect("feed-status")
        else:
            result = connector_dry_run(source=form.unsaved_source())
    return render(request, "feeds/new.html", {"form": form, "result": result})
