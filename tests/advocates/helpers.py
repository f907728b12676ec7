"""Advocate organisations, members and victims registered by them, for the advocates tests."""

from __future__ import annotations

import re

from django.contrib.auth.models import User
from django.test import Client

from tests.accounts.helpers import make_staff, signed_in
from tests.actors import ACTOR
from vinex.accounts import matrix
from vinex.advocates.models import Organisation
from vinex.advocates.services import advocate_register, membership_set, organisation_create
from vinex.custody.models import Agency, Subject
from vinex.locator.selectors import subject_ref_make
from vinex.notify.models import Notification
from vinex.registrations.models import ContactVerification, Registration
from vinex.registrations.services import ContactIn, verification_check


def organisation(code: str, *agencies: Agency) -> Organisation:
    return organisation_create(code=code, name=f"{code.title()} Victim Services", agencies=agencies, actor=ACTOR)


def advocate(username: str, org: Organisation) -> User:
    user = make_staff(username, matrix.ADVOCATE)
    membership_set(user=user, organisation=org, alert_email=f"{username}@advocates.example.org", actor=ACTOR)
    return user


def advocate_client(username: str, org: Organisation) -> tuple[Client, User]:
    user = advocate(username, org)
    return signed_in(user, verified=True), user


def sent_code(verification: ContactVerification) -> str:
    body = Notification.objects.filter(contact=verification.contact, template="verification_code").latest("id").body
    found = re.search(r"\b(\d{6})\b", body) or re.search(r"\b(\d(?:, \d){5})\.", body)  # a call spells it out
    assert found
    return found[1].replace(", ", "")


def register_victim(user: User, org: Organisation, subject: Subject, *contacts: ContactIn, pin: str = "",
                    confirm: bool = True) -> Registration:
    """Register a victim through the advocate service and (by default) confirm every code she received."""
    registration = advocate_register(
        user=user, organisation=org, subject_ref=subject_ref_make(person_id=subject.person_id), language="en",
        contacts=contacts or [ContactIn("email", "vic@example.org")], consent_method="in_person", pin=pin,
    )
    if confirm:
        for verification in registration.verifications.all():
            verification_check(verification=verification, code=sent_code(verification), actor=ACTOR)
        registration.refresh_from_db()
    return registration
