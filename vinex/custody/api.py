"""How agencies authenticate to the API: their keys, and the scopes an endpoint asks for.

The endpoints live with what they do (``vinex.feeds.api`` takes events and rosters in,
``vinex.custody.partner_api`` answers partner reads).
"""

from __future__ import annotations

import hashlib

from django.conf import settings
from django.http import HttpRequest
from ninja.errors import AuthorizationError, HttpError
from ninja.security import HttpBearer

from vinex.audit.failures import client_hash, failure_record, failures_exceeded
from vinex.core.memory import Remembered
from vinex.custody.models import ApiKey
from vinex.custody.services import apikey_authenticate

# Keys that authenticated recently, by the SHA-256 of the token: an agency pushing single events sends
# hundreds of requests a second with one key, and looking it up (a join and, once a minute, a write)
# each time was a tenth of a request's cost. Only successes are kept, so every failure is still
# looked up and audited; a revoked key or a changed scope takes effect within the cache's lifetime.
_RECENT_KEYS: Remembered[bytes, ApiKey] = Remembered(size=1024)


class AgencyKey(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> ApiKey | None:
        remembered = _remembered(token)
        if remembered is not None:  # a key that authenticated moments ago: no lookup, no failure count
            return remembered
        # A client that has sent too many wrong keys is refused before any key is looked up.
        client = client_hash(_client_address(request))
        if failures_exceeded(kind="apikey", client=client):
            failure_record(kind="apikey", client=client)  # counted for the summary, not logged singly
            raise HttpError(429, "too many failed API keys from this client; try again later")
        return apikey_recently_authenticated(token, client=client)


def _client_address(request: HttpRequest) -> str:
    """The peer, or behind ``VINEX_TRUSTED_PROXY_HOPS`` proxies the client they saw."""
    hops = getattr(settings, "VINEX_TRUSTED_PROXY_HOPS", 0)  # the locator's setting, shared by every API
    forwarded = [a.strip() for a in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",") if a.strip()]
    if hops > 0 and len(forwarded) >= hops:
        return forwarded[-hops]
    return str(request.META.get("REMOTE_ADDR") or "unknown")


def _remembered(token: str) -> ApiKey | None:
    if settings.VINEX_APIKEY_CACHE_SECONDS <= 0:
        return None
    return _RECENT_KEYS.get(hashlib.sha256(token.encode()).digest())


def apikey_recently_authenticated(token: str, *, client: str = "") -> ApiKey | None:
    """``apikey_authenticate``, remembered for ``VINEX_APIKEY_CACHE_SECONDS`` (0: never remembered)."""
    remembered = _remembered(token)
    if remembered is not None:
        return remembered
    key = apikey_authenticate(token=token, client=client)
    if key is not None:
        _RECENT_KEYS.put(hashlib.sha256(token.encode()).digest(), key, settings.VINEX_APIKEY_CACHE_SECONDS)
    return key


def require_scope(request: HttpRequest, scope: str) -> ApiKey:
    key: ApiKey = request.auth  # type: ignore[attr-defined]
    if scope not in key.scopes:
        raise AuthorizationError(message=f"this API key lacks the {scope!r} scope")
    return key
