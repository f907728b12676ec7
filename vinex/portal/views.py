"""The victim portal's pages: thin views over the locator selectors and the registration services.

Every page works without JavaScript; with htmx, the search swaps only the results in. A browser
session remembers which registrations it started (to show their code pages) and which manage link
it opened, so no credential stays in an address bar.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from babel.dates import format_date
from django import forms
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods

from vinex.audit.unit import Actor
from vinex.locator.forms import SEARCH_FORMS, SearchForm
from vinex.locator.ratelimit import RetryAfter, address_limit, client_address, request_limits
from vinex.locator.selectors import locator_actor, locator_search_public
from vinex.notify.messages import format_when, status_label
from vinex.portal.forms import ContactAddForm, PreferencesForm
from vinex.registrations.forms import CodeForm, RegistrationForm
from vinex.registrations.history import (
    message_channel_words,
    message_status_words,
    message_title,
    registration_history,
)
from vinex.registrations.models import Arrival, ContactVerification, Registration, RegistrationStatus
from vinex.registrations.selectors import (
    Followed,
    followed_person,
    mask_contact,
    person_for_subject_ref,
    registration_for_manage_token,
    registration_get,
    registration_view,
    registrations_for_manager,
    registrations_sharing_contacts,
    verification_of_registration,
    verifications_of,
)
from vinex.registrations.services import (
    Check,
    ContactIn,
    FieldError,
    RegistrationInvalid,
    Resend,
    ip_hash,
    registration_contact_add,
    registration_contact_remove,
    registration_create,
    registration_preferences_update,
    registration_withdraw,
    verification_check,
    verification_resend,
)

logger = logging.getLogger(__name__)
STARTED = "portal.started"  # registrations this browser session created
MANAGING = "portal.managing"  # the registration whose manage link this session opened


def active_language() -> str:
    return (translation.get_language() or "en")[:2]


def _long_date(moment: Any) -> str:
    return format_date(moment, "long", locale=active_language())


def _too_many(request: HttpRequest, refused: RetryAfter) -> HttpResponse:
    response = render(request, "portal/too_many.html", {"seconds": refused.seconds}, status=429)
    response["Retry-After"] = str(refused.seconds)
    return response


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/home.html")


# --- Search ---------------------------------------------------------------------------------------


def _search_forms(submitted: SearchForm | None = None) -> dict[str, SearchForm]:
    forms = {kind: cls(prefix=kind) for kind, cls in SEARCH_FORMS.items()}
    if submitted is not None:
        forms[submitted.kind] = submitted
    return forms


@require_http_methods(["GET", "POST"])
def search(request: HttpRequest) -> HttpResponse:
    """Search forms (GET) and results (POST: the terms stay out of addresses, histories and logs)."""
    if request.method == "GET":
        return render(request, "portal/search.html", {"forms": _search_forms(), "active": "a_number"})
    kind = request.POST.get("kind", "")
    form_class = SEARCH_FORMS.get(kind)
    if form_class is None:
        return render(request, "portal/search.html", {"forms": _search_forms(), "active": "a_number"}, status=400)
    form = form_class(request.POST, prefix=kind)
    context: dict[str, Any] = {"forms": _search_forms(form), "active": kind}
    if not form.is_valid():
        return render(request, "portal/search.html", context, status=422)
    if not request.session.session_key:
        request.session.save()  # a session of its own, so the per-session limit applies from the first search
    refused = request_limits(request, scope="locator", address_rate=settings.VINEX_LOCATOR_RATE,
                             session_rate=settings.VINEX_LOCATOR_SESSION_RATE)
    if refused:
        context["refused_seconds"] = refused.seconds
        response = render(request, "portal/search.html", context, status=429)
        response["Retry-After"] = str(refused.seconds)
        return response
    results = locator_search_public(query=form.query(), actor=locator_actor(client_address(request)), via="portal")
    logger.info("locator search", extra={"kind": kind, "results": len(results), "via": "portal"})
    context["results"] = [{"result": r, "status": status_label(r.status)} for r in results]
    context["searched"] = True
    return render(request, "portal/search.html", context)


# --- Registration ---------------------------------------------------------------------------------


def _contacts(form: RegistrationForm) -> tuple[list[ContactIn], list[str]]:
    contacts: list[ContactIn] = []
    fields: list[str] = []
    for name in RegistrationForm.CONTACT_FIELDS:
        value = form.cleaned_data.get(name, "").strip()
        if value:
            contacts.append(ContactIn(name, value))
            fields.append(name)
    return contacts, fields


def _attach(form: RegistrationForm, errors: list[FieldError], fields: list[str]) -> None:
    """Put the service's errors next to the fields they concern."""
    for error in errors:
        if error.loc[0] == "contacts" and len(error.loc) > 1:
            form.add_error(fields[int(error.loc[1])], str(error.msg))
        elif error.loc[0] in ("language", "relationship", "case_number", "pin"):
            form.add_error(str(error.loc[0]), str(error.msg))
        else:
            form.add_error(None, str(error.msg))


FormT = TypeVar("FormT", bound=forms.Form)


@dataclass(frozen=True)
class PersonFormStep(Generic[FormT]):
    """A form about a person found by search: its page, and the answer to send now if there is one."""

    form: FormT
    followed: Followed | None
    answer: HttpResponse | None = None


def person_form_step(request: HttpRequest, form_class: type[FormT], template: str, *, scope: str, rate: str,
                 initial: dict[str, Any] | None = None) -> PersonFormStep[FormT]:
    """What registering (here) and reporting wrong data (``vinex.privacy``) share: the empty form for a search
    result's ``ref`` on GET; on POST the submitted form, answered at once when a field is wrong or the client
    address is over ``rate``."""
    source = request.GET if request.method == "GET" else request.POST
    ref = source.get("ref", "")[:500]
    followed = person_for_subject_ref(subject_ref=ref)
    if request.method == "GET":
        form = form_class(initial={"ref": ref, **(initial or {})})
        context = {"form": form, "missing_ref": not ref, "followed": followed}
        return PersonFormStep(form, followed, render(request, template, context))
    form = form_class(request.POST)
    if not form.is_valid():
        return PersonFormStep(form, followed, render(request, template, {"form": form, "followed": followed},
                                                  status=422))
    refused = address_limit(request, scope=scope, rate=rate)
    return PersonFormStep(form, followed, _too_many(request, refused) if refused else None)


@require_http_methods(["GET", "POST"])
def register(request: HttpRequest) -> HttpResponse:
    step = person_form_step(request, RegistrationForm, "portal/register.html", scope="registration",
                        rate=settings.VINEX_REGISTRATION_RATE, initial={"language": active_language()})
    if step.answer is not None:
        return step.answer
    form, followed = step.form, step.followed
    contacts, fields = _contacts(form)
    try:
        registration = registration_create(
            subject_ref=form.cleaned_data["ref"], language=form.cleaned_data["language"], contacts=contacts,
            relationship=form.cleaned_data["relationship"], case_number=form.cleaned_data["case_number"],
            pin=form.cleaned_data["pin"], arrival=Arrival.WEB, client_address=client_address(request),
            actor=_visitor(request),
        )
    except RegistrationInvalid as invalid:
        _attach(form, invalid.errors, fields)
        expired = any(e.loc == ("subject_ref",) for e in invalid.errors)
        return render(request, "portal/register.html", {"form": form, "ref_expired": expired, "followed": followed},
                      status=422)
    logger.info("registration created", extra={"registration": str(registration.public_id),
                                               "contacts": len(contacts), "arrival": "web"})
    request.session[STARTED] = [*request.session.get(STARTED, []), str(registration.public_id)][-10:]
    return redirect("portal:verify", registration_id=registration.public_id)


def _visitor(request: HttpRequest) -> Actor:
    """Someone on the portal's pages, named by the keyed hash of their address (as their registration is)."""
    return Actor.public(Arrival.WEB, ip_hash(client_address(request)))


def _started(request: HttpRequest, registration_id: str) -> Registration:
    """A registration this browser started; anyone else gets a 404."""
    if registration_id not in request.session.get(STARTED, []):
        raise Http404
    registration = registration_get(public_id=registration_id)
    if registration is None:
        raise Http404
    return registration


_CODE_PROBLEMS = frozenset({Check.WRONG, Check.EXPIRED, Check.LOCKED})


def _check_error(outcome: Check, attempts_left: int) -> str:
    if outcome == Check.WRONG:
        return translation.ngettext(
            "That code is not right. You can try %(count)d more time.",
            "That code is not right. You can try %(count)d more times.", attempts_left,
        ) % {"count": attempts_left}
    if outcome == Check.EXPIRED:
        return _("That code has expired. Ask for a new code below.")
    return _("Too many wrong codes. Ask for a new code below.")


def _resend_notice(result_outcome: Resend, retry_after: int) -> str:
    if result_outcome == Resend.SENT:
        return _("We sent a new code.")
    if result_outcome == Resend.TOO_SOON:
        return _("A code was sent a moment ago. You can ask for another in %(seconds)d seconds.") % {
            "seconds": retry_after}
    return _("We cannot send more codes to this contact. Please start again or call the hotline.")


def _code_post(request: HttpRequest, verifications: list[ContactVerification]) -> tuple[int, dict[int, str],
                                                                                       dict[int, str], bool]:
    """Handle one contact's form: (status, errors, notices, finished)."""
    chosen = request.POST.get("verification", "")
    target = next((v for v in verifications if str(v.pk) == chosen), None)
    if target is None:
        raise Http404
    if request.POST.get("action") == "resend":
        result = verification_resend(verification=target, actor=_visitor(request))
        return 200, {}, {target.pk: _resend_notice(result.outcome, result.retry_after)}, False
    form = CodeForm(request.POST)
    if not form.is_valid():
        return 422, {target.pk: str(form.errors["code"][0])}, {}, False
    checked = verification_check(verification=target, code=form.cleaned_data["code"], actor=_visitor(request))
    if checked.outcome in _CODE_PROBLEMS:
        return 422, {target.pk: _check_error(checked.outcome, checked.attempts_left)}, {}, False
    return 200, {}, {}, checked.outcome != Check.VERIFIED


@require_http_methods(["GET", "POST"])
def verify(request: HttpRequest, registration_id: str) -> HttpResponse:
    """One code form per contact; when the last contact is confirmed, on to the confirmation page."""
    registration = _started(request, str(registration_id))
    if registration.status != RegistrationStatus.PENDING:
        return redirect("portal:done", registration_id=registration.public_id)
    status, errors, notices = 200, dict[int, str](), dict[int, str]()
    if request.method == "POST":
        status, errors, notices, finished = _code_post(request, verifications_of(registration=registration))
        if finished:
            return redirect("portal:done", registration_id=registration.public_id)
    rows = [{"verification": v, "contact": mask_contact(v.contact), "error": errors.get(v.pk, ""),
             "notice": notices.get(v.pk, "")} for v in verifications_of(registration=registration)]
    return render(request, "portal/verify.html", {"registration": registration, "rows": rows,
                                                  "minutes": settings.VINEX_CODE_TTL_SECONDS // 60}, status=status)


def done(request: HttpRequest, registration_id: str) -> HttpResponse:
    registration = _started(request, str(registration_id))
    if registration.status == RegistrationStatus.PENDING:
        return redirect("portal:verify", registration_id=registration.public_id)
    followed = followed_person(registration=registration)
    return render(request, "portal/done.html", {"registration": registration, "followed": followed})


# --- Manage and withdraw --------------------------------------------------------------------------


def _managed(request: HttpRequest) -> Registration | None:
    public_id = request.session.get(MANAGING)
    return registration_get(public_id=public_id) if public_id else None


def manage(request: HttpRequest) -> HttpResponse:
    """Opens the manage link (``?token=…``), then shows the registrations on this contact."""
    token = request.GET.get("token")
    if token is not None:
        registration = registration_for_manage_token(token=token)
        if registration is None:
            return render(request, "portal/manage_invalid.html", status=404)
        request.session.cycle_key()
        request.session[MANAGING] = str(registration.public_id)
        return HttpResponseRedirect(reverse("portal:manage"))  # drops the token from the address bar
    registration = _managed(request)
    if registration is None:
        return render(request, "portal/manage_invalid.html", status=404)
    rows = []
    for item in registrations_for_manager(registration=registration,
                                          actor=Actor.registrant(registration.registrant_id)):
        followed = followed_person(registration=item)
        rows.append({
            "registration": item,
            "name": followed.name if followed else "",
            "status": status_label(followed.status) if followed else "",
            "since": _long_date(item.created_at),
            "contacts": [mask_contact(v.contact) for v in verifications_of(registration=item)],
        })
    return render(request, "portal/manage.html", {"rows": rows})


def _withdrawable(request: HttpRequest, public_id: str) -> Registration:
    registration = _managed(request)
    if registration is None:
        raise Http404
    allowed = {str(r.public_id): r for r in registrations_sharing_contacts(registration=registration)}
    if public_id not in allowed:
        raise Http404
    return allowed[public_id]


@require_http_methods(["GET", "POST"])
def withdraw(request: HttpRequest, registration_id: str) -> HttpResponse:
    registration = _withdrawable(request, str(registration_id))
    followed = followed_person(registration=registration)
    if request.method == "POST":
        # The manage link proves control of the contacts: its holder acts as the registrant who received it.
        manager = _managed(request)
        assert manager is not None
        registration = registration_withdraw(registration=registration,
                                             actor=Actor.registrant(manager.registrant_id))
        logger.info("registration withdrawn", extra={"registration": str(registration.public_id)})
        assert registration.purge_after is not None
        return render(request, "portal/withdrawn.html", {
            "followed": followed, "purge_date": _long_date(registration.purge_after)})
    return render(request, "portal/withdraw.html", {"registration": registration, "followed": followed})


# --- One registration: how she is told, her contacts, her messages ---------------------------------


def _manager(request: HttpRequest) -> Actor:
    manager = _managed(request)
    assert manager is not None
    return Actor.registrant(manager.registrant_id)


@require_http_methods(["GET", "POST"])
def registration(request: HttpRequest, registration_id: str) -> HttpResponse:
    """Change language and call preference, add (with a code) or remove contacts, see every message."""
    item = _withdrawable(request, str(registration_id))
    actor = _manager(request)
    preferences = PreferencesForm(initial={"language": item.registrant.language,
                                           "call_preference": item.registrant.call_preference})
    adding, status, notice = ContactAddForm(), 200, ""
    code_errors: dict[int, str] = {}
    if request.method == "POST" and item.status != RegistrationStatus.ACTIVE:
        status, notice = 409, _("Only an active registration can change.")
    elif request.method == "POST":
        action = request.POST.get("action", "")
        if action == "preferences":
            preferences = PreferencesForm(request.POST)
            status, notice = _preferences_post(item, preferences, actor)
        elif action == "add":
            adding = ContactAddForm(request.POST)
            status, notice = _add_post(item, adding, actor)
            if status == 200:
                adding = ContactAddForm()
        elif action == "remove":
            status, notice = _remove_post(request, item, actor)
        elif action in ("code", "resend"):
            status, notice, code_errors = _code_post_for_contact(request, item, actor)
        else:
            raise Http404
    return render(request, "portal/registration.html", {
        **_registration_context(item, actor, code_errors), "preferences": preferences, "adding": adding,
        "notice": notice}, status=status)


def _registration_context(item: Registration, actor: Actor, code_errors: dict[int, str]) -> dict[str, Any]:
    item.registrant.refresh_from_db()
    view = registration_view(registration=item, actor=actor, purpose="manage link")
    messages = [{"id": m.id, "outcome": m.outcome, "title": message_title(m), "when": _long_when(m.queued_at),
                 "channel": message_channel_words(m.channel), "contact": m.contact,
                 "status": message_status_words(m), "reached": m.reached}
                for m in registration_history(registration=item, actor=actor, purpose="manage link")]
    return {"registration": item, "view": view, "messages": messages, "code_errors": code_errors,
            "person_status": status_label(view.person.status) if view.person else ""}


def _long_when(moment: Any) -> str:
    # The zone the hotline assumes for the people it serves: a registrant's own zone is not known.
    return format_when(moment, settings.VINEX_HOTLINE_TIMEZONE, active_language())


def _preferences_post(item: Registration, form: PreferencesForm, actor: Actor) -> tuple[int, str]:
    if not form.is_valid():
        return 422, ""
    try:
        registration_preferences_update(registration=item, actor=actor, language=form.cleaned_data["language"],
                                        call_preference=form.cleaned_data["call_preference"])
    except RegistrationInvalid as invalid:
        for error in invalid.errors:
            form.add_error("call_preference" if error.loc[0] == "call_preference" else None, str(error.msg))
        return 422, ""
    return 200, _("Your choices are saved.")


def _add_post(item: Registration, form: ContactAddForm, actor: Actor) -> tuple[int, str]:
    if not form.is_valid():
        return 422, ""
    try:
        registration_contact_add(registration=item, channel=form.cleaned_data["channel"],
                                 value=form.cleaned_data["value"], pin=form.cleaned_data["pin"], actor=actor)
    except RegistrationInvalid as invalid:
        for error in invalid.errors:
            form.add_error("pin" if error.loc[0] == "pin" else "value", str(error.msg))
        return 422, ""
    return 200, _("We sent a code to the new contact. Enter it below; nothing else is sent there until you do.")


def _remove_post(request: HttpRequest, item: Registration, actor: Actor) -> tuple[int, str]:
    verification = _chosen_verification(request, item)
    try:
        registration_contact_remove(registration=item, verification=verification, actor=actor)
    except RegistrationInvalid as invalid:
        return 422, str(invalid.errors[0].msg)
    return 200, _("That contact is removed. No more messages go to it.")


def _chosen_verification(request: HttpRequest, item: Registration) -> ContactVerification:
    chosen = request.POST.get("verification", "")
    verification = verification_of_registration(registration=item, verification_id=int(chosen)) if (
        chosen.isdigit()) else None
    if verification is None:
        raise Http404
    return verification


def _code_post_for_contact(request: HttpRequest, item: Registration, actor: Actor) -> tuple[int, str, dict[int, str]]:
    verification = _chosen_verification(request, item)
    if request.POST.get("action") == "resend":
        result = verification_resend(verification=verification, actor=actor)
        return 200, _resend_notice(result.outcome, result.retry_after), {}
    form = CodeForm(request.POST)
    if not form.is_valid():
        return 422, "", {verification.pk: str(form.errors["code"][0])}
    checked = verification_check(verification=verification, code=form.cleaned_data["code"], actor=actor)
    if checked.outcome in _CODE_PROBLEMS:
        return 422, "", {verification.pk: _check_error(checked.outcome, checked.attempts_left)}
    return 200, _("Confirmed. Messages now go to this contact too."), {}
