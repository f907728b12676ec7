"""Audit records for sign-ins, failed sign-ins and refused pages (recorded through vinex.audit).

Role changes are not recorded here: a signal about a many-to-many change cannot know who made it. The
code that changes roles records them with the actor its caller names: ``staffuser_set_roles`` (the
``staffuser`` command, ``vinex up``) and the admin site's user form (``vinex.accounts.admin``). A change
made outside vinex's code (straight in the database) is not recorded, as no other write would be.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.auth.signals import user_logged_in, user_login_failed
from django.http import HttpRequest

from vinex.accounts import selectors
from vinex.audit.unit import Actor, audit_add


def _actor(user: AbstractBaseUser, role: str) -> Actor:
    return Actor.staff(selectors.actor_ref(user=user), role)


def _role_of(user: AbstractBaseUser) -> str:
    return selectors.role_label(roles=selectors.user_roles(user=user))


def record_refusal(*, user: AbstractBaseUser, roles: frozenset[str], path: str) -> None:
    """Record that the staff gate refused ``user`` a page (the path only, never its query string)."""
    audit_add(actor=_actor(user, selectors.role_label(roles=roles)), action="page_access", object_type="staff_page",
              object_id=path[:128], outcome="denied")


def on_logged_in(sender: Any, request: HttpRequest, user: AbstractBaseUser, **kwargs: Any) -> None:
    verified = getattr(user, "otp_device", None) is not None
    audit_add(actor=_actor(user, _role_of(user)), action="login", object_type="user", object_id=str(user.pk),
              purpose="" if verified else "password only: one-time code enrolment")


def on_login_failed(sender: Any, credentials: dict[str, Any], request: HttpRequest | None = None,
                    **kwargs: Any) -> None:
    # People type passwords into the username box: name an account only when one exists.
    username = str(credentials.get("username", ""))
    user = get_user_model().objects.filter(username=username).first() if username else None
    actor = _actor(user, _role_of(user)) if user else Actor("unknown", "")
    audit_add(actor=actor, action="login", object_type="user", object_id=str(user.pk) if user else "",
              outcome="failed")


def connect() -> None:
    """Connect the audit handlers (called once, from AccountsConfig.ready)."""
    user_logged_in.connect(on_logged_in, dispatch_uid="vinex.accounts.audit.login")
    user_login_failed.connect(on_login_failed, dispatch_uid="vinex.accounts.audit.login_failed")
