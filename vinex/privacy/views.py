"""The privacy officer's pages: held registrations, reports of wrong data, refused disclosures."""

from __future__ import annotations

from datetime import timedelta

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from vinex.accounts.selectors import actor_ref, user_roles
from vinex.audit.unit import Actor
from vinex.notify.models import Subscription
from vinex.privacy.cases import CaseStep, case_confirm, case_first_confirmations
from vinex.privacy.denials import disclosure_denials_count
from vinex.privacy.redress import (
    ReportView,
    data_report_correct,
    data_report_correct_field,
    data_report_reject,
    data_report_view,
    data_reports_open,
)
from vinex.privacy.suspension import subscription_lift_by_officer, subscription_suspend_by_officer
from vinex.registrations.selectors import registration_get, registrations_held, registrations_with_case_to_check
from vinex.registrations.services import registration_case_decide, registration_review

ROLE = "privacy_officer"  # the staff gate lets only this role in (vinex.accounts.matrix), except on cases/
CALL_CENTRE_ROLE = "call_centre"


@require_http_methods(["GET"])
def review_queue(request: HttpRequest) -> HttpResponse:
    held = registrations_held(actor=_officer(request))
    return render(request, "privacy/review_queue.html", {"held": held})


@require_POST
def review_decide(request: HttpRequest, public_id: str) -> HttpResponse:
    registration = registration_get(public_id=public_id)
    decision = request.POST.get("decision")
    if registration is None or decision not in {"approve", "refuse"}:
        raise Http404
    try:
        registration_review(registration=registration, approve=decision == "approve", actor=_officer(request))
    except ValueError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"Registration {public_id} {'activated' if decision == 'approve' else 'refused'}.")
    return redirect("privacy-review")


@require_http_methods(["GET"])
def reports_open(request: HttpRequest) -> HttpResponse:
    reports = data_reports_open(actor=_officer(request))
    return render(request, "privacy/reports.html", {"reports": reports})


@require_http_methods(["GET", "POST"])
def report_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    view = data_report_view(public_id=public_id, actor=_officer(request))
    if view is None:
        raise Http404
    if request.method == "POST":
        return _report_decide(request, view)
    return render(request, "privacy/report_detail.html", {"view": view})


def _report_decide(request: HttpRequest, view: ReportView) -> HttpResponse:
    officer, note = _officer(request), request.POST.get("note", "")
    try:
        if request.POST.get("decision") == "correct":
            event = next((e for e in view.events if str(e.pk) == request.POST.get("event")), None)
            if event is None:
                raise ValueError("choose the event that is wrong")
            data_report_correct(report=view.report, event=event, actor=officer, note=note)
            messages.success(request, "Corrected: a CORRECTION event retracts it and those told are notified.")
        elif request.POST.get("decision") == "correct_field":
            subject = next((s for s in view.subjects if str(s.pk) == request.POST.get("subject")), None)
            if subject is None:
                raise ValueError("choose the record to correct")
            data_report_correct_field(report=view.report, subject=subject, field=request.POST.get("field", ""),
                                      value=request.POST.get("value", ""), actor=officer, note=note)
            messages.success(request, "Corrected: the original stays in the history; those told the wrong detail "
                                      "and the agency's feed contacts are being told.")
        elif request.POST.get("decision") == "reject":
            data_report_reject(report=view.report, actor=officer, note=note)
            messages.success(request, "Report closed; the record stays as it is.")
        else:
            raise ValueError("choose to correct or to reject")
    except ValueError as error:
        messages.error(request, str(error))
        return render(request, "privacy/report_detail.html", {"view": view}, status=422)
    return redirect("privacy-reports")


@require_http_methods(["GET"])
def denials(request: HttpRequest) -> HttpResponse:
    days = 90
    until = timezone.now()
    counts = disclosure_denials_count(since=until - timedelta(days=days), until=until)
    return render(request, "privacy/denials.html", {"counts": counts, "days": days})


@require_http_methods(["GET"])
def cases_to_check(request: HttpRequest) -> HttpResponse:
    waiting = registrations_with_case_to_check(actor=Actor.staff(actor_ref(user=request.user), _role(request)))
    firsts = case_first_confirmations(registrations=[item.registration for item in waiting])
    rows = [(item, firsts.get(item.registration.pk, "")) for item in waiting]
    return render(request, "privacy/cases.html", {"waiting": rows})


@require_POST
def case_decide(request: HttpRequest, public_id: str) -> HttpResponse:
    registration = registration_get(public_id=public_id)
    decision = request.POST.get("decision")
    if registration is None or decision not in {"confirmed", "not_confirmed"}:
        raise Http404
    actor = Actor.staff(actor_ref(user=request.user), _role(request))
    try:
        if decision == "confirmed":
            step = case_confirm(registration=registration, actor=actor)
        else:
            registration_case_decide(registration=registration, confirmed=False, actor=actor)
    except ValueError as error:
        messages.error(request, str(error))
    else:
        if decision == "not_confirmed":
            messages.success(request, "Recorded.")
        elif step is CaseStep.VERIFIED:
            messages.success(request, "Confirmed: this registrant is now a verified victim.")
        else:
            messages.success(request, "Your confirmation is recorded; a second person must confirm too.")
    return redirect("privacy-cases")


@require_POST
def subscription_suspension(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Suspend (``suspend``, with a ``reason``) or lift (``lift``) a subscription's suspension."""
    subscription = Subscription.objects.filter(pk=pk).select_related("registrant").first()
    if subscription is None or action not in {"suspend", "lift"}:
        raise Http404
    try:
        if action == "suspend":
            done = subscription_suspend_by_officer(subscription=subscription, reason=request.POST.get("reason", ""),
                                                   actor=_officer(request))
        else:
            done = subscription_lift_by_officer(subscription=subscription, actor=_officer(request))
    except ValueError as error:
        messages.error(request, str(error))
    else:
        if done:
            messages.success(request, f"Subscription {pk} {'suspended' if action == 'suspend' else 'active again'}; "
                                      "the registrant has been told.")
        else:
            messages.error(request, f"Subscription {pk} is {subscription.status}: nothing changed.")
    return redirect("privacy-review")


def _officer(request: HttpRequest) -> Actor:
    return Actor.staff(actor_ref(user=request.user), ROLE)


def _role(request: HttpRequest) -> str:
    # The page is open to privacy officers and call-centre agents (vinex.accounts.matrix); the log names which
    # of the two decided.
    return ROLE if ROLE in user_roles(user=request.user) else CALL_CENTRE_ROLE
