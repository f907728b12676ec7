"""A connector is no way into the hosting network: private addresses refused, no redirect to another host,
an agency's key never sent anywhere else."""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from tests.actors import ACTOR
from tests.feeds.connectors.replay import Answer, ReplayServer, inmates, vinex_csv
from vinex.custody.models import Agency, Facility, Subject
from vinex.feeds.connectors import pull_source_run
from vinex.feeds.connectors.base import ConnectorError
from vinex.feeds.connectors.http import address_check
from vinex.feeds.models import PullSource

pytestmark = pytest.mark.django_db


def https_source(location: str) -> PullSource:
    return PullSource.objects.create(facility=Facility.objects.get(code="main"), kind="https", location=location,
                                     auth_header_name="X-Api-Key", auth_header_value="secret-key")


def pull(source: PullSource) -> int:
    return pull_source_run(source=source, now=timezone.now(), actor=ACTOR)


def test_a_redirect_to_another_host_is_refused_and_the_key_goes_nowhere(agency: Agency, server: ReplayServer) -> None:
    elsewhere = ReplayServer()
    try:
        # "localhost" and "127.0.0.1" are different hosts to a browser and to the connector alike.
        target = elsewhere.base.replace("127.0.0.1", "localhost") + "/steal"
        server.routes[("GET", "/roster.csv")] = lambda *args: Answer(302, b"", {"Location": target})
        source = https_source(f"{server.base}/roster.csv")
        assert pull(source) == 0
        assert source.last_error == "the source redirected to another host (localhost); refused"
        assert elsewhere.requests == []
    finally:
        elsewhere.close()


def test_a_redirect_on_the_same_host_is_followed_with_the_key(agency: Agency, server: ReplayServer) -> None:
    server.routes[("GET", "/old.csv")] = lambda *args: Answer(301, b"", {"Location": "/new.csv"})
    server.routes[("GET", "/new.csv")] = lambda *args: Answer(200, vinex_csv(inmates(2)), {"Content-Type": "text/csv"})
    assert pull(https_source(f"{server.base}/old.csv")) == 1
    assert [r[2].get("X-Api-Key") for r in server.requests] == ["secret-key", "secret-key"]
    assert Subject.objects.count() == 2


def test_loopback_is_refused_unless_allowed(agency: Agency, server: ReplayServer, settings: Any) -> None:
    settings.VINEX_CONNECTOR_ALLOW_PRIVATE = False
    server.routes[("GET", "/roster.csv")] = lambda *args: Answer(200, vinex_csv(inmates(2)))
    source = https_source(f"{server.base}/roster.csv")
    assert pull(source) == 0
    assert source.last_error == "127.0.0.1 is a private, loopback or link-local address; refused"
    assert server.requests == []
    settings.VINEX_CONNECTOR_ALLOWED_NETWORKS = ("127.0.0.0/8",)  # e.g. an agency gateway on this machine
    source.next_run_at = None
    assert pull(source) == 1


@pytest.mark.parametrize("address", [
    "https://169.254.169.254/latest/meta-data/", "https://10.0.0.8/roster.csv", "https://[fe80::1]/roster.csv",
    "https://192.168.1.20/roster.csv", "https://[::1]/roster.csv", "https://0.0.0.0/roster.csv",
])
def test_private_and_link_local_addresses_are_refused(settings: Any, address: str) -> None:
    settings.VINEX_CONNECTOR_ALLOW_PRIVATE = False
    with pytest.raises(ConnectorError, match="refused"):
        address_check(address)


def test_plain_http_elsewhere_is_refused() -> None:
    with pytest.raises(ConnectorError, match="roster addresses must use https://"):
        address_check("http://roster.example.org/x.csv")


def test_an_unchanged_export_is_not_fetched_again_when_the_server_knows_if_modified_since(
        agency: Agency, server: ReplayServer) -> None:
    stamp = "Fri, 04 Dec 2026 08:00:00 GMT"

    def answer(path: str, query: Any, body: Any) -> Answer:
        if server.requests[-1][2].get("If-Modified-Since") == stamp:
            return Answer(304)
        return Answer(200, vinex_csv(inmates(2)), {"Content-Type": "text/csv", "Last-Modified": stamp})

    server.routes[("GET", "/roster.csv")] = answer
    source = https_source(f"{server.base}/roster.csv")
    assert pull(source) == 1 and source.last_modified == stamp
    assert pull(source) == 0 and source.failures == 0
    assert [r[2].get("If-Modified-Since") for r in server.requests] == [None, stamp]
