from __future__ import annotations

import pytest
from django.test import Client

pytestmark = pytest.mark.django_db


def test_nul_in_an_api_query_is_a_field_error(client: Client) -> None:
    response = client.get("/api/v1/locator?first_name=Ana%00&last_name=Ruiz&country_of_birth=MX")
    assert response.status_code == 422
    assert response.json()["detail"][0] == {"loc": ["query", "first_name"], "msg": "NUL characters are not allowed",
                                            "type": "invalid_character"}


def test_nul_in_a_form_is_a_400_on_pages_too(client: Client) -> None:
    assert client.post("/search/", {"last_name": "Ruiz\x00"}).status_code == 400


def test_ordinary_requests_pass(client: Client) -> None:
    assert client.get("/healthz?probe=1").status_code == 200


def test_nul_in_an_api_path_is_a_field_error(client: Client) -> None:
    response = client.get("/api/v1/partner/agencies/%00/population.csv", {"purpose": "court"})
    assert response.status_code == 422
    assert response.json()["detail"][0] == {"loc": ["path"], "msg": "NUL characters are not allowed",
                                            "type": "invalid_character"}
