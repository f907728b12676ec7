"""The WSGI application runs API requests through the API's middleware and pages through the whole list."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any
from wsgiref.util import setup_testing_defaults

import pytest
from django.conf import settings as django_settings
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client

from vinex.custody.models import Agency
from vinex.wsgi import application

pytestmark = pytest.mark.django_db

SECURITY_HEADERS = ("Content-Security-Policy", "Permissions-Policy", "X-Content-Type-Options", "X-Frame-Options",
                    "Referrer-Policy", "Cross-Origin-Opener-Policy")


def wsgi_call(method: str, path: str, body: bytes = b"", query: str = "",
              **headers: str) -> tuple[int, dict[str, list[str]], bytes]:
    """``path`` asked of the WSGI application the server runs: status, headers (by lower-case name), body."""
    environ: dict[str, Any] = {"REQUEST_METHOD": method, "PATH_INFO": path, "QUERY_STRING": query,
                               "wsgi.input": io.BytesIO(body),
                               "CONTENT_LENGTH": str(len(body)), "SERVER_NAME": "testserver",
                               "HTTP_HOST": "testserver"}
    environ.update({f"HTTP_{name.upper()}": value for name, value in headers.items()})
    if "HTTP_CONTENT_TYPE" in environ:
        environ["CONTENT_TYPE"] = environ.pop("HTTP_CONTENT_TYPE")
    setup_testing_defaults(environ)
    answer: dict[str, Any] = {}

    def start_response(status: str, response_headers: list[tuple[str, str]], exc_info: Any = None,
                       /) -> Callable[[bytes], object]:
        answer["status"] = int(status.split()[0])
        answer["headers"] = {}
        for name, value in response_headers:
            answer["headers"].setdefault(name.lower(), []).append(value)
        return io.BytesIO().write  # the body comes back from the call, not through write()

    # As Django's test client does: closing "old" connections at the request's ends would close the test's.
    for signal in (request_started, request_finished):
        signal.disconnect(close_old_connections)
    try:
        chunks = application(environ, start_response)
        try:
            content = b"".join(chunks)
        finally:
            getattr(chunks, "close", lambda: None)()
    finally:
        for signal in (request_started, request_finished):
            signal.connect(close_old_connections)
    return answer["status"], answer["headers"], content


@pytest.mark.parametrize(("method", "path", "body"), [
    ("GET", "/api/v1/openapi.json", b""),
    ("POST", "/api/v1/custody-events", b'{"events": []}'),  # no key: 401
    ("GET", "/api/v1/no-such-thing", b""),
    ("POST", "/api/v1/registrations", b"{not json"),
    ("GET", "/api/v1/docs", b""),
])
def test_an_api_request_answers_as_it_would_through_the_whole_middleware_list(method: str, path: str,
                                                                               body: bytes) -> None:
    status, headers, content = wsgi_call(method, path, body, content_type="application/json")
    whole = Client().generic(method, path, body, content_type="application/json")

    assert (status, content) == (whole.status_code, whole.content)
    assert set(headers) == {name.lower() for name in whole.headers}
    for name in SECURITY_HEADERS:
        assert headers[name.lower()] == [whole.headers[name]]


def test_a_locator_search_through_the_api_counts_in_the_session_the_client_carries(agency: Agency,
                                                                                   settings: Any) -> None:
    settings.VINEX_LOCATOR_SESSION_RATE = "2/minute"
    browser = Client()
    browser.post("/search/", {"kind": "a_number", "a_number-a_number": "A123456789",
                              "a_number-country_of_birth": "MX"})  # the page's search starts a session
    cookie = f"{django_settings.SESSION_COOKIE_NAME}={browser.cookies[django_settings.SESSION_COOKIE_NAME].value}"

    codes = [wsgi_call("GET", "/api/v1/locator", query="a_number=123456789&country_of_birth=MX", cookie=cookie)[0]
             for _ in range(2)]

    assert codes == [200, 429]


def test_pages_keep_the_browser_middleware() -> None:
    status, headers, content = wsgi_call("GET", "/register/")
    assert status == 200
    assert any(cookie.strip().startswith("csrftoken=") for cookie in headers["set-cookie"])
    assert b"csrfmiddlewaretoken" in content

    refused, _, _ = wsgi_call("POST", "/register/", b"first_name=A",
                              content_type="application/x-www-form-urlencoded")
    assert refused == 403  # no CSRF token
