"""The admin site's user form records the roles it grants and revokes, as done by the administrator."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.contrib.auth.admin import UserAdmin
from django.contrib.auth.models import Group, User
from django.forms import ModelForm
from django.http import HttpRequest, HttpResponse

from vinex.accounts import selectors
from vinex.accounts.admin_audit import admin_actor
from vinex.accounts.services import roles_audit
from vinex.audit.unit import Actor, audit_unit


class AuditedUserAdmin(UserAdmin):
    def save_related(self, request: HttpRequest, form: ModelForm[User], formsets: Any, change: bool) -> None:
        user = form.instance
        before = set(Group.objects.filter(user=user)) if change else set()
        actor = Actor.staff(selectors.actor_ref(user=request.user),
                            selectors.role_label(roles=selectors.user_roles(user=request.user)))
        with audit_unit(actor=actor) as unit:
            super().save_related(request, form, formsets, change)
            after = set(Group.objects.filter(user=user))
            roles_audit(unit=unit, user_pk=user.pk, granted=after - before, revoked=before - after)

    def user_change_password(self, request: HttpRequest, id: str, form_url: str = "") -> HttpResponse:
        """Django's password form, with a successful change (answered by a redirect) audited, never the password."""
        with audit_unit(actor=admin_actor(request)) as unit:
            response = super().user_change_password(request, id, form_url)
            if request.method == "POST" and response.status_code == 302:
                unit.add("password_change", "user", id, purpose="set by an administrator")
        return response


admin.site.unregister(User)
admin.site.register(User, AuditedUserAdmin)
