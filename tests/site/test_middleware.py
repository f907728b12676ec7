"""Bodies the API does not take (forms) and errors Django answers itself still come back in the API's
JSON error shape, never as a server error or an HTML page."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db

DATA_REPORTS = "/api/v1/data-reports"


def test_a_multipart_body_is_refused_as_unparsable_not_a_server_error(client: Client) -> None:
    # The form parser (run for the NUL check) used to consume the body the endpoint then read: a 500.
    response = client.post(DATA_REPORTS, data=b"--x\r\nContent-Disposition: form-data; name=\"a\"\r\n\r\nb\r\n--x--",
                           content_type="multipart/form-data; boundary=x")

    assert response.status_code == 400
    assert response.json()["detail"][0]["type"] == "invalid_body"


def test_a_form_the_parser_cannot_read_answers_in_the_error_shape(client: Client) -> None:
    response = client.post(DATA_REPORTS, data=b"garbage", content_type="multipart/form-data")  # no boundary

    assert response.status_code == 400
    assert response["Content-Type"].startswith("application/json")
    assert response.json() == {"detail": [{"loc": [], "msg": "the request could not be read (its body, or a "
                                                              "header such as Host)", "type": "bad_request"}]}


def test_an_url_encoded_form_is_refused_as_unparsable(client: Client) -> None:
    response = client.post(DATA_REPORTS, data=b"subject_ref=x&topic=other",
                           content_type="application/x-www-form-urlencoded")

    assert response.status_code == 400
    assert response.json()["detail"][0]["type"] == "invalid_body"


def test_a_too_large_form_is_413_in_the_error_shape(client: Client, settings: Any) -> None:
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1024
    response = client.post(DATA_REPORTS, data=b"a=" + b"x" * 4096, content_type="application/x-www-form-urlencoded")

    assert response.status_code == 413
    assert response.json()["detail"][0]["type"] == "body_too_large"


def test_a_nul_in_a_form_is_still_refused(client: Client) -> None:
    response = client.post(DATA_REPORTS, data=b"a=%00", content_type="application/x-www-form-urlencoded")

    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "invalid_character"


def test_a_host_django_refuses_answers_in_the_error_shape(client: Client, settings: Any) -> None:
    settings.ALLOWED_HOSTS = ["vinex.example"]
    response = client.get("/api/v1/locator", {"a_number": "123456789"}, headers={"host": "elsewhere.example"})

    assert response.status_code == 400
    assert response.json()["detail"][0]["type"] == "bad_request"


def test_pages_keep_djangos_own_answers(client: Client, settings: Any) -> None:
    settings.ALLOWED_HOSTS = ["vinex.example"]
    response = client.get("/healthz", headers={"host": "elsewhere.example"})

    assert response.status_code == 400
    assert not response["Content-Type"].startswith("application/json")
