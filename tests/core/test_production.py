"""Production switches (issue 15, item 16): HTTPS settings, refusals at start-up, the API docs page, and the
Content-Security-Policy and Permissions-Policy headers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from django.test import Client

from tests.core.test_config import production_secrets, settings_load
from tests.support.smtp import free_port
from vinex.core.config import bind_is_loopback

SHOW = ("import django, json; django.setup(); from django.conf import settings as s; "
        "print(json.dumps([s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, s.SECURE_PROXY_SSL_HEADER]))")


def run(code: str, tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("VINEX_", "TWILIO_"))}
    return subprocess.run([sys.executable, "-c", code], env={**clean, "DJANGO_SETTINGS_MODULE": "vinex.settings",
                                                             "VINEX_VAR_DIR": str(tmp_path), **env},
                          capture_output=True, text=True, timeout=60)


def production(**env: str) -> dict[str, str]:
    return {"VINEX_ENV": "production", "VINEX_EMAIL_URL": "smtp://127.0.0.1:25", "VINEX_SMS_PROVIDER": "log",
            "VINEX_PUBLIC_URL": "https://vinex.example.org", **production_secrets(), **env}


def test_production_behind_https_redirects_and_sends_hsts_by_default(tmp_path: Path) -> None:
    result = run(SHOW, tmp_path, **production())
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [True, 31_536_000, ["HTTP_X_FORWARDED_PROTO", "https"]]


def test_the_https_switches_can_be_set(tmp_path: Path) -> None:
    result = run(SHOW, tmp_path, **production(VINEX_SSL_REDIRECT="0", VINEX_HSTS_SECONDS="600",
                                              VINEX_PROXY_SSL_HEADER="none"))
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [False, 600, None]


def test_development_keeps_the_https_switches_off(tmp_path: Path) -> None:
    result = run(SHOW, tmp_path)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == [False, 0, None]


def test_debug_is_refused_in_production(tmp_path: Path) -> None:
    result = settings_load(VINEX_VAR_DIR=str(tmp_path), VINEX_DEBUG="1", **production())
    assert result.returncode != 0 and "VINEX_DEBUG is refused in production" in result.stderr


def test_without_vinex_env_a_non_loopback_bind_refuses_to_start(tmp_path: Path) -> None:
    refused = settings_load(VINEX_VAR_DIR=str(tmp_path), VINEX_BIND="0.0.0.0:8000")
    assert refused.returncode != 0 and "VINEX_ENV is not set" in refused.stderr
    meant = settings_load(VINEX_VAR_DIR=str(tmp_path), VINEX_BIND="0.0.0.0:8000", VINEX_ENV="development")
    assert meant.returncode == 0, meant.stderr
    assert settings_load(VINEX_VAR_DIR=str(tmp_path), VINEX_BIND="[::1]:8000").returncode == 0


def test_serve_refuses_a_non_loopback_bind_without_vinex_env(tmp_path: Path) -> None:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("VINEX_", "TWILIO_"))}
    result = subprocess.run([sys.executable, "-m", "vinex.cli", "serve", "--bind", f"0.0.0.0:{free_port()}"],
                            env={**clean, "VINEX_VAR_DIR": str(tmp_path)}, capture_output=True, text=True,
                            timeout=60)
    assert result.returncode != 0 and "VINEX_ENV is not set" in result.stderr


@pytest.mark.parametrize(("bind", "local"), [
    ("127.0.0.1:8000", True), ("localhost:8000", True), ("[::1]:8000", True), ("unix:/run/vinex.sock", True),
    ("0.0.0.0:8000", False), ("[::]:8000", False), ("192.0.2.10:8000", False), ("vinex.example.org:80", False),
])
def test_which_binds_are_loopback(bind: str, local: bool) -> None:
    assert bind_is_loopback(bind) is local


def test_the_api_docs_page_can_be_turned_off(tmp_path: Path) -> None:
    code = ("import django; django.setup(); from django.test import Client; "
            "print(Client().get('/api/v1/docs').status_code, Client().get('/api/v1/openapi.json').status_code)")
    assert run(code, tmp_path).stdout.split() == ["200", "200"]
    assert run(code, tmp_path, VINEX_API_DOCS="0").stdout.split() == ["404", "200"]


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/", "/search/", "/staff/login/", "/api/v1/locator", "/api/v1/docs", "/healthz"])
def test_every_response_carries_a_content_security_policy_and_permissions_policy(path: str) -> None:
    response = Client().get(path)
    policy = response["Content-Security-Policy"]
    assert "script-src 'self'" in policy and "frame-ancestors 'none'" in policy and "unsafe-eval" not in policy
    assert "camera=()" in response["Permissions-Policy"] and "geolocation=()" in response["Permissions-Policy"]


@pytest.mark.django_db
def test_the_api_docs_page_loads_its_scripts_from_vinex_itself() -> None:
    page = Client().get("/api/v1/docs").content.decode()
    assert "/static/ninja/swagger-ui-bundle.js" in page and "cdn." not in page


# --- PostgreSQL connection options -------------------------------------------------------------------------

SHOW_DB_OPTIONS = ("import django, json; django.setup(); from django.conf import settings as s; "
                   "print(json.dumps(s.DATABASES['default']['OPTIONS']))")
POSTGRES_URL = "postgres://vinex:secret@db.example.org:5432/vinex?sslmode=verify-full"


def test_postgresql_prepares_statements_and_keeps_the_url_s_options(tmp_path: Path) -> None:
    result = run(SHOW_DB_OPTIONS, tmp_path, VINEX_DATABASE_URL=POSTGRES_URL)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"server_side_binding": True, "prepare_threshold": 2,
                                         "sslmode": "verify-full"}


def test_prepared_statements_can_be_turned_off_for_a_pooler_that_cannot_carry_them(tmp_path: Path) -> None:
    result = run(SHOW_DB_OPTIONS, tmp_path, VINEX_DATABASE_URL=POSTGRES_URL, VINEX_DB_PREPARE="0")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"sslmode": "verify-full"}
