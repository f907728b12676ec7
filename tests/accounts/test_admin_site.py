"""The admin site admits only users verified by a one-time code and signs in through /staff/login/."""

from __future__ import annotations

from django.contrib.auth.models import AnonymousUser
from django.test import RequestFactory
from django_otp.middleware import OTPMiddleware

from tests.accounts.helpers import add_device, make_staff
from vinex.accounts import matrix
from vinex.accounts.admin_site import VinexAdminSite


def _request(user, *, device=None):
    request = RequestFactory().get("/admin/")
    request.user = user
    request.session = {"otp_device_id": device.persistent_id} if device else {}
    request.user = OTPMiddleware(lambda r: None)._verify_user(request, user)
    return request


def test_an_administrator_signed_in_by_password_alone_is_not_admitted(db: None) -> None:
    admin = make_staff("ada", matrix.ADMINISTRATOR)
    add_device(admin)
    assert not VinexAdminSite().has_permission(_request(admin))


def test_an_administrator_verified_by_a_code_is_admitted(db: None) -> None:
    admin = make_staff("ada", matrix.ADMINISTRATOR)
    assert VinexAdminSite().has_permission(_request(admin, device=add_device(admin)))


def test_other_staff_are_not_admitted_even_with_a_code(db: None) -> None:
    auditor = make_staff("aud", matrix.AUDITOR)
    assert auditor.is_staff
    assert not VinexAdminSite().has_permission(_request(auditor, device=add_device(auditor)))


def test_the_admin_login_sends_people_to_the_staff_sign_in(db: None) -> None:
    request = RequestFactory().get("/admin/login/?next=/admin/custody/")
    request.user = AnonymousUser()
    response = VinexAdminSite().login(request)
    assert response.status_code == 302
    assert response["Location"] == "/staff/login/?next=%2Fadmin%2Fcustody%2F"
