"""Helpers that read and validate configuration from the environment."""

from __future__ import annotations

import ipaddress
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured


def env_bool(name: str, *, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    if raw.lower() in {"1", "true", "yes", "on"}:
        return True
    if raw.lower() in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false), got {raw!r}")


def env_int(name: str, *, default: int) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None


def env_float(name: str, *, default: float) -> float:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        return float(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be a number, got {raw!r}") from None


@dataclass(frozen=True)
class Secrets:
    secret_key: str
    field_keys: tuple[str, ...]


def _validate_field_keys(raw: str) -> tuple[str, ...]:
    keys = tuple(k.strip() for k in raw.split(",") if k.strip())
    for key in keys:
        try:
            Fernet(key)
        except ValueError:
            raise ImproperlyConfigured(
                "VINEX_FIELD_KEY must be one or more comma-separated Fernet keys "
                "(generate one with: vinex keys generate)"
            ) from None
    return keys


def load_secrets(*, production: bool, var_dir: Path) -> Secrets:
    """Secrets come from the environment; production refuses to start without them.

    Outside production a missing secret is generated once and kept in ``var/dev-secrets.json`` so
    that development data stays readable across restarts.
    """
    secret_key = os.environ.get("VINEX_SECRET_KEY", "")
    field_key = os.environ.get("VINEX_FIELD_KEY", "")
    if production:
        missing = [n for n, v in (("VINEX_SECRET_KEY", secret_key), ("VINEX_FIELD_KEY", field_key)) if not v]
        if missing:
            raise ImproperlyConfigured(f"production refuses to start without {', '.join(missing)}")
        return Secrets(secret_key, _validate_field_keys(field_key))
    if not (secret_key and field_key):
        stored = _dev_secrets(var_dir)
        secret_key = secret_key or stored["secret_key"]
        field_key = field_key or stored["field_key"]
    return Secrets(secret_key, _validate_field_keys(field_key))


def _dev_secrets(var_dir: Path) -> dict[str, str]:
    path = var_dir / "dev-secrets.json"
    if path.exists():
        data: dict[str, str] = json.loads(path.read_text())
        return data
    var_dir.mkdir(parents=True, exist_ok=True)
    data = {"secret_key": secrets.token_urlsafe(50), "field_key": Fernet.generate_key().decode()}
    path.write_text(json.dumps(data))
    path.chmod(0o600)
    return data


def bind_is_loopback(bind: str) -> bool:
    """Whether a server bound to ``bind`` (``host:port``, ``[v6]:port`` or ``unix:path``) is reachable only from
    this machine."""
    if bind.startswith("unix:"):
        return True
    host = bind.rsplit(":", 1)[0] if bind.count(":") == 1 or bind.startswith("[") else bind
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name or an interface address: reachable from elsewhere


def environment_check(*, env_set: bool, env: str, debug: bool, bind: str) -> None:
    """Refuse a configuration that would run development settings where others can reach them.

    ``VINEX_DEBUG`` shows stack traces with settings and personal data, so production refuses it; without
    ``VINEX_ENV`` vinex runs in development mode (generated secrets, no HTTPS), so it refuses to listen
    on anything but the loopback interface.
    """
    if env == "production" and debug:
        raise ImproperlyConfigured("VINEX_DEBUG is refused in production: it shows internals to every visitor")
    if not env_set and not bind_is_loopback(bind):
        raise ImproperlyConfigured(
            f"VINEX_ENV is not set, so vinex would run in development mode on {bind}, reachable from other "
            "machines; set VINEX_ENV=production (or VINEX_ENV=development to mean it)")
