from __future__ import annotations

import base64
import os
import subprocess
import sys

from cryptography.fernet import Fernet


def settings_load(**env: str) -> subprocess.CompletedProcess[str]:
    """Import the settings in a fresh interpreter, as `vinex serve` would at start-up."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("VINEX_", "TWILIO_"))}
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('started')"],
        env={**clean, "DJANGO_SETTINGS_MODULE": "vinex.settings", **env},
        capture_output=True, text=True, timeout=60,
    )


def production_secrets() -> dict[str, str]:
    return {
        "VINEX_SECRET_KEY": "x" * 50,
        "VINEX_FIELD_KEY": Fernet.generate_key().decode(),
        "VINEX_AUDIT_SIGNING_KEY": base64.b64encode(os.urandom(32)).decode(),
    }


def test_production_refuses_to_start_without_secrets(tmp_path: object) -> None:
    result = settings_load(VINEX_ENV="production", VINEX_VAR_DIR=str(tmp_path), VINEX_EMAIL_URL="smtp://127.0.0.1:25")
    assert result.returncode != 0
    assert "production refuses to start without VINEX_SECRET_KEY, VINEX_FIELD_KEY" in result.stderr


def test_production_starts_with_its_secrets(tmp_path: object) -> None:
    result = settings_load(
        VINEX_ENV="production", VINEX_VAR_DIR=str(tmp_path), VINEX_EMAIL_URL="smtp://127.0.0.1:25",
        VINEX_SMS_PROVIDER="log", **production_secrets(),
    )
    assert result.returncode == 0, result.stderr
    assert "started" in result.stdout


def test_a_malformed_field_key_is_refused(tmp_path: object) -> None:
    result = settings_load(VINEX_VAR_DIR=str(tmp_path), VINEX_SECRET_KEY="x" * 50, VINEX_FIELD_KEY="not-a-key")
    assert result.returncode != 0 and "VINEX_FIELD_KEY must be" in result.stderr


def test_twilio_without_credentials_is_refused(tmp_path: object) -> None:
    result = settings_load(VINEX_VAR_DIR=str(tmp_path), VINEX_SMS_PROVIDER="twilio")
    assert result.returncode != 0 and "TWILIO_ACCOUNT_SID" in result.stderr


def test_an_unknown_email_url_scheme_is_refused(tmp_path: object) -> None:
    result = settings_load(VINEX_VAR_DIR=str(tmp_path), VINEX_EMAIL_URL="http://mail.example.org")
    assert result.returncode != 0 and "VINEX_EMAIL_URL" in result.stderr
