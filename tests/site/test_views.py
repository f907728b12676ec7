from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_healthz_reports_the_database(client: Client) -> None:
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok"}


def test_the_mail_outbox_is_for_signed_in_administrators(client: Client) -> None:
    from tests.accounts.helpers import staff_client

    response = client.get("/staff/outbox/")
    assert response.status_code == 302 and response["Location"].startswith("/staff/login/")
    operator, _ = staff_client("olga", "call_centre")
    assert operator.get("/staff/outbox/").status_code == 403
    admin, _ = staff_client("ada", "administrator")
    assert admin.get("/staff/outbox/").status_code == 200


def test_unknown_api_paths_answer_in_the_error_shape(client: Client) -> None:
    response = client.get("/api/v1/partner/agencies//population.csv")

    assert response.status_code == 404
    assert response.json() == {"detail": [{"loc": ["path"], "msg": "no such endpoint", "type": "not_found"}]}


@pytest.mark.parametrize("method", ["post", "put", "patch", "delete"])
def test_unknown_api_paths_answer_in_the_error_shape_whatever_the_method(method: str) -> None:
    # An API client sends no CSRF token; it must still read a 404 in the API's shape, not Django's CSRF page.
    response = getattr(Client(enforce_csrf_checks=True), method)("/api/v1/events", data="{}",
                                                                   content_type="application/json")

    assert response.status_code == 404
    assert response.json()["detail"][0]["type"] == "not_found"


def test_a_method_an_endpoint_does_not_take_answers_in_the_error_shape(client: Client) -> None:
    response = client.delete("/api/v1/custody-events")

    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert response.json()["detail"][0]["type"] == "method_not_allowed"
