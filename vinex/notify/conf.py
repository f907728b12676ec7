"""Settings of the notify app's delivery safeguards, read from the environment (imported by vinex.settings)."""

from __future__ import annotations

import os

from django.core.exceptions import ImproperlyConfigured

from vinex.core.config import env_float, env_int

# A worker renews the lease on the rows it is sending every third of this; rows whose lease ran out (the
# worker died) go back to the queue, so a crash delays a message by seconds, not minutes.
VINEX_WORKER_HEARTBEAT_LEASE_SECONDS = env_float("VINEX_WORKER_HEARTBEAT_LEASE_SECONDS", default=10.0)
if VINEX_WORKER_HEARTBEAT_LEASE_SECONDS < 1:
    raise ImproperlyConfigured("VINEX_WORKER_HEARTBEAT_LEASE_SECONDS must be at least 1")

# Circuit breaker per provider: this many consecutive provider faults (5xx, timeouts, refused connections)
# open it; sends to that provider pause this long, then one probe message decides whether it closes.
VINEX_BREAKER_FAILURES = env_int("VINEX_BREAKER_FAILURES", default=5)
VINEX_BREAKER_COOLDOWN_SECONDS = env_float("VINEX_BREAKER_COOLDOWN_SECONDS", default=30.0)
# A 429 without a Retry-After header pauses the account this long.
VINEX_PROVIDER_DEFAULT_RETRY_AFTER_SECONDS = env_float("VINEX_PROVIDER_DEFAULT_RETRY_AFTER_SECONDS", default=5.0)
if VINEX_BREAKER_FAILURES < 1 or VINEX_BREAKER_COOLDOWN_SECONDS <= 0:
    raise ImproperlyConfigured("VINEX_BREAKER_FAILURES must be at least 1 and VINEX_BREAKER_COOLDOWN_SECONDS positive")

# Email bounces (VERP): with a domain set, each email's envelope sender is bounces+<token>@<domain>, and
# ``vinex bounces`` (an SMTP listener, on VINEX_BOUNCE_BIND) reads what comes back there: a hard bounce
# marks the address undeliverable and sends the message by the registrant's other contacts. Point the
# domain's MX (or the mail relay's bounce route) at that listener.
VINEX_BOUNCE_DOMAIN = os.environ.get("VINEX_BOUNCE_DOMAIN", "").strip().lower()
VINEX_BOUNCE_BIND = os.environ.get("VINEX_BOUNCE_BIND", "127.0.0.1:2525")
if VINEX_BOUNCE_DOMAIN and ("@" in VINEX_BOUNCE_DOMAIN or "." not in VINEX_BOUNCE_DOMAIN):
    raise ImproperlyConfigured("VINEX_BOUNCE_DOMAIN must be a domain name such as bounces.vinex.example.org")
