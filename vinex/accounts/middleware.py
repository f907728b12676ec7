"""The one place that enforces the authorisation matrix, MFA and the idle timeout for staff pages."""

from __future__ import annotations

import time
from collections.abc import Callable
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.cache import add_never_cache_headers

from vinex.accounts import matrix, selectors
from vinex.accounts.signals import record_refusal

LAST_SEEN_SESSION_KEY = "vinex_last_seen"


def _expire_if_idle(request: HttpRequest) -> bool:
    """End a signed-in session idle for longer than the limit; True if it was ended now."""
    if settings.SESSION_COOKIE_NAME not in request.COOKIES:
        # No session, so nobody signed in: an agency's system on the API sends none, and finding that out
        # through ``request.user`` would cost every one of its requests the user and session look-ups.
        return False
    if not request.user.is_authenticated:
        return False
    now = int(time.time())
    last_seen = request.session.get(LAST_SEEN_SESSION_KEY)
    if last_seen is not None and now - int(last_seen) > settings.VINEX_STAFF_IDLE_SECONDS:
        logout(request)
        return True
    request.session[LAST_SEEN_SESSION_KEY] = now
    return False


def _to_login(request: HttpRequest, *, idle: bool) -> HttpResponse:
    query = {"next": request.get_full_path()}
    if idle:
        query["idle"] = "1"
    return HttpResponseRedirect(f"{reverse('accounts:login')}?{urlencode(query)}")


def _to_enrolment(request: HttpRequest) -> HttpResponse:
    return HttpResponseRedirect(f"{reverse('accounts:enrol')}?{urlencode({'next': request.get_full_path()})}")


class StaffAccessMiddleware:
    """For every path under /staff/ and /admin/ that is not a public row of the matrix: send people
    who are not signed in (or whose session went idle) to sign in, people without a verified one-time
    code to sign in or enrol, and answer 403 to signed-in staff whose roles the matrix does not allow.

    Must come after ``django_otp.middleware.OTPMiddleware``.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self._respond(request, idle=_expire_if_idle(request))

    def _respond(self, request: HttpRequest, *, idle: bool) -> HttpResponse:
        path = request.path_info
        if not matrix.is_protected(path):
            return self.get_response(request)
        row = matrix.row_for(path)
        if row is not None and row.public:
            return self.get_response(request)
        response = self._refusal(request, idle=idle) or self.get_response(request)
        # Staff pages show personal data: no copy may stay in a shared or browser cache.
        add_never_cache_headers(response)
        return response

    def _refusal(self, request: HttpRequest, *, idle: bool) -> HttpResponse | None:
        user = request.user
        if not user.is_authenticated:
            return _to_login(request, idle=idle)
        if not selectors.user_is_verified(user=user):
            if selectors.user_has_confirmed_device(user=user):
                return _to_login(request, idle=False)
            return _to_enrolment(request)
        roles = selectors.user_roles(user=user)
        if not matrix.is_allowed(request.path_info, request.method or "GET", roles):
            record_refusal(user=user, roles=roles, path=request.path_info)
            return render(request, "accounts/forbidden.html", {"roles": roles}, status=403)
        return None
