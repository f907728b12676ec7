"""Staff pages of linkage: the review queue, a pair to decide, a link to undo (``/staff/linkage/``).

The staff gate lets privacy officers and agency operators in (``vinex.accounts.matrix``); the selectors
narrow an operator to pairs involving their own agency, and only a privacy officer may undo a link.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods

from vinex.accounts.matrix import PRIVACY_OFFICER
from vinex.accounts.selectors import actor_ref, agency_for_user, user_roles
from vinex.audit.unit import Actor
from vinex.custody.models import Agency
from vinex.linkage import selectors, services


def _scope(request: HttpRequest) -> tuple[Agency | None, str]:
    """The agency an operator is confined to (None for a privacy officer) and the role acting."""
    if PRIVACY_OFFICER in user_roles(user=request.user):
        return None, PRIVACY_OFFICER
    agency = agency_for_user(user=request.user)
    if agency is None:  # an operator tied to no agency sees nothing
        raise Http404
    return agency, "agency_operator"


def _reader(request: HttpRequest) -> tuple[Agency | None, str, Actor]:
    """``_scope`` and the signed-in member of staff as the audit log names them."""
    agency, role = _scope(request)
    return agency, role, Actor.staff(actor_ref(user=request.user), role)


@require_http_methods(["GET"])
def queue(request: HttpRequest) -> HttpResponse:
    agency, role = _scope(request)
    return render(request, "linkage/queue.html", {
        "items": selectors.review_items_open(agency=agency), "links": selectors.links_recent(agency=agency),
        "can_unlink": role == PRIVACY_OFFICER})


@require_http_methods(["GET", "POST"])
def pair(request: HttpRequest, item_id: int) -> HttpResponse:
    agency, _role, actor = _reader(request)
    item = selectors.review_item_get(item_id=item_id, agency=agency)
    if item is None:
        raise Http404
    if request.method == "POST" and item.resolved_at is None:
        decision = request.POST.get("decision")
        if decision not in {"link", "keep_apart"}:
            raise Http404
        try:
            services.review_decide(item=item, link=decision == "link", actor=actor,
                                   reason=request.POST.get("reason", ""))
        except ValueError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, "Linked." if decision == "link" else "Kept apart.")
            return redirect("linkage-queue")
    view = selectors.pair_view(left_id=item.left_id, right_id=item.right_id, probability=item.probability,
                               evidence=list(item.evidence), agency=agency, actor=actor)
    return render(request, "linkage/pair.html", {"item": item, "view": view})


@require_http_methods(["GET", "POST"])
def link(request: HttpRequest, decision_id: int) -> HttpResponse:
    agency, role, actor = _reader(request)
    decision = selectors.link_get(decision_id=decision_id, agency=agency)
    if decision is None:
        raise Http404
    if request.method == "POST":
        if role != PRIVACY_OFFICER:
            return HttpResponse("Only a privacy officer may undo a link.", status=403)
        try:
            undone = services.link_undo(decision=decision, actor=actor, reason=request.POST.get("reason", ""))
        except ValueError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, f"Unlinked; {len(undone.corrections)} correction notice(s) queued.")
        return redirect("linkage-link", decision_id=decision.pk)
    view = selectors.pair_view(left_id=decision.left_id, right_id=decision.right_id, probability=decision.probability,
                               evidence=list(decision.evidence), agency=agency, actor=actor)
    sent = selectors.link_messages(decision=decision, actor=actor)
    return render(request, "linkage/link.html", {"decision": decision, "view": view, "sent": sent,
                                                 "can_unlink": role == PRIVACY_OFFICER})
