"""Audit records for sign-ins, failed sign-ins and role changes (recorded through vinex.audit)."""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser, Group
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.db.models.signals import m2m_changed
from django.http import HttpRequest

from vinex.accounts import selectors
from vinex.audit.actor import acting
from vinex.audit.services import audit_record


def _record(**fields: str) -> None:
    audit_record(**fields)


def _role_of(user: AbstractBaseUser) -> str:
    return selectors.role_label(roles=selectors.user_roles(user=user))


def record_refusal(*, user: AbstractBaseUser, roles: frozenset[str], path: str) -> None:
    """Record that the staff gate refused ``user`` a page (the path only, never its query string)."""
    _record(actor=selectors.actor_ref(user=user), role=selectors.role_label(roles=roles), action="page_access",
            object_type="staff_page", object_id=path[:128], outcome="denied")


def on_logged_in(sender: Any, request: HttpRequest, user: AbstractBaseUser, **kwargs: Any) -> None:
    verified = getattr(user, "otp_device", None) is not None
    _record(actor=selectors.actor_ref(user=user), role=_role_of(user), action="login", object_type="user",
            object_id=str(user.pk), purpose="" if verified else "password only: one-time code enrolment")


def on_login_failed(sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None,
                    **kwargs: Any) -> None:
    # People type passwords into the username box: name an account only when one exists.
    username = str(credentials.get("username", ""))
    user = get_user_model().objects.filter(username=username).first() if username else None
    _record(actor=selectors.actor_ref(user=user) if user else "unknown", role=_role_of(user) if user else "",
            action="login", object_type="user", object_id=str(user.pk) if user else "", outcome="failed")


def on_groups_changed(sender: Any, instance: Any, action: str, pk_set: set[int] | None, **kwargs: Any) -> None:
    if action not in {"post_add", "post_remove"} or not pk_set:
        return
    # Either side of the relation can be changed: user.groups.add(g) or group.user_set.add(u).
    if isinstance(instance, Group):
        pairs = [(user_pk, instance.name) for user_pk in pk_set]
    else:
        names = dict(Group.objects.filter(pk__in=pk_set).values_list("pk", "name"))
        pairs = [(instance.pk, names[pk]) for pk in pk_set]
    verb = "role_grant" if action == "post_add" else "role_revoke"
    for user_pk, group_name in pairs:
        _record(actor=acting.get(), role="", action=verb, object_type="user", object_id=str(user_pk),
                purpose=group_name)


def connect() -> None:
    """Connect the audit handlers (called once, from AccountsConfig.ready)."""
    user_logged_in.connect(on_logged_in, dispatch_uid="vinex.accounts.audit.login")
    user_login_failed.connect(on_login_failed, dispatch_uid="vinex.accounts.audit.login_failed")
    m2m_changed.connect(on_groups_changed, sender=get_user_model().groups.through,
                        dispatch_uid="vinex.accounts.audit.groups")
