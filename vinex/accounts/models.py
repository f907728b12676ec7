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
