"""The call-centre console: thin views over the hotline selectors and services.

Pages are server-rendered and work without JavaScript. Every page that shows a record reads it
through a selector that audits the read.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_GET, require_POST

from vinex.hotline import selectors, services
from vinex.hotline.forms import (
    CallbackDoneForm,
    CallbackForm,
    CodeForm,
    EndCallForm,
    HotlineRegistrationForm,
    IntakeForm,
)
from vinex.hotline.models import Callback, CallStatus, HotlineCall
from vinex.locator.forms import SEARCH_FORMS, search_forms
from vinex.locator.ratelimit import RetryAfter
from vinex.notify.messages import status_label
from vinex.policy.contacts import InvalidContact
from vinex.registrations.outcomes import CHECK_MESSAGES, RESEND_MESSAGES
from vinex.registrations.services import Check, ContactIn, RegistrationInvalid, verification_check, verification_resend


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _call_or_404(pk: int) -> HotlineCall:
    call = selectors.call_get(call_id=pk)
    if call is None:
        raise Http404
    return call


def _to_call(call: HotlineCall, anchor: str = "") -> HttpResponseRedirect:
    return HttpResponseRedirect(reverse("hotline:call", args=[call.pk]) + (f"#{anchor}" if anchor else ""))


@require_GET
def queue(request: HttpRequest) -> HttpResponse:
    return render(request, "hotline/queue.html", {"queue": selectors.hotline_queue(user=_user(request))})


@require_POST
def call_new(request: HttpRequest) -> HttpResponse:
    return _to_call(services.call_start(user=_user(request)))


@require_POST
def call_take(request: HttpRequest, pk: int) -> HttpResponse:
    call = _call_or_404(pk)
    try:
        call = services.call_take(call=call, user=_user(request))
    except services.HotlineError:
        return render(request, "hotline/taken.html", status=409)
    return _to_call(call)


def _call_page(request: HttpRequest, call: HotlineCall, *, status: int = 200, **context: Any) -> HttpResponse:
    view = selectors.call_view(call=call, user=_user(request))
    page: dict[str, Any] = {
        "call": call,
        "view": view,
        "registrations": [{"item": r, "status": status_label(r.person.status) if r.person else ""}
                          for r in view.registrations],
        "intake": IntakeForm(initial={"caller_name": call.caller_name, "language": call.language,
                                      "notes": call.notes}, prefix="intake"),
        "search_forms": search_forms(),
        "callback_form": CallbackForm(prefix="callback"),
        "end_form": EndCallForm(prefix="end"),
        "code_form": CodeForm(),
        "closed": call.status == CallStatus.CLOSED,
    }
    page.update(context)
    return render(request, "hotline/call.html", page, status=status)


@require_GET
def call_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _call_page(request, _call_or_404(pk))


@require_POST
def call_intake(request: HttpRequest, pk: int) -> HttpResponse:
    call = _call_or_404(pk)
    form = IntakeForm(request.POST, prefix="intake")
    if not form.is_valid():
        return _call_page(request, call, status=422, intake=form)
    data = form.cleaned_data
    services.call_update_intake(call=call, user=_user(request), caller_name=data["caller_name"],
                                language=data["language"], notes=data["notes"])
    return _to_call(call, "intake")


@require_POST
def call_search(request: HttpRequest, pk: int) -> HttpResponse:
    call = _call_or_404(pk)
    form_class = SEARCH_FORMS.get(request.POST.get("kind", ""))
    if form_class is None:
        return _call_page(request, call, status=400)
    form = form_class(request.POST, prefix=form_class.kind)
    if not form.is_valid():
        return _call_page(request, call, status=422, search_forms=search_forms(form))
    found = selectors.hotline_search(query=form.query(), user=_user(request), call=call)
    if isinstance(found, RetryAfter):
        response = _call_page(request, call, status=429, search_forms=search_forms(form),
                              refused_seconds=found.seconds)
        response["Retry-After"] = str(found.seconds)
        return response
    results = [{"view": v, "status": status_label(v.status)} for v in found]
    return _call_page(request, call, search_forms=search_forms(form), results=results, searched=True)


def _contacts(form: HotlineRegistrationForm) -> list[ContactIn]:
    return [ContactIn(name, form.cleaned_data[name].strip()) for name in HotlineRegistrationForm.CONTACT_FIELDS
            if form.cleaned_data.get(name, "").strip()]


@require_POST
def call_register(request: HttpRequest, pk: int) -> HttpResponse:
    """``choose`` opens the form for a search result; otherwise the filled form registers the caller."""
    call = _call_or_404(pk)
    if "choose" in request.POST:
        form = HotlineRegistrationForm(initial={"ref": request.POST.get("ref", ""), "language": call.language})
        return _call_page(request, call, register_form=form)
    form = HotlineRegistrationForm(request.POST)
    if not form.is_valid():
        return _call_page(request, call, status=422, register_form=form)
    data = form.cleaned_data
    try:
        services.call_register(
            call=call, user=_user(request), subject_ref=data["ref"], language=data["language"],
            contacts=_contacts(form), relationship=data["relationship"], case_number=data["case_number"],
            pin=data["pin"], client_key=f"hotline-staff:{_user(request).pk}",
        )
    except RegistrationInvalid as invalid:
        for error in invalid.errors:
            name = str(error.loc[0]) if error.loc else ""
            if name == "contacts" and len(error.loc) == 1:
                name = ""
            elif name == "contacts":
                name = _contacts(form)[int(error.loc[1])].channel
            elif name == "subject_ref":
                name = ""
            form.add_error(name if name in form.fields else None, str(error.msg))
        return _call_page(request, call, status=422, register_form=form)
    return _to_call(call, "registrations")


@require_POST
def call_code(request: HttpRequest, pk: int) -> HttpResponse:
    call = _call_or_404(pk)
    form = CodeForm(request.POST)
    if not form.is_valid():
        return _call_page(request, call, status=422, code_form=form)
    verification = selectors.verification_of_call(call=call, verification_id=form.cleaned_data["verification"])
    if verification is None:
        raise Http404
    result = verification_check(verification=verification, code=form.cleaned_data["code"],
                                actor=services.hotline_actor(_user(request)))
    message = str(CHECK_MESSAGES[result.outcome])
    status = 200 if result.outcome in (Check.VERIFIED, Check.ACTIVE, Check.HELD) else 422
    return _call_page(request, call, status=status, code_message=message, code_for=verification.pk)


@require_POST
def call_resend(request: HttpRequest, pk: int) -> HttpResponse:
    call = _call_or_404(pk)
    raw = request.POST.get("verification", "")
    verification = selectors.verification_of_call(call=call, verification_id=int(raw)) if raw.isdigit() else None
    if verification is None:
        raise Http404
    result = verification_resend(verification=verification, actor=services.hotline_actor(_user(request)))
    return _call_page(request, call, code_message=str(RESEND_MESSAGES[str(result.outcome)]), code_for=verification.pk)


@require_POST
def call_callback(request: HttpRequest, pk: int) -> HttpResponse:
    call = _call_or_404(pk)
    form = CallbackForm(request.POST, prefix="callback")
    if not form.is_valid():
        return _call_page(request, call, status=422, callback_form=form)
    data = form.cleaned_data
    # The form reads the time in the server's zone; it is the wall-clock time in the caller's zone.
    try:
        services.callback_schedule(user=_user(request), call=call, due_local=data["due"].replace(tzinfo=None),
                                   timezone_name=data["timezone"], language=call.language, phone=data["phone"],
                                   notes=data["notes"])
    except InvalidContact:
        form.add_error("phone", _("Enter a valid phone number with its area code."))
        return _call_page(request, call, status=422, callback_form=form)
    return _to_call(call, "callbacks")


@require_POST
def call_end(request: HttpRequest, pk: int) -> HttpResponse:
    call = _call_or_404(pk)
    form = EndCallForm(request.POST, prefix="end")
    if not form.is_valid():
        return _call_page(request, call, status=422, end_form=form)
    services.call_end(call=call, user=_user(request), outcome=form.cleaned_data["outcome"])
    return HttpResponseRedirect(reverse("hotline:queue"))


def _callback_or_404(pk: int) -> Callback:
    callback = selectors.callback_get(callback_id=pk)
    if callback is None:
        raise Http404
    return callback


def _callback_page(request: HttpRequest, callback: Callback, *, form: CallbackDoneForm | None = None,
                   status: int = 200) -> HttpResponse:
    number = selectors.callback_view(callback=callback, user=_user(request))
    return render(request, "hotline/callback.html", {
        "callback": callback, "number": number, "form": form or CallbackDoneForm(),
    }, status=status)


@require_GET
def callback_detail(request: HttpRequest, pk: int) -> HttpResponse:
    return _callback_page(request, _callback_or_404(pk))


@require_POST
def callback_done(request: HttpRequest, pk: int) -> HttpResponse:
    callback = _callback_or_404(pk)
    form = CallbackDoneForm(request.POST)
    if not form.is_valid():
        return _callback_page(request, callback, form=form, status=422)
    try:
        services.callback_complete(callback=callback, user=_user(request), outcome=form.cleaned_data["outcome"],
                                   notes=form.cleaned_data["notes"])
    except services.HotlineError:
        form.add_error(None, _("This callback is already closed."))
        return _callback_page(request, callback, form=form, status=409)
    return HttpResponseRedirect(reverse("hotline:queue"))


@require_POST
def callback_cancel(request: HttpRequest, pk: int) -> HttpResponse:
    services.callback_cancel(callback=_callback_or_404(pk), user=_user(request))
    return HttpResponseRedirect(reverse("hotline:queue"))
