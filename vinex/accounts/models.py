"""Staff accounts: Django users whose roles are Groups (see matrix.ROLES), and operators' agencies."""

from __future__ import annotations

from django.conf import settings
from django.db import models

from vinex.custody.models import Agency


class AgencyMembership(models.Model):
    """The one agency an agency operator works for; their agency pages show only its data."""

    user = models.OneToOneField(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="agency_membership")
    agency = models.ForeignKey(Agency, on_delete=models.CASCADE, related_name="staff_memberships")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"{self.user_id} → {self.agency.code}"


class TwoPersonRequest(models.Model):
    """The first administrator's half of a change that takes two (un-protecting a subject): it waits until a
    different administrator makes the same change, which then takes effect and names both in the audit log."""

    model = models.CharField(max_length=100, help_text="app_label.model of the object to change")
    object_id = models.CharField(max_length=64)
    change = models.CharField(max_length=64, help_text="what is asked, e.g. 'protected: True → False'")
    requested_by = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    requested_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["model", "object_id", "change", "requested_by"],
                                               name="two_person_request_once_per_administrator")]

    def __str__(self) -> str:
        return f"{self.model}:{self.object_id} {self.change} (asked by {self.requested_by_id})"
