"""Encryption at rest for personal data, and blind indexes to find it without decrypting.

Values are encrypted with Fernet (AES-128-CBC + HMAC-SHA256) under ``VINEX_FIELD_KEY``; several
comma-separated keys may be given, the first encrypts and all decrypt, so keys can be rotated
(``vinex keys rotate`` re-encrypts stored values under the first).

The blind index is an HMAC of the normalised value. Its key is derived from ``VINEX_INDEX_KEY`` when
that is set, so indexes survive field-key rotations; otherwise (deployments that predate it) from the
first field key, in which case putting a new key in front changes every index until ``vinex keys
rotate`` has recomputed them.
"""

from __future__ import annotations

import hashlib
import hmac
from functools import cache
from typing import Any

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models

# Shorter secrets could be guessed offline from a leaked table of indexes of well-known addresses.
INDEX_KEY_MIN_LENGTH = 32


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(k) for k in keys])


@cache
def _hkdf(secret: str, info: bytes) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info)
    return hkdf.derive(secret.encode())


def _index_key() -> bytes:
    dedicated = getattr(settings, "VINEX_INDEX_KEY", "")
    if not dedicated:
        # The original derivation, kept so that indexes written before VINEX_INDEX_KEY still match.
        return _hkdf(settings.VINEX_FIELD_KEYS[0], b"vinex blind index v1")
    if len(dedicated) < INDEX_KEY_MIN_LENGTH:
        raise ImproperlyConfigured(f"VINEX_INDEX_KEY must be at least {INDEX_KEY_MIN_LENGTH} characters")
    # A different label: the same secret used as both a field key and an index key gives unrelated keys.
    return _hkdf(dedicated, b"vinex blind index v2")


def keys_configured() -> tuple[str, ...]:
    """The field keys, newest (encrypting) first."""
    return tuple(settings.VINEX_FIELD_KEYS)


def encrypt(value: str) -> str:
    return _fernet(keys_configured()).encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet(keys_configured()).decrypt(token.encode()).decode()
    except InvalidToken:
        raise ValueError("cannot decrypt: the value was encrypted under a key that is not configured") from None


def rotate(token: str) -> str:
    """Re-encrypt ``token`` under the first (newest) key; ValueError if no configured key opens it."""
    try:
        return _fernet(keys_configured()).rotate(token.encode()).decode()
    except InvalidToken:
        raise ValueError("cannot rotate: the value was encrypted under a key that is not configured") from None


def is_current(token: str) -> bool:
    """Whether ``token`` is already encrypted under the first key (so rotating it would change nothing)."""
    try:
        _fernet(keys_configured()[:1]).decrypt(token.encode())
    except InvalidToken:
        return False
    return True


def blind_index(normalised_value: str) -> str:
    """A stable, keyed digest of a normalised value, for equality lookups on encrypted data."""
    return hmac.new(_index_key(), normalised_value.encode(), hashlib.sha256).hexdigest()


class EncryptedTextField(models.TextField):
    """A text column holding a Fernet token; Python code sees the plaintext."""

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        return None if value is None else decrypt(value)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        return None if value is None else encrypt(str(value))
