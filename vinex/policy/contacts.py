"""Normalising contact values (E.164 phone numbers, email addresses) before they are stored or looked up."""

from __future__ import annotations

import phonenumbers
from email_validator import EmailNotValidError, validate_email

from vinex.policy.crypto import blind_index

DEFAULT_REGION = "US"


class InvalidContact(ValueError):
    pass


def normalise_phone(value: str, region: str = DEFAULT_REGION) -> str:
    try:
        number = phonenumbers.parse(value, region)
    except phonenumbers.NumberParseException:
        raise InvalidContact("not a phone number") from None
    if not phonenumbers.is_valid_number(number):
        raise InvalidContact("not a valid phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalise_email(value: str) -> str:
    try:
        result = validate_email(value, check_deliverability=False)
    except EmailNotValidError as error:
        raise InvalidContact(str(error)) from None
    return result.normalized.lower()


def normalise_contact(channel: str, value: str) -> str:
    if channel == "email":
        return normalise_email(value)
    if channel in {"sms", "voice"}:
        return normalise_phone(value)
    raise InvalidContact(f"unknown channel {channel!r}")


def contact_index(channel: str, normalised: str) -> str:
    """The blind index a contact value is stored and looked up under (``normalised`` as returned above)."""
    return blind_index(f"{channel}:{normalised}")
