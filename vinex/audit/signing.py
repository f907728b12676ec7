"""Ed25519 signatures over checkpoints (signed Merkle tree heads)."""

from __future__ import annotations

import base64
import hashlib
from functools import cache

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings


def tree_head_message(*, tree_size: int, timestamp: str, root_hash: str) -> bytes:
    """The bytes a checkpoint signs: version, size, canonical UTC time and root, as RFC 9162's tree head does."""
    return f"vinex-audit-checkpoint/v1\n{tree_size}\n{timestamp}\n{root_hash}\n".encode()


@cache
def _private_key(configured: str, secret_key: str) -> Ed25519PrivateKey:
    if configured:
        return Ed25519PrivateKey.from_private_bytes(base64.b64decode(configured))
    # Outside production (conf.py refuses production without a key): stable as long as the secret is.
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"vinex audit signing key v1")
    return Ed25519PrivateKey.from_private_bytes(hkdf.derive(secret_key.encode()))


def signing_key() -> Ed25519PrivateKey:
    return _private_key(settings.VINEX_AUDIT_SIGNING_KEY, settings.SECRET_KEY)


def _raw(public: Ed25519PublicKey) -> bytes:
    return public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)


def key_id(public: Ed25519PublicKey) -> str:
    """A short fingerprint naming the key that signed a checkpoint."""
    return hashlib.sha256(_raw(public)).hexdigest()[:16]


def trusted_keys() -> dict[str, Ed25519PublicKey]:
    """The current key and the retired ones of ``VINEX_AUDIT_VERIFY_KEYS``, by key id."""
    keys = [signing_key().public_key()]
    keys += [Ed25519PublicKey.from_public_bytes(base64.b64decode(k)) for k in settings.VINEX_AUDIT_VERIFY_KEYS]
    return {key_id(k): k for k in keys}


def sign(message: bytes) -> tuple[str, str]:
    """(key id, hex signature) of ``message`` under the configured signing key."""
    key = signing_key()
    return key_id(key.public_key()), key.sign(message).hex()


def signature_valid(*, keys: dict[str, Ed25519PublicKey], key: str, message: bytes, signature: str) -> bool:
    public = keys.get(key)
    if public is None:
        return False
    try:
        public.verify(bytes.fromhex(signature), message)
    except (InvalidSignature, ValueError):
        return False
    return True
