from __future__ import annotations

import logging
import re
from typing import Any

import pytest
from django.test import Client

from tests.locator.logs import logged_fields
from tests.locator.people import book
from tests.portal.mail import deliver, last_code, manage_token, messages_to
from tests.support.smtp import SmtpServer
from vinex.custody.models import Agency
from vinex.notify.models import Contact, SubscriptionStatus
from vinex.registrations.models import Registration

pytestmark = pytest.mark.django_db
EMAIL = "ana.victim@example.org"
BY_A_NUMBER = {"kind": "a_number", "a_number-a_number": "A123456789", "a_number-country_of_birth": "MX"}


def text(response: Any) -> str:
    return re.sub(r"\s+", " ", response.content.decode())


def register_link(client: Client) -> str:
    found = re.search(r'href="(/register/\?ref=[^"]+)"', client.post("/search/", BY_A_NUMBER).content.decode())
    assert found, "no register link in the results"
    return found[1].replace("&amp;", "&")


def ref_of(link: str) -> str:
    from urllib.parse import parse_qs, urlparse

    return parse_qs(urlparse(link).query)["ref"][0]


def test_home_and_search_pages_are_in_english_and_spanish(agency: Agency) -> None:
    assert "Find a person in custody" in text(Client().get("/search/"))
    spanish = Client(headers={"Accept-Language": "es-MX,es;q=0.9"})
    assert 'lang="es"' in text(spanish.get("/"))
    assert "Buscar a una persona bajo custodia" in text(spanish.get("/search/"))
    assert "México" in text(spanish.get("/search/"))


def test_the_language_switch_sticks(agency: Agency) -> None:
    client = Client()
    response = client.post("/i18n/setlang/", {"language": "es", "next": "/search/"})
    assert response.status_code == 302
    assert "Buscar a una persona bajo custodia" in text(client.get("/search/"))


def test_search_shows_only_public_fields_and_a_way_to_register(agency: Agency) -> None:
    book(agency, "S-1")
    page = text(Client().post("/search/", BY_A_NUMBER))
    assert "María José García Núñez" in page
    assert "In custody" in page and "Pine County Jail" in page
    assert "1980" not in page and "123456789" not in page.replace("A123456789", "")
    assert "/register/?ref=" in page


def test_partial_names_find_nobody_on_the_page_either(agency: Agency) -> None:
    book(agency, "S-1")
    page = text(Client().post("/search/", {"kind": "name", "name-first_name": "María", "name-last_name": "García",
                                           "name-country_of_birth": "MX"}))
    assert "No one matched" in page
    assert "María José García Núñez" not in page


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"kind": "a_number", "a_number-a_number": "12", "a_number-country_of_birth": "MX"},
         "Un número A tiene 9 dígitos"),
        ({"kind": "a_number", "a_number-a_number": "A123456789", "a_number-country_of_birth": "ZZ"},
         "Elija un país de la lista"),
        ({"kind": "name", "name-first_name": "", "name-last_name": "Núñez", "name-country_of_birth": "MX"},
         "Escriba el nombre"),
        ({"kind": "name", "name-first_name": "Ana", "name-last_name": "Núñez", "name-country_of_birth": "MX",
          "name-date_of_birth": "ayer"}, "Escriba una fecha"),
        ({"kind": "name", "name-first_name": "Ana", "name-last_name": "Núñez", "name-country_of_birth": "MX",
          "name-date_of_birth": "2999-01-01"}, "no puede ser futura"),
        ({"kind": "booking", "booking-agency": "nowhere", "booking-booking_number": "1"}, "Elija una agencia"),
    ],
)
def test_bad_search_input_is_explained_next_to_the_field_in_spanish(agency: Agency, data: dict[str, str],
                                                                    message: str) -> None:
    response = Client(headers={"Accept-Language": "es"}).post("/search/", data)
    assert response.status_code == 422
    page = text(response)
    assert 'class="errorlist"' in page and message in page


def test_an_unknown_search_kind_is_a_400_not_a_500(agency: Agency) -> None:
    assert Client().post("/search/", {"kind": "everyone"}).status_code == 400


def test_portal_searches_are_rate_limited(agency: Agency, settings: Any) -> None:
    settings.VINEX_LOCATOR_SESSION_RATE = "2/minute"
    client = Client()
    codes = [client.post("/search/", BY_A_NUMBER).status_code for _ in range(3)]
    assert codes == [200, 200, 429]
    refused = client.post("/search/", BY_A_NUMBER)
    assert int(refused["Retry-After"]) > 0
    assert "too many searches" in text(refused)
    assert Client(REMOTE_ADDR="198.51.100.4").post("/search/", BY_A_NUMBER).status_code == 200


def test_portal_search_terms_never_reach_the_logs(agency: Agency, caplog: pytest.LogCaptureFixture) -> None:
    book(agency, "S-1")
    caplog.set_level(logging.DEBUG)
    client = Client()
    client.post("/search/", {"kind": "name", "name-first_name": "María José", "name-last_name": "García Núñez",
                             "name-country_of_birth": "MX"})
    client.post("/search/", {"kind": "name", "name-first_name": "Zacarías", "name-last_name": "",
                             "name-country_of_birth": "MX"})
    assert any(getattr(r, "results", None) == 1 for r in caplog.records)
    logged = caplog.text + "".join(logged_fields(r) for r in caplog.records)
    for term in ("María", "García", "Zacar"):
        assert term not in logged


@pytest.mark.parametrize(
    ("data", "field", "message"),
    [
        ({"email": "ana@"}, "email", "Escriba un correo electrónico válido"),
        ({"sms": "12345"}, "sms", "Escriba un número de teléfono válido"),
        ({"voice": "call me"}, "voice", "Escriba un número de teléfono válido"),
        ({"email": EMAIL, "case_number": "x" * 65}, "case_number", "como máximo 64 caracteres"),
        ({"email": EMAIL, "relationship": "landlord"}, "relationship", "Elija una de las relaciones"),
        ({}, None, "Indique al menos una forma de contactarle"),
        ({"voice": "+1 202 555 0143"}, "pin", "Elija un PIN de 4 dígitos"),
        ({"email": EMAIL, "pin": "12"}, "pin", "Un PIN tiene 4 dígitos"),
    ],
)
def test_bad_registration_input_is_explained_next_to_the_field(agency: Agency, data: dict[str, str],
                                                               field: str | None, message: str) -> None:
    book(agency, "S-1")
    client = Client(headers={"Accept-Language": "es"})
    ref = ref_of(register_link(client))
    response = client.post("/register/", {"ref": ref, "language": "es", **data})
    assert response.status_code == 422
    page = text(response)
    assert message in page
    if field:
        assert f'id="id_{field}_error"' in page
        assert re.search(f'aria-describedby="[^"]*id_{field}_error"', page)
    assert not Registration.objects.exists()


def test_an_expired_or_forged_result_asks_to_search_again(agency: Agency) -> None:
    response = Client().post("/register/", {"ref": "forged", "language": "en", "email": EMAIL})
    assert response.status_code == 422
    assert "This search result has expired" in text(response)


def test_register_verify_manage_and_withdraw(agency: Agency, smtp_settings: SmtpServer) -> None:
    book(agency, "S-1")
    client = Client()
    link = register_link(client)
    form = text(client.get(link))
    assert 'name="email"' in form and "Updates about <strong>María José García Núñez</strong>" in form
    response = client.post("/register/", {"ref": ref_of(link), "language": "en", "email": EMAIL,
                                          "relationship": "family"})
    assert response.status_code == 302
    verify_url = response["Location"]
    assert "a•••@example.org" in text(client.get(verify_url))
    assert Client().get(verify_url).status_code == 404  # another browser cannot see it

    deliver()
    verification = Registration.objects.get().verifications.get()
    wrong = client.post(verify_url, {"verification": verification.pk, "code": "000000", "action": "confirm"})
    assert wrong.status_code == 422 and "That code is not right. You can try 4 more times." in text(wrong)
    resend = client.post(verify_url, {"verification": verification.pk, "action": "resend"})
    assert "You can ask for another in" in text(resend)
    done = client.post(verify_url, {"verification": verification.pk, "code": last_code(smtp_settings, EMAIL),
                                    "action": "confirm"}, follow=True)
    assert "You are registered" in text(done)
    assert Registration.objects.get().subscription.status == SubscriptionStatus.ACTIVE

    deliver()
    manager = Client()
    opened = manager.get(f"/manage/?token={manage_token(smtp_settings, EMAIL)}")
    assert opened.status_code == 302 and opened["Location"] == "/manage/"  # the token leaves the address bar
    page = text(manager.get("/manage/"))
    assert "María José García Núñez" in page and "a•••@example.org" in page
    withdraw_url = re.search(r'href="(/manage/[^"]+/withdraw/)"', page)
    assert withdraw_url
    assert "Stop updates about María José García Núñez?" in text(manager.get(withdraw_url[1]))
    assert Client().post(withdraw_url[1]).status_code == 404
    withdrawn = manager.post(withdraw_url[1])
    assert "Your contact details will be deleted by" in text(withdrawn)
    assert Registration.objects.get().subscription.status == SubscriptionStatus.WITHDRAWN
    assert Contact.objects.get().opted_out_at is not None
    assert len(messages_to(smtp_settings, EMAIL)) == 2  # the code (the resend came too soon) and the confirmation


def test_a_bad_manage_link_explains_what_to_do(agency: Agency) -> None:
    response = Client().get("/manage/?token=nonsense")
    assert response.status_code == 404
    assert "Open the link from your confirmation message" in text(response)
