"""Operational endpoints: liveness, metrics, and the development mail outbox."""

from __future__ import annotations

import hmac
from pathlib import Path

from django.conf import settings
from django.contrib.admin.views.decorators import staff_member_required
from django.db import connection
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

from vinex.accounts.selectors import actor_ref
from vinex.audit.unit import Actor, audit_add
from vinex.site.metrics import registry


@csrf_exempt  # an API client sends no CSRF token: a POST to a wrong path is a 404, not a CSRF page
def api_not_found(request: HttpRequest, rest: str = "") -> JsonResponse:
    """Any path under /api/ that no endpoint serves: the API's error shape rather than an HTML page."""
    return JsonResponse({"detail": [{"loc": ["path"], "msg": "no such endpoint", "type": "not_found"}]}, status=404)


@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception:
        return JsonResponse({"status": "error", "database": "unavailable"}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})


def _metrics_allowed(request: HttpRequest) -> bool:
    token = settings.VINEX_METRICS_TOKEN
    presented = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    return bool(token) and hmac.compare_digest(presented.encode(), token.encode())


@require_GET
def metrics(request: HttpRequest) -> HttpResponse:
    """Prometheus text for a scraper holding ``VINEX_METRICS_TOKEN``; to anyone else, as to everyone when
    no token is set, a plain 404: the operation's figures are not for the public, nor for partners."""
    if not _metrics_allowed(request):
        raise Http404
    return HttpResponse(generate_latest(registry()), content_type=CONTENT_TYPE_LATEST)


def _outbox_files() -> list[Path]:
    folder = Path(settings.EMAIL_FILE_PATH)
    if not folder.is_dir():
        return []
    return sorted(folder.glob("*.log"), key=lambda p: p.stat().st_mtime, reverse=True)


@staff_member_required
@require_GET
def mail_outbox(request: HttpRequest) -> HttpResponse:
    """Development only: the emails the file backend wrote, newest first."""
    if settings.PRODUCTION:
        raise Http404
    audit_add(actor=Actor.staff(actor_ref(user=request.user)), action="read", object_type="mail_outbox",
              object_id="development")
    messages = [{"name": p.name, "text": p.read_text(errors="replace")} for p in _outbox_files()[:50]]
    return render(request, "site/mail_outbox.html", {"messages": messages})
