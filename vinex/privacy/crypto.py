"""Encryption at rest for personal data, and blind indexes to find it without decrypting.

Values are encrypted with Fernet (AES-128-CBC + HMAC-SHA256) under ``VINEX_FIELD_KEY``; several
comma-separated keys may be given, the first encrypts and all decrypt, so keys can be rotated. The
blind index is an HMAC of the normalised value under a key derived from the first field key.
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
from django.db import models


@cache
def _fernet(keys: tuple[str, ...]) -> MultiFernet:
    return MultiFernet([Fernet(k) for k in keys])


@cache
def _index_key(primary: str) -> bytes:
    hkdf = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"vinex blind index v1")
    return hkdf.derive(primary.encode())


def encrypt(value: str) -> str:
    return _fernet(tuple(settings.VINEX_FIELD_KEYS)).encrypt(value.encode()).decode()


def decrypt(token: str) -> str:
    try:
        return _fernet(tuple(settings.VINEX_FIELD_KEYS)).decrypt(token.encode()).decode()
    except InvalidToken:
        raise ValueError("cannot decrypt: the value was encrypted under a key that is not configured") from None


def rotate(token: str) -> str:
    """Re-encrypt ``token`` under the first (newest) key."""
    return _fernet(tuple(settings.VINEX_FIELD_KEYS)).rotate(token.encode()).decode()


def blind_index(normalised_value: str) -> str:
    """A stable, keyed digest of a normalised value, for equality lookups on encrypted data."""
    primary = settings.VINEX_FIELD_KEYS[0]
    return hmac.new(_index_key(primary), normalised_value.encode(), hashlib.sha256).hexdigest()


class EncryptedTextField(models.TextField):
    """A text column holding a Fernet token; Python code sees the plaintext."""

    def from_db_value(self, value: str | None, expression: Any, connection: Any) -> str | None:
        return None if value is None else decrypt(value)

    def get_prep_value(self, value: Any) -> Any:
        value = super().get_prep_value(value)
        return None if value is None else encrypt(str(value))
