"""The audit log search page for privacy officers and auditors."""

from __future__ import annotations

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser
from django.contrib.auth.models import AnonymousUser, Group
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.shortcuts import render
from django.views.decorators.http import require_GET

from vinex.audit.forms import AuditSearchForm
from vinex.audit.selectors import audit_search
from vinex.audit.unit import Actor, audit_add

SEARCH_ROLES = ("privacy_officer", "auditor")


def search_role(user: AbstractBaseUser | AnonymousUser) -> str | None:
    """The role under which ``user`` may search the audit log, or None when they may not."""
    if not (user.is_authenticated and getattr(user, "is_active", False) and getattr(user, "is_staff", False)):
        return None
    groups = set(Group.objects.filter(user__pk=user.pk, name__in=SEARCH_ROLES).values_list("name", flat=True))
    for role in SEARCH_ROLES:
        if role in groups:
            return role
    return "administrator" if getattr(user, "is_superuser", False) else None


@require_GET
def search(request: HttpRequest) -> HttpResponse:
    role = search_role(request.user)
    if role is None:
        if request.user.is_authenticated:
            audit_add(actor=Actor.staff(f"user:{request.user.pk}"), action="audit_search",
                      object_type="audit_log", object_id="", outcome="denied")
        return HttpResponseForbidden(render(request, "audit/forbidden.html").content)
    form = AuditSearchForm(request.GET or None)
    page = None
    if form.is_bound and form.is_valid():
        page = audit_search(
            actor=Actor.staff(f"user:{request.user.pk}", role), query=form.query(),
            page=_page_number(request), per_page=settings.VINEX_AUDIT_PAGE_SIZE, purpose=form.cleaned_data["purpose"],
        )
    return render(request, "audit/search.html", {"form": form, "page": page, "querystring": _without_page(request)})


def _page_number(request: HttpRequest) -> int:
    raw = request.GET.get("page", "1")
    return int(raw) if raw.isdigit() else 1


def _without_page(request: HttpRequest) -> str:
    params = request.GET.copy()
    params.pop("page", None)
    return params.urlencode()
