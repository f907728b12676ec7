from __future__ import annotations

import base64
import subprocess
import sys

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from django.core.exceptions import ImproperlyConfigured

from vinex.audit import conf


def raw_key() -> str:
    key = Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.Raw, serialization.PrivateFormat.Raw, serialization.NoEncryption())
    return base64.b64encode(key).decode()


def test_production_refuses_to_start_without_a_signing_key(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VINEX_ENV", "production")
    monkeypatch.delenv("VINEX_AUDIT_SIGNING_KEY", raising=False)
    with pytest.raises(ImproperlyConfigured, match="VINEX_AUDIT_SIGNING_KEY"):
        conf._signing_key()


def test_production_accepts_a_valid_key(monkeypatch: pytest.MonkeyPatch) -> None:
    key = raw_key()
    monkeypatch.setenv("VINEX_ENV", "production")
    monkeypatch.setenv("VINEX_AUDIT_SIGNING_KEY", key)
    assert conf._signing_key() == key


@pytest.mark.parametrize("bad", ["not base64!", base64.b64encode(b"short").decode()])
def test_a_malformed_key_is_refused_at_start_up(monkeypatch: pytest.MonkeyPatch, bad: str) -> None:
    monkeypatch.setenv("VINEX_AUDIT_SIGNING_KEY", bad)
    with pytest.raises(ImproperlyConfigured, match="32-byte Ed25519 key"):
        conf._signing_key()


def test_importing_the_package_does_not_load_models() -> None:
    # Settings and other apps import vinex.audit before Django's app registry is ready.
    code = "import sys, vinex.audit; assert 'vinex.audit.models' not in sys.modules; print('ok')"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert result.stdout.strip() == "ok", result.stderr
