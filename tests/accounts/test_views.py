"""Signing in with password and one-time code, first-time enrolment, lockout, the staff home page."""

from __future__ import annotations

import base64
import re

import pytest
from django.test import Client
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests.accounts.helpers import PASSWORD, add_device, code_for, make_staff, signed_in
from vinex.accounts import matrix

LOGIN = "/staff/login/"


def _login(client: Client, username: str, password: str = PASSWORD, code: str = "", next_url: str = ""):
    return client.post(LOGIN, {"username": username, "password": password, "otp_token": code, "next": next_url})


@pytest.fixture
def enrolled(db: None) -> TOTPDevice:
    return add_device(make_staff("robin", matrix.PRIVACY_OFFICER, password=PASSWORD))


def test_password_and_code_open_the_staff_pages(enrolled: TOTPDevice) -> None:
    client = Client()
    response = _login(client, "robin", code=code_for(enrolled))
    assert response.status_code == 302
    assert response["Location"] == "/staff/"
    assert client.get("/staff/").status_code == 200


def test_the_password_alone_does_not_get_an_enrolled_user_in(enrolled: TOTPDevice) -> None:
    client = Client()
    response = _login(client, "robin")
    assert response.status_code == 200
    assert "Please enter your OTP token" in response.content.decode()
    assert client.get("/staff/")["Location"].startswith("/staff/login/")


def test_a_wrong_code_is_refused(enrolled: TOTPDevice) -> None:
    client = Client()
    wrong = f"{(int(code_for(enrolled)) + 1) % 1_000_000:06d}"
    response = _login(client, "robin", code=wrong)
    assert response.status_code == 200
    assert "Invalid token" in response.content.decode()
    assert client.get("/staff/").status_code == 302


def test_a_code_cannot_be_used_twice(enrolled: TOTPDevice) -> None:
    code = code_for(enrolled)
    assert _login(Client(), "robin", code=code).status_code == 302
    assert _login(Client(), "robin", code=code).status_code == 200


def test_sign_in_returns_to_the_page_asked_for(enrolled: TOTPDevice) -> None:
    client = Client()
    response = _login(client, "robin", code=code_for(enrolled), next_url="/staff/privacy/queue/")
    assert response["Location"] == "/staff/privacy/queue/"


def test_first_sign_in_enrols_an_app_and_later_sign_ins_need_its_code(db: None) -> None:
    make_staff("casey", matrix.ADMINISTRATOR, password=PASSWORD)
    client = Client()
    response = _login(client, "casey")
    assert response["Location"].startswith("/staff/enrol/")
    # Signed in by password only: enrolment is the one page open.
    assert client.get("/staff/")["Location"].startswith("/staff/enrol/")
    assert client.get("/admin/")["Location"].startswith("/staff/enrol/")

    page = client.get("/staff/enrol/").content.decode()
    assert "<svg" in page
    found = re.search(r'id="totp-secret">([A-Z2-7]+)<', page)
    assert found is not None
    secret = found.group(1)
    device = TOTPDevice.objects.get(user__username="casey", confirmed=False)
    assert secret == base64.b32encode(device.bin_key).decode()

    response = client.post("/staff/enrol/", {"token": code_for(device)})
    assert response["Location"] == "/staff/"
    assert client.get("/admin/").status_code == 200

    client.post("/staff/logout/")
    assert client.get("/staff/")["Location"].startswith("/staff/login/")
    assert _login(Client(), "casey").status_code == 200  # the password alone no longer gets in
    fresh = Client()
    # The code just used to enrol cannot be replayed; the app's next code works.
    assert _login(fresh, "casey", code=code_for(device, offset_steps=1))["Location"] == "/staff/"
    assert fresh.get("/admin/").status_code == 200


def test_enrolment_refuses_a_wrong_code_and_stays_pending(db: None) -> None:
    user = make_staff("casey", matrix.ADMINISTRATOR)
    client = signed_in(user, verified=False)
    client.get("/staff/enrol/")
    device = TOTPDevice.objects.get(user=user)
    wrong = f"{(int(code_for(device)) + 1) % 1_000_000:06d}"
    response = client.post("/staff/enrol/", {"token": wrong})
    assert "That code did not match" in response.content.decode()
    assert not TOTPDevice.objects.get(pk=device.pk).confirmed
    assert client.get("/staff/")["Location"].startswith("/staff/enrol/")


def test_the_enrolment_page_cannot_add_a_device_to_an_enrolled_account(enrolled: TOTPDevice) -> None:
    client = signed_in(enrolled.user, verified=False)
    response = client.get("/staff/enrol/")
    assert response["Location"] == LOGIN
    assert TOTPDevice.objects.filter(user=enrolled.user).count() == 1


def test_the_enrolment_page_needs_the_password_first(db: None) -> None:
    assert Client().get("/staff/enrol/")["Location"].startswith(LOGIN)


def test_sign_out_ends_the_session(enrolled: TOTPDevice) -> None:
    client = signed_in(enrolled.user, verified=True)
    assert client.get("/staff/").status_code == 200
    client.post("/staff/logout/")
    assert client.get("/staff/")["Location"].startswith(LOGIN)


def test_the_sixth_attempt_after_five_failures_is_refused_even_with_the_right_password(enrolled: TOTPDevice) -> None:
    for _ in range(5):
        assert _login(Client(), "robin", password="not the password").status_code in (200, 429)
    client = Client()
    response = _login(client, "robin", code=code_for(enrolled))
    assert response.status_code == 429
    assert "Account locked" in response.content.decode()
    assert client.get("/staff/")["Location"].startswith(LOGIN)


def test_wrong_codes_count_towards_the_lockout(enrolled: TOTPDevice) -> None:
    wrong = f"{(int(code_for(enrolled)) + 1) % 1_000_000:06d}"
    for _ in range(5):
        _login(Client(), "robin", code=wrong)
    assert _login(Client(), "robin", code=code_for(enrolled)).status_code == 429


def test_a_successful_sign_in_clears_earlier_failures(enrolled: TOTPDevice) -> None:
    for _ in range(4):
        _login(Client(), "robin", password="not the password")
    assert _login(Client(), "robin", code=code_for(enrolled)).status_code == 302
    for _ in range(4):
        _login(Client(), "robin", password="not the password")
    assert _login(Client(), "robin", code=code_for(enrolled, offset_steps=1)).status_code == 302


def test_one_locked_account_does_not_lock_another(enrolled: TOTPDevice) -> None:
    other = add_device(make_staff("sam", matrix.AUDITOR, password=PASSWORD))
    for _ in range(5):
        _login(Client(), "robin", password="not the password")
    assert _login(Client(), "sam", code=code_for(other)).status_code == 302


def test_the_home_page_lists_the_pages_of_the_users_role(db: None) -> None:
    admin_page = signed_in(make_staff("ada", matrix.ADMINISTRATOR), verified=True).get("/staff/").content.decode()
    operator_page = signed_in(make_staff("oli", matrix.AGENCY_OPERATOR), verified=True).get("/staff/").content.decode()
    assert 'href="/staff/outbox/"' in admin_page
    assert 'href="/admin/"' in admin_page
    assert 'href="/staff/outbox/"' not in operator_page
    assert 'href="/admin/"' not in operator_page


def test_a_missing_username_is_pointed_out(db: None) -> None:
    response = Client().post(LOGIN, {"username": "", "password": "x", "otp_token": ""})
    assert response.status_code == 200
    assert "This field is required" in response.content.decode()
