"""Writes to custody: API keys. Event ingestion is ``vinex.custody.ingest``."""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence

from django.utils import timezone

from vinex.audit.failures import failure_record
from vinex.audit.unit import Actor, audit_unit
from vinex.custody.models import Agency, ApiKey
from vinex.policy.sharing import Purpose

API_KEY_SCOPES = ("events:write", "rosters:write", "custody:read")
# Reading other agencies' custody data is granted only when asked for: a feed key never needs it.
DEFAULT_SCOPES = ("events:write", "rosters:write")


# --- API keys --------------------------------------------------------------------------------------


def _hash_secret(secret: str) -> str:
    # API keys carry 256 bits of randomness, so a fast hash is as safe as a slow one and keeps each
    # request cheap; argon2 is for human-chosen passwords.
    return hashlib.sha256(secret.encode()).hexdigest()


def apikey_create(*, agency: Agency, actor: Actor, name: str = "", scopes: Sequence[str] = DEFAULT_SCOPES,
                  purposes: Sequence[str] = ()) -> tuple[ApiKey, str]:
    """Create an API key and return it with the plaintext token, which is shown once and never stored.

    A key that reads other agencies' data (``custody:read``) is issued with the purposes it may state,
    at least one. Recorded in the audit log as a permission change by ``actor``."""
    unknown = set(scopes) - set(API_KEY_SCOPES)
    if unknown:
        raise ValueError(f"unknown scopes: {', '.join(sorted(unknown))}")
    unknown = set(purposes) - set(Purpose)
    if unknown:
        raise ValueError(f"unknown purposes: {', '.join(sorted(unknown))}")
    if ("custody:read" in scopes) != bool(purposes):
        raise ValueError("a custody:read key needs its allowed purposes, and only such a key takes them")
    prefix = secrets.token_hex(6)
    secret = secrets.token_urlsafe(32)
    with audit_unit(actor=actor) as unit:
        key = ApiKey.objects.create(
            agency=agency, name=name, prefix=prefix, secret_hash=_hash_secret(secret), scopes=list(scopes),
            purposes=sorted(set(purposes)),
        )
        unit.add("permission_change", "apikey", prefix, purpose=f"new key for agency {agency.code}"
                 + (f", purposes {', '.join(sorted(set(purposes)))}" if purposes else ""))
    return key, f"vx_{prefix}_{secret}"


def apikey_authenticate(*, token: str, client: str = "") -> ApiKey | None:
    """The active key matching ``token``, or None. A failure is counted for ``client`` (a keyed hash of its
    address) and logged in aggregate (``vinex.audit.failures``)."""
    marker, prefix, secret = [*token.split("_", 2), "", ""][:3]
    key = None
    if marker == "vx" and secret:
        key = ApiKey.objects.select_related("agency").filter(prefix=prefix, revoked_at__isnull=True).first()
    if key is None or not secrets.compare_digest(key.secret_hash, _hash_secret(secret)):
        failure_record(kind="apikey", client=client, object_id=prefix[:16] if marker == "vx" else "")
        return None
    now = timezone.now()
    if key.last_used_at is None or (now - key.last_used_at).total_seconds() > 60:
        ApiKey.objects.filter(pk=key.pk).update(last_used_at=now)
    return key
