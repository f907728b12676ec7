"""The admin site behind the staff sign-in: one-time code required, no separate admin login form."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.admin import ModelAdmin
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django_otp.admin import OTPAdminSite

from vinex.accounts import matrix, selectors
from vinex.accounts.admin_audit import audited


class VinexAdminSite(OTPAdminSite):
    """django-otp's admin site (only users verified by a one-time code get in), for administrators only,
    signing in through /staff/login/ so that lockout, enrolment and auditing have one door."""

    site_header = "vinex administration"
    site_title = "vinex administration"

    def __init__(self, name: str = "admin") -> None:
        super().__init__(name)

    def register(self, model_or_iterable: Any, admin_class: Any = None, **options: Any) -> None:
        """Register as usual, with every save and delete recorded in the audit log (``admin_audit``)."""
        super().register(model_or_iterable, audited(admin_class or ModelAdmin), **options)

    def has_permission(self, request: HttpRequest) -> bool:
        """Active, verified by a one-time code, and an administrator (other staff are Django staff too)."""
        roles = selectors.user_roles(user=request.user)
        return super().has_permission(request) and matrix.ADMINISTRATOR in roles

    def login(self, request: HttpRequest, extra_context: dict[str, object] | None = None) -> HttpResponse:
        index = reverse("admin:index", current_app=self.name)
        if self.has_permission(request):
            return HttpResponseRedirect(index)
        next_url = request.GET.get("next") or index
        return HttpResponseRedirect(f"{settings.LOGIN_URL}?{urlencode({'next': next_url})}")
