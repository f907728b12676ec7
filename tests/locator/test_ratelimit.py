from __future__ import annotations

from typing import Any

import pytest
from django.test import RequestFactory

from vinex.locator.models import RateCounter
from vinex.locator.ratelimit import RetryAfter, client_address, rate_limit_check
from vinex.locator.rates import parse_rate

pytestmark = pytest.mark.django_db
T = 1_800_000_000.0  # a window boundary for every period below


def test_a_key_is_refused_after_its_limit_and_accepted_again_when_retry_after_says() -> None:
    results = [rate_limit_check(key="k", rate="2/minute", now=T + 10) for _ in range(3)]
    assert results == [None, None, RetryAfter(90)]  # three hits at once fade to one allowed after 90 s
    assert rate_limit_check(key="k", rate="2/minute", now=T + 100) is None
    assert rate_limit_check(key="k", rate="2/minute", now=T + 100) is not None


def test_a_new_window_does_not_wipe_the_count() -> None:
    assert rate_limit_check(key="k", rate="2/minute", now=T + 59) is None
    assert rate_limit_check(key="k", rate="2/minute", now=T + 59.5) is None
    refused = rate_limit_check(key="k", rate="2/minute", now=T + 60.5)  # a fixed window would let this in
    assert refused is not None and refused.seconds == 60
    assert rate_limit_check(key="k", rate="2/minute", now=T + 120.5) is None


def test_hits_spread_under_the_rate_are_never_refused() -> None:
    assert all(rate_limit_check(key="k", rate="4/minute", now=T + t) is None for t in range(0, 600, 20))


def test_keys_are_counted_apart_and_stored_only_as_hashes() -> None:
    rate_limit_check(key="locator:ip:198.51.100.7", rate="1/minute", now=T)
    assert rate_limit_check(key="locator:ip:198.51.100.8", rate="1/minute", now=T) is None
    assert not RateCounter.objects.filter(key__contains="198.51").exists()


@pytest.mark.parametrize(("text", "limit", "seconds"), [("30/minute", 30, 60), ("500/day", 500, 86400),
                                                        ("100/5minutes", 100, 300), (" 3 / Hour ", 3, 3600)])
def test_rates_parse(text: str, limit: int, seconds: int) -> None:
    assert parse_rate(text) == (limit, seconds)


@pytest.mark.parametrize("text", ["", "30", "30/fortnight", "0/minute", "-1/minute", "many/minute"])
def test_bad_rates_are_refused(text: str) -> None:
    with pytest.raises(ValueError, match="rate"):
        parse_rate(text)


def test_the_client_address_comes_from_trusted_proxies_only(settings: Any) -> None:
    factory = RequestFactory()
    request = factory.get("/", REMOTE_ADDR="10.0.0.5", HTTP_X_FORWARDED_FOR="6.6.6.6, 203.0.113.7")
    assert client_address(request) == "10.0.0.5"  # no proxy configured: a client cannot pick its address
    settings.VINEX_TRUSTED_PROXY_HOPS = 1
    assert client_address(request) == "203.0.113.7"
    assert client_address(factory.get("/", REMOTE_ADDR="10.0.0.5")) == "10.0.0.5"
