"""Settings of the audit app, read from the environment (imported by vinex.settings).

``VINEX_AUDIT_SIGNING_KEY`` is the base64 raw 32-byte Ed25519 private key that signs checkpoints.
Production refuses to start without it; elsewhere a key derived from the Django secret is used, so a
development log stays verifiable across restarts.
"""

from __future__ import annotations

import base64
import binascii
import os

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from django.core.exceptions import ImproperlyConfigured

from vinex.core.config import env_int

__all__ = [
    "VINEX_AUDIT_CHECKPOINT_EVERY",
    "VINEX_AUDIT_CHECKPOINT_SECONDS",
    "VINEX_AUDIT_PAGE_SIZE",
    "VINEX_AUDIT_SIGNING_KEY",
    "VINEX_AUDIT_VERIFY_KEYS",
    "VINEX_AUTH_FAILURE_LIMIT",
    "VINEX_AUTH_FAILURE_WINDOW_SECONDS",
]


def _decode_key(name: str, raw: str) -> bytes:
    try:
        key = base64.b64decode(raw, validate=True)
    except (binascii.Error, ValueError):
        key = b""
    if len(key) != 32:
        raise ImproperlyConfigured(f"{name} must be a base64-encoded raw 32-byte Ed25519 key")
    return key


def _signing_key() -> str:
    raw = os.environ.get("VINEX_AUDIT_SIGNING_KEY", "").strip()
    if not raw:
        if os.environ.get("VINEX_ENV", "development") == "production":
            raise ImproperlyConfigured("production refuses to start without VINEX_AUDIT_SIGNING_KEY")
        return ""
    Ed25519PrivateKey.from_private_bytes(_decode_key("VINEX_AUDIT_SIGNING_KEY", raw))
    return raw


def _verify_keys() -> tuple[str, ...]:
    # Public keys of retired signing keys, so checkpoints signed before a key rotation still verify.
    keys = tuple(k.strip() for k in os.environ.get("VINEX_AUDIT_VERIFY_KEYS", "").split(",") if k.strip())
    for key in keys:
        Ed25519PublicKey.from_public_bytes(_decode_key("VINEX_AUDIT_VERIFY_KEYS", key))
    return keys


VINEX_AUDIT_SIGNING_KEY = _signing_key()
VINEX_AUDIT_VERIFY_KEYS = _verify_keys()
VINEX_AUDIT_CHECKPOINT_EVERY = env_int("VINEX_AUDIT_CHECKPOINT_EVERY", default=1000)
if VINEX_AUDIT_CHECKPOINT_EVERY < 1:
    raise ImproperlyConfigured("VINEX_AUDIT_CHECKPOINT_EVERY must be at least 1")
# A quiet log still gets its newest entries under a signature this often (by the scheduler's checkpoint job).
VINEX_AUDIT_CHECKPOINT_SECONDS = env_int("VINEX_AUDIT_CHECKPOINT_SECONDS", default=3600)
VINEX_AUDIT_PAGE_SIZE = env_int("VINEX_AUDIT_PAGE_SIZE", default=50)

# --- Failed credentials (vinex.audit.failures) -----------------------------------------------------
# Wrong API keys are counted per client in fixed windows of this length; past the limit the client is
# refused (429) until the window ends, and the log holds one summary instead of an entry per attempt.
VINEX_AUTH_FAILURE_WINDOW_SECONDS = env_int("VINEX_AUTH_FAILURE_WINDOW_SECONDS", default=900)
VINEX_AUTH_FAILURE_LIMIT = env_int("VINEX_AUTH_FAILURE_LIMIT", default=20)
