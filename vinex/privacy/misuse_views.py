"""The privacy officer's misuse alerts (``/staff/privacy/alerts/``): cases opened by ``vinex.privacy.misuse``."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from vinex.accounts.selectors import actor_ref
from vinex.audit.unit import Actor
from vinex.privacy.misuse import CaseClosed, misuse_case_close, misuse_case_view, misuse_cases
from vinex.privacy.models import MisuseFinding

ROLE = "privacy_officer"  # the staff gate lets only this role in (vinex.accounts.matrix)


def _officer(request: HttpRequest) -> Actor:
    return Actor.staff(actor_ref(user=request.user), ROLE)


@require_http_methods(["GET"])
def alerts(request: HttpRequest) -> HttpResponse:
    show_all = request.GET.get("all") == "1"
    return render(request, "privacy/alerts.html", {"cases": misuse_cases(open_only=not show_all),
                                                   "show_all": show_all})


@require_http_methods(["GET", "POST"])
def alert_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    case = misuse_case_view(public_id=public_id, actor=_officer(request))
    if case is None:
        raise Http404
    if request.method == "POST":
        try:
            misuse_case_close(case=case, finding=request.POST.get("finding", ""), note=request.POST.get("note", ""),
                              actor=_officer(request))
        except CaseClosed as error:
            messages.error(request, str(error))
            return redirect("privacy-alert", public_id=public_id)
        messages.success(request, "The case is closed with your finding.")
        return redirect("privacy-alerts")
    return render(request, "privacy/alert_detail.html", {"case": case, "findings": MisuseFinding.choices})
