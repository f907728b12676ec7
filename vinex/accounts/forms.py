"""Sign-in and enrolment forms, built on django-otp."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.signals import user_login_failed
from django_otp.forms import OTPAuthenticationForm
from django_otp.plugins.otp_totp.models import TOTPDevice


class StaffLoginForm(OTPAuthenticationForm):
    """Username, password and one-time code in one step.

    A user who has not enrolled yet signs in with the password alone and ``needs_enrolment`` is set;
    such a session can only reach the enrolment page. A wrong code counts as a failed sign-in, so it
    brings the account closer to lockout just as a wrong password does.
    """

    otp_token = forms.CharField(
        required=False, label="One-time code", max_length=8,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )

    needs_enrolment = False

    def clean(self) -> dict[str, Any]:
        # Password first (django-axes counts failures there), then the code against the user's own device.
        self.cleaned_data = super(OTPAuthenticationForm, self).clean()
        user = self.get_user()
        device = TOTPDevice.objects.filter(user=user, confirmed=True).order_by("pk").first()
        if device is None:
            self.needs_enrolment = True
            return self.cleaned_data
        self.cleaned_data["otp_device"] = device.persistent_id
        try:
            self.clean_otp(user)
        except forms.ValidationError:
            user_login_failed.send(
                sender=__name__, credentials={"username": user.get_username()}, request=self.request,
            )
            raise
        return self.cleaned_data


class TokenForm(forms.Form):
    token = forms.CharField(
        label="Code from the app", max_length=8,
        widget=forms.TextInput(attrs={"autocomplete": "one-time-code", "inputmode": "numeric"}),
    )
