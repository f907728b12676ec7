"""``vinex feeds connector add|test|enable``: the same onboarding from the command line."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from tests.actors import ACTOR
from tests.feeds.connectors.replay import ReplayServer, inmates, jailtracker_route
from vinex.custody.models import Agency, CustodyEvent, Subject
from vinex.feeds.connectors import pull_sources_run_due
from vinex.feeds.models import PullSource

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("feeds", "connector", *args, stdout=out, stderr=io.StringIO())
    return out.getvalue()


def test_add_test_enable_then_the_scheduler_pulls(agency: Agency, server: ReplayServer,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    server.routes[("GET", "/GetInmates")] = jailtracker_route(lambda: inmates(3))
    monkeypatch.setenv("PINE_KEY", "secret-key")
    added = run("add", "--facility", "pine/main", "--kind", "jailtracker", "--location", f"{server.base}/GetInmates",
                "--every", "15", "--settings", '{"page_size": 10}', "--auth-header", "X-Api-Key",
                "--secret-env", "PINE_KEY")
    source = PullSource.objects.get()
    assert f"source {source.pk}: jailtracker for pine/main, off until enabled" in added
    assert (source.enabled, source.interval_seconds, source.auth_header_value) == (False, 900, "secret-key")
    assert pull_sources_run_due(now=timezone.now(), actor=ACTOR) == 0  # off

    tested = run("test", str(source.pk))
    assert "would be applied: 3 booked, 0 released, 0 transferred" in tested
    assert "identity: people keyed by the agency's own person number (3)" in tested
    assert not CustodyEvent.objects.exists()
    assert server.requests[0][2]["X-Api-Key"] == "secret-key"

    assert f"source {source.pk} is on" in run("enable", str(source.pk))
    assert pull_sources_run_due(now=timezone.now(), actor=ACTOR) == 1
    assert Subject.objects.filter(status="IN_CUSTODY").count() == 3


@pytest.mark.parametrize(("args", "message"), [
    (("--facility", "pine/nowhere", "--kind", "zuercher", "--location", "https://x.example.org"),
     "no facility 'pine/nowhere'"),
    (("--facility", "pine/main", "--kind", "zuercher", "--location", "https://x.example.org", "--settings",
      '{"page_size": 5}'), "page_size: Input should be greater than or equal to 10"),
    (("--facility", "pine/main", "--kind", "sftp", "--location", "https://x.example.org", "--settings",
      '{"host_key": "ssh-ed25519 AAAA"}'), "an SFTP source needs an address like sftp://user@host:22/outgoing"),
])
def test_bad_sources_are_refused_with_the_reason(agency: Agency, args: tuple[str, ...], message: str) -> None:
    with pytest.raises(CommandError, match=message.replace("(", r"\(").replace(")", r"\)")):
        run("add", *args)
    assert not PullSource.objects.exists()


def test_a_failing_dry_run_says_why(agency: Agency, settings: Any) -> None:
    settings.VINEX_CONNECTOR_ALLOW_PRIVATE = False
    run("add", "--facility", "pine/main", "--kind", "zuercher", "--location", "https://127.0.0.1:9")
    out = io.StringIO()
    with pytest.raises(CommandError, match="the dry run failed"):
        call_command("feeds", "connector", "test", str(PullSource.objects.get().pk), stdout=out)
    assert "127.0.0.1 is a private, loopback or link-local address; refused" in out.getvalue()
