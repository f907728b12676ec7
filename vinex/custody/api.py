"""How agencies authenticate to the API: their keys, and the scopes an endpoint asks for.

The endpoints live with what they do (``vinex.feeds.api`` takes events and rosters in,
``vinex.custody.partner_api`` answers partner reads).
"""

from __future__ import annotations

import hashlib
import threading
import time

from django.conf import settings
from django.http import HttpRequest
from ninja.errors import AuthorizationError
from ninja.security import HttpBearer

from vinex.custody.models import ApiKey
from vinex.custody.services import apikey_authenticate

# Keys that authenticated recently, by the SHA-256 of the token: an agency pushing single events sends
# hundreds of requests a second with one key, and looking it up (a join and, once a minute, a write)
# each time was a tenth of a request's cost. Only successes are kept, so every failure is still
# looked up and audited; a revoked key or a changed scope takes effect within the cache's lifetime.
_RECENT_KEYS: dict[bytes, tuple[float, ApiKey]] = {}
_RECENT_KEYS_LOCK = threading.Lock()
_RECENT_KEYS_MAX = 1024


class AgencyKey(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> ApiKey | None:
        return apikey_recently_authenticated(token)


def apikey_recently_authenticated(token: str) -> ApiKey | None:
    """``apikey_authenticate``, remembered for ``VINEX_APIKEY_CACHE_SECONDS`` (0: never remembered)."""
    lifetime = settings.VINEX_APIKEY_CACHE_SECONDS
    if lifetime <= 0:
        return apikey_authenticate(token=token)
    digest = hashlib.sha256(token.encode()).digest()
    now = time.monotonic()
    with _RECENT_KEYS_LOCK:
        remembered = _RECENT_KEYS.get(digest)
    if remembered is not None and remembered[0] > now:
        return remembered[1]
    key = apikey_authenticate(token=token)
    if key is not None:
        with _RECENT_KEYS_LOCK:
            if len(_RECENT_KEYS) >= _RECENT_KEYS_MAX:
                _RECENT_KEYS.clear()
            _RECENT_KEYS[digest] = (now + lifetime, key)
    return key


def require_scope(request: HttpRequest, scope: str) -> ApiKey:
    key: ApiKey = request.auth  # type: ignore[attr-defined]
    if scope not in key.scopes:
        raise AuthorizationError(message=f"this API key lacks the {scope!r} scope")
    return key
