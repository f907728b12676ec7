"""Staff sign-in, one-time-code enrolment, sign-out and the staff home page."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlencode

import django_otp
import segno
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import LoginView
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from vinex.accounts import selectors, services
from vinex.accounts.forms import StaffLoginForm, TokenForm


class StaffLoginView(LoginView):
    authentication_form = StaffLoginForm
    template_name = "accounts/login.html"
    redirect_authenticated_user = False

    def get_context_data(self, **kwargs: Any) -> dict[str, Any]:
        context = super().get_context_data(**kwargs)
        context["idle"] = self.request.GET.get("idle") == "1"
        return context

    def form_valid(self, form: StaffLoginForm) -> HttpResponse:  # type: ignore[override]
        response = super().form_valid(form)
        if form.needs_enrolment:
            return redirect(_with_next(reverse("accounts:enrol"), self.get_redirect_url()))
        return response


def _with_next(url: str, next_url: str) -> str:
    return f"{url}?{urlencode({'next': next_url})}" if next_url else url


def _safe_next(request: HttpRequest) -> str:
    candidate = request.POST.get("next") or request.GET.get("next") or ""
    ok = url_has_allowed_host_and_scheme(candidate, allowed_hosts={request.get_host()},
                                         require_https=request.is_secure())
    return candidate if ok else reverse("accounts:home")


def _qr_svg(url: str) -> str:
    return str(segno.make(url, error="m").svg_inline(scale=5, title="Scan with your authenticator app"))


@never_cache
@require_http_methods(["GET", "POST"])
def enrol(request: HttpRequest) -> HttpResponse:
    """First sign-in: show a new TOTP secret (QR and text) and switch it on once the user types a code."""
    user = request.user
    if not user.is_authenticated:
        return redirect(_with_next(reverse("accounts:login"), request.GET.get("next", "")))
    if selectors.user_has_confirmed_device(user=user):
        # Adding a second device takes a verified session; without one this page is no way in.
        verified = selectors.user_is_verified(user=user)
        return HttpResponseRedirect(_safe_next(request) if verified else reverse("accounts:login"))
    device = services.totp_device_start(user=user)
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if services.totp_device_confirm(device=device, token=form.cleaned_data["token"]):
            request.session.cycle_key()
            django_otp.login(request, device)
            messages.success(request, "Two-step sign-in is set up. Use a code from the app each time you sign in.")
            return HttpResponseRedirect(_safe_next(request))
        form.add_error("token", "That code did not match. Check the time on your phone and try the newest code.")
    context = {
        "form": form,
        "qr_svg": _qr_svg(device.config_url),
        "secret": base64.b32encode(device.bin_key).decode(),
        "next": request.GET.get("next", ""),
    }
    return render(request, "accounts/enrol.html", context)


@require_POST
def logout_view(request: HttpRequest) -> HttpResponse:
    logout(request)
    return redirect("accounts:login")


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """The pages this user's roles may open, as the matrix says."""
    roles = selectors.user_roles(user=request.user)
    pages = selectors.staff_pages_for(roles=roles)
    return render(request, "accounts/home.html", {"pages": pages, "roles": sorted(roles)})
