"""The advocate pages: thin views over the advocates selectors and services.

Server-rendered, usable without JavaScript. The staff gate (vinex.accounts.matrix) admits advocates
only; these views then narrow everything to the advocate's own organisation.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.models import User
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from vinex.advocates import consent, selectors, services
from vinex.advocates.forms import AdvocateRegistrationForm, CodeForm
from vinex.advocates.models import Membership
from vinex.locator.forms import SEARCH_FORMS, search_forms
from vinex.locator.ratelimit import RetryAfter
from vinex.registrations.models import ContactVerification, Registration
from vinex.registrations.outcomes import CHECK_MESSAGES, RESEND_MESSAGES
from vinex.registrations.selectors import mask_contact, verifications_of
from vinex.registrations.services import Check, ContactIn, RegistrationInvalid, verification_check, verification_resend


class NoMembership(Exception):
    pass


def _user(request: HttpRequest) -> User:
    user = request.user
    assert isinstance(user, User)
    return user


def _membership(request: HttpRequest) -> Membership:
    membership = selectors.membership_for(user=_user(request))
    if membership is None:
        raise NoMembership
    return membership


def _no_membership(request: HttpRequest) -> HttpResponse:
    return render(request, "advocates/no_membership.html", status=403)


@require_GET
def caseload(request: HttpRequest) -> HttpResponse:
    try:
        membership = _membership(request)
    except NoMembership:
        return _no_membership(request)
    not_reached = request.GET.get("show") == "not_reached"
    cases = selectors.caseload(user=_user(request), organisation=membership.organisation,
                               not_reached_only=not_reached)
    return render(request, "advocates/caseload.html", {
        "organisation": membership.organisation, "cases": cases, "not_reached": not_reached,
    })


# --- Registering a victim --------------------------------------------------------------------------


def _register_page(request: HttpRequest, membership: Membership, *, status: int = 200, **context: Any
                   ) -> HttpResponse:
    page: dict[str, Any] = {
        "organisation": membership.organisation,
        "agencies": selectors.served_agencies(organisation=membership.organisation),
        "search_forms": search_forms(),
        "consent_text": consent.consent_text(),
    }
    page.update(context)
    return render(request, "advocates/register.html", page, status=status)


@require_http_methods(["GET", "POST"])
def register(request: HttpRequest) -> HttpResponse:
    """GET: find the person; POST ``kind``: search; POST ``choose``: open the form for a result."""
    try:
        membership = _membership(request)
    except NoMembership:
        return _no_membership(request)
    if request.method == "GET":
        return _register_page(request, membership)
    if "choose" in request.POST:
        form = AdvocateRegistrationForm(initial={"ref": request.POST.get("ref", ""), "language": "en"})
        return _register_page(request, membership, register_form=form)
    return _search(request, membership)


def _search(request: HttpRequest, membership: Membership) -> HttpResponse:
    form_class = SEARCH_FORMS.get(request.POST.get("kind", ""))
    if form_class is None:
        return _register_page(request, membership, status=400)
    form = form_class(request.POST, prefix=form_class.kind)
    if not form.is_valid():
        return _register_page(request, membership, status=422, search_forms=search_forms(form))
    found = selectors.people_served_search(query=form.query(), user=_user(request),
                                           organisation=membership.organisation)
    if isinstance(found, RetryAfter):
        response = _register_page(request, membership, status=429, search_forms=search_forms(form),
                                  refused_seconds=found.seconds)
        response["Retry-After"] = str(found.seconds)
        return response
    results = [{"person": p} for p in found]
    return _register_page(request, membership, search_forms=search_forms(form), results=results, searched=True)


def _contacts(form: AdvocateRegistrationForm) -> list[ContactIn]:
    return [ContactIn(name, form.cleaned_data[name].strip()) for name in AdvocateRegistrationForm.CONTACT_FIELDS
            if form.cleaned_data.get(name, "").strip()]


def _form_errors(form: AdvocateRegistrationForm, invalid: RegistrationInvalid) -> None:
    for error in invalid.errors:
        name = str(error.loc[0]) if error.loc else ""
        if name == "contacts" and len(error.loc) > 1:
            name = _contacts(form)[int(error.loc[1])].channel
        form.add_error(name if name in form.fields else None, str(error.msg))


@require_POST
def register_submit(request: HttpRequest) -> HttpResponse:
    try:
        membership = _membership(request)
    except NoMembership:
        return _no_membership(request)
    form = AdvocateRegistrationForm(request.POST)
    if not form.is_valid():
        return _register_page(request, membership, status=422, register_form=form)
    data = form.cleaned_data
    try:
        registration = services.advocate_register(
            user=_user(request), organisation=membership.organisation, subject_ref=data["ref"],
            language=data["language"], contacts=_contacts(form), pin=data["pin"], relationship=data["relationship"],
            consent_method=data["consent_method"], consent_version=data["consent_version"],
        )
    except RegistrationInvalid as invalid:
        _form_errors(form, invalid)
        return _register_page(request, membership, status=422, register_form=form)
    return HttpResponseRedirect(reverse("advocates:case", args=[registration.public_id]))


# --- One victim's case -----------------------------------------------------------------------------


def _registration_or_404(public_id: str) -> Registration:
    registration = selectors.registration_by_public_id(public_id=public_id)
    if registration is None:
        raise Http404
    return registration


def _case_page(request: HttpRequest, public_id: str, *, status: int = 200, **context: Any) -> HttpResponse:
    try:
        membership = _membership(request)
    except NoMembership:
        return _no_membership(request)
    registration = _registration_or_404(public_id)
    case = selectors.case_get(user=_user(request), organisation=membership.organisation, registration=registration)
    if case is None:
        return render(request, "advocates/not_yours.html", status=403)
    pending = [(v, mask_contact(v.contact)) for v in verifications_of(registration=registration)
               if v.verified_at is None]
    page = {"case": case, "pending": pending, "code_form": CodeForm(),
            "organisation": membership.organisation}
    page.update(context)
    return render(request, "advocates/case.html", page, status=status)


@require_GET
def case_detail(request: HttpRequest, public_id: str) -> HttpResponse:
    return _case_page(request, public_id)


def _verification(request: HttpRequest, public_id: str) -> ContactVerification | None:
    """The verification the form names, of a registration the advocate's organisation serves, or None."""
    membership = selectors.membership_for(user=_user(request))
    registration = selectors.registration_by_public_id(public_id=public_id)
    if membership is None or registration is None:
        return None
    return selectors.verification_of_case(organisation=membership.organisation, registration=registration,
                                          verification_id=request.POST.get("verification", ""))


@require_POST
def case_code(request: HttpRequest, public_id: str) -> HttpResponse:
    verification = _verification(request, public_id)
    if verification is None:
        return _case_page(request, public_id, status=404)
    form = CodeForm(request.POST)
    if not form.is_valid():
        return _case_page(request, public_id, status=422, code_form=form)
    result = verification_check(verification=verification, code=form.cleaned_data["code"],
                                actor=selectors.advocate_actor(_user(request)))
    ok = result.outcome in (Check.VERIFIED, Check.ACTIVE, Check.HELD)
    return _case_page(request, public_id, status=200 if ok else 422, code_message=str(CHECK_MESSAGES[result.outcome]))


@require_POST
def case_resend(request: HttpRequest, public_id: str) -> HttpResponse:
    verification = _verification(request, public_id)
    if verification is None:
        return _case_page(request, public_id, status=404)
    result = verification_resend(verification=verification, actor=selectors.advocate_actor(_user(request)))
    return _case_page(request, public_id, code_message=str(RESEND_MESSAGES[str(result.outcome)]))
