"""The call centre's view of a caller's own registrations: find them by phone number or email, see what
was sent and what became of it, resend the last message, change preferences or withdraw on her behalf.

Every read and every change is audited with the agent and the reason they gave; the reason given for the
look-up is kept in the session for the pages it leads to.
"""

from __future__ import annotations

from django.contrib.auth.models import User
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from vinex.audit.unit import Actor
from vinex.hotline import selectors
from vinex.hotline.caller_forms import CallerPreferencesForm, FindForm, ReasonForm
from vinex.hotline.services import hotline_actor
from vinex.notify.messages import status_label
from vinex.policy.contacts import InvalidContact
from vinex.registrations.history import message_channel_words, message_status_words, message_title
from vinex.registrations.models import Registration
from vinex.registrations.selectors import registration_get
from vinex.registrations.services import (
    RegistrationInvalid,
    registration_preferences_update,
    registration_resend_last,
    registration_withdraw,
)

REASONS = "hotline.lookup_reasons"  # registration id -> the reason given when the agent found it


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


@require_http_methods(["GET", "POST"])
def find(request: HttpRequest) -> HttpResponse:
    form = FindForm(request.POST or None)
    found: list[selectors.FoundRegistration] | None = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                found = selectors.registrations_find(value=form.cleaned_data["value"],
                                                     reason=form.cleaned_data["reason"], user=_user(request))
            except InvalidContact:
                form.add_error("value", _("Enter a phone number with its area code or an email address."))
        if found is None:
            status = 422
        else:
            reasons = request.session.get(REASONS, {})
            reasons.update({str(f.registration.public_id): form.cleaned_data["reason"] for f in found})
            request.session[REASONS] = reasons
    rows = [{"item": f, "status": status_label(f.person.status) if f.person else ""} for f in found or []]
    return render(request, "hotline/find.html", {"form": form, "rows": rows, "searched": found is not None},
                  status=status)


def _found(request: HttpRequest, registration_id: str) -> tuple[Registration, str]:
    """A registration this agent looked up (with a reason) in this session."""
    reason = request.session.get(REASONS, {}).get(registration_id)
    registration = registration_get(public_id=registration_id) if reason else None
    if registration is None or reason is None:
        raise Http404
    return registration, reason


@require_GET
def registration_page(request: HttpRequest, registration_id: str) -> HttpResponse:
    return registration(request, str(registration_id), notice=request.session.pop("hotline.notice", ""))


def registration(request: HttpRequest, registration_id: str, *, status: int = 200, notice: str = "",
                 preferences: CallerPreferencesForm | None = None, reason_form: ReasonForm | None = None
                 ) -> HttpResponse:
    item, reason = _found(request, registration_id)
    seen = selectors.caller_registration(registration=item, reason=reason, user=_user(request))
    messages = [{"id": m.id, "outcome": m.outcome, "reached": m.reached, "title": message_title(m),
                 "queued": m.queued_at, "handed_over": m.handed_over_at, "delivered": m.delivered_at,
                 "channel": message_channel_words(m.channel), "contact": m.contact, "status": message_status_words(m),
                 "attempts": len(m.attempts), "calls": len(m.calls), "error": m.last_error if m.failed else ""}
                for m in seen.messages]
    return render(request, "hotline/registration.html", {
        "registration": item, "seen": seen, "messages": messages, "notice": notice,
        "person_status": status_label(seen.person.status) if seen.person else "",
        "preferences": preferences or CallerPreferencesForm(initial={
            "language": seen.view.language, "call_preference": seen.view.call_preference}),
        "reason_form": reason_form or ReasonForm(),
    }, status=status)


@require_POST
def act(request: HttpRequest, registration_id: str) -> HttpResponse:
    """Resend the last message, change preferences or withdraw, for the caller and with a reason."""
    item, _reason = _found(request, str(registration_id))
    action = request.POST.get("action", "")
    actor = hotline_actor(_user(request))
    form: CallerPreferencesForm | ReasonForm = (CallerPreferencesForm(request.POST) if action == "preferences"
                                                 else ReasonForm(request.POST))
    if action not in ("preferences", "resend", "withdraw"):
        raise Http404
    if not form.is_valid():
        if isinstance(form, CallerPreferencesForm):
            return registration(request, str(registration_id), status=422, preferences=form)
        return registration(request, str(registration_id), status=422, reason_form=form)
    reason = form.cleaned_data["reason"]
    try:
        notice = _carry_out(action, item, form, actor, reason)
    except RegistrationInvalid as invalid:
        return registration(request, str(registration_id), status=409, notice=str(invalid.errors[0].msg))
    url = reverse("hotline:caller_registration", args=[item.public_id])
    request.session["hotline.notice"] = notice
    return HttpResponseRedirect(url)


def _carry_out(action: str, item: Registration, form: CallerPreferencesForm | ReasonForm, actor: Actor,
               reason: str) -> str:
    if action == "resend":
        again = registration_resend_last(registration=item, actor=actor, reason=reason)
        return _("The last message is on its way again.") if again else _("There is no message to resend yet.")
    if action == "withdraw":
        registration_withdraw(registration=item, actor=actor, reason=reason)
        return _("The registration is withdrawn: no more messages will be sent.")
    registration_preferences_update(registration=item, actor=actor, reason=reason,
                                    language=form.cleaned_data["language"],
                                    call_preference=form.cleaned_data["call_preference"])
    return _("The caller's choices are saved.")
