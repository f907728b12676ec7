"""No form or model of the hotline has a place for immigration status, nationality or address."""

from __future__ import annotations

import pytest
from django import forms

from vinex.hotline.forms import (
    CallbackDoneForm,
    CallbackForm,
    CodeForm,
    EndCallForm,
    HotlineRegistrationForm,
    IntakeForm,
)
from vinex.hotline.models import Callback, HotlineCall
from vinex.policy.crypto import EncryptedTextField

FORBIDDEN = ("immigra", "status_migr", "nationality", "citizenship", "country", "address", "visa", "alien")


def _names(form: forms.Form) -> list[str]:
    return [*form.fields, *(str(f.label).lower() for f in form.fields.values())]


def test_the_intake_form_asks_only_name_language_and_notes() -> None:
    assert list(IntakeForm().fields) == ["caller_name", "language", "notes"]


@pytest.mark.parametrize("form_class", [IntakeForm, HotlineRegistrationForm, CallbackForm, CallbackDoneForm,
                                        EndCallForm, CodeForm])
def test_no_form_has_a_field_for_immigration_status_nationality_or_address(form_class: type[forms.Form]) -> None:
    for name in _names(form_class()):
        name = name.lower().replace("email address", "email")  # the registrant's own email address is a contact
        assert not any(word in name for word in FORBIDDEN), name


@pytest.mark.parametrize("model", [HotlineCall, Callback])
def test_no_model_has_such_a_field_and_free_text_is_encrypted_personal_data(
        model: type[HotlineCall | Callback]) -> None:
    names = [f.name for f in model._meta.get_fields()]
    assert not [n for n in names if any(word in n.lower() for word in FORBIDDEN)]
    for name in model.personal_data_fields:
        assert isinstance(model._meta.get_field(name), EncryptedTextField)
