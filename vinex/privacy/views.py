"""The privacy officer's review queue: registrations the privacy check held back."""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_POST

from vinex.accounts.selectors import actor_ref
from vinex.portal.selectors import registration_get, registrations_held
from vinex.portal.services import registration_review

ROLE = "privacy_officer"  # the staff gate lets only this role in (vinex.accounts.matrix)


@require_http_methods(["GET"])
def review_queue(request: HttpRequest) -> HttpResponse:
    held = registrations_held(reviewer=actor_ref(user=request.user), reviewer_role=ROLE)
    return render(request, "privacy/review_queue.html", {"held": held})


@require_POST
def review_decide(request: HttpRequest, public_id: str) -> HttpResponse:
    registration = registration_get(public_id=public_id)
    decision = request.POST.get("decision")
    if registration is None or decision not in {"approve", "refuse"}:
        raise Http404
    try:
        registration_review(registration=registration, approve=decision == "approve",
                            reviewer=actor_ref(user=request.user), reviewer_role=ROLE)
    except ValueError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"Registration {public_id} {'activated' if decision == 'approve' else 'refused'}.")
    return redirect("privacy-review")
