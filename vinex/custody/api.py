"""How agencies authenticate to the API: their keys, and the scopes an endpoint asks for.

The endpoints live with what they do (``vinex.feeds.api`` takes events and rosters in,
``vinex.custody.partner_api`` answers partner reads).
"""

from __future__ import annotations

from django.http import HttpRequest
from ninja.errors import AuthorizationError
from ninja.security import HttpBearer

from vinex.custody.models import ApiKey
from vinex.custody.services import apikey_authenticate


class AgencyKey(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> ApiKey | None:
        return apikey_authenticate(token=token)


def require_scope(request: HttpRequest, scope: str) -> ApiKey:
    key: ApiKey = request.auth  # type: ignore[attr-defined]
    if scope not in key.scopes:
        raise AuthorizationError(message=f"this API key lacks the {scope!r} scope")
    return key
