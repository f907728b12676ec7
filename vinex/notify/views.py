"""The one-click unsubscribe page linked from every email (RFC 8058)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from vinex.audit.unit import Actor
from vinex.notify.services import contact_from_unsubscribe_token, contact_opt_out


@csrf_exempt  # the signed token in the URL is the credential; mail clients POST without a CSRF token
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    # Whoever holds the link is not signed in: the log names them as every anonymous request.
    actor = Actor.anonymous()
    contact = contact_from_unsubscribe_token(token=token, actor=actor)
    if contact is None:
        return render(request, "notify/unsubscribe.html", {"state": "invalid"}, status=404)
    if request.method == "POST":
        contact_opt_out(contacts=[contact], actor=actor)
        return render(request, "notify/unsubscribe.html", {"state": "done"})
    return render(request, "notify/unsubscribe.html", {"state": "confirm"})
