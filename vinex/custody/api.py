"""How agencies authenticate to the API: their keys, and the scopes an endpoint asks for.

The endpoints live with what they do (``vinex.feeds.api`` takes events and rosters in,
``vinex.custody.partner_api`` answers partner reads).
"""

from __future__ import annotations

from django.conf import settings
from django.http import HttpRequest
from ninja.errors import AuthorizationError, HttpError
from ninja.security import HttpBearer

from vinex.audit.failures import client_hash, failure_record, failures_exceeded
from vinex.custody.models import ApiKey
from vinex.custody.services import apikey_authenticate


class AgencyKey(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> ApiKey | None:
        # A client that has sent too many wrong keys is refused before any key is looked up.
        client = client_hash(_client_address(request))
        if failures_exceeded(kind="apikey", client=client):
            failure_record(kind="apikey", client=client)  # counted for the summary, not logged singly
            raise HttpError(429, "too many failed API keys from this client; try again later")
        return apikey_authenticate(token=token, client=client)


def _client_address(request: HttpRequest) -> str:
    """The peer, or behind ``VINEX_TRUSTED_PROXY_HOPS`` proxies the client they saw."""
    hops = getattr(settings, "VINEX_TRUSTED_PROXY_HOPS", 0)  # the locator's setting, shared by every API
    forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
    if hops > 0 and len(forwarded) >= hops:
        return forwarded[-hops]
    return str(request.META.get("REMOTE_ADDR") or "unknown")


def require_scope(request: HttpRequest, scope: str) -> ApiKey:
    key: ApiKey = request.auth  # type: ignore[attr-defined]
    if scope not in key.scopes:
        raise AuthorizationError(message=f"this API key lacks the {scope!r} scope")
    return key
