"""Every save and delete made through the admin site goes into the audit log, with the changed fields.

``VinexAdminSite.register`` gives every model admin the ``AuditedAdmin`` behaviour, so a model added to
the admin later is audited without anyone remembering to. Each changed field is one entry,
``<field>: <before> → <after>``; a value is written only for fields that cannot hold personal data or
secrets (flags, choices, references, numbers, times, settings such as scopes and sharing policies) and
is otherwise masked: the log says that a name changed, never the name.

Some changes take two administrators (``TWO_PERSON_CHANGES``): un-protecting a subject exposes a
person under witness protection or a court order to partner agencies and to the locator, so the first
administrator's change is held as a request and takes effect only when a different administrator makes
the same change. Both are named in the log.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from django.contrib import messages
from django.contrib.admin import ModelAdmin
from django.contrib.auth.models import User
from django.db import models
from django.forms import ModelForm
from django.http import HttpRequest

from vinex.accounts import selectors
from vinex.accounts.models import TwoPersonRequest
from vinex.audit.unit import Actor, AuditUnit, audit_unit

MASKED = "(masked)"
# Field types whose values are never personal data or secrets; any other value is masked.
_SHOWN_TYPES = (models.BooleanField, models.ForeignKey, models.JSONField, models.IntegerField, models.DateTimeField,
                models.UUIDField)
# Text fields that are settings, not people: shown too.
_SHOWN_NAMES = frozenset({"status", "tier", "channel", "code", "scopes", "purposes", "source", "type"})


@dataclass(frozen=True)
class TwoPersonChange:
    model: str  # app_label.model_name
    field: str
    before: Any
    after: Any

    @property
    def label(self) -> str:
        return f"{self.field}: {self.before} → {self.after}"


TWO_PERSON_CHANGES = (TwoPersonChange("custody.subject", "protected", True, False),)


def admin_actor(request: HttpRequest) -> Actor:
    return Actor.staff(selectors.actor_ref(user=request.user),
                       selectors.role_label(roles=selectors.user_roles(user=request.user)))


def _shown(field: models.Field[Any, Any]) -> bool:
    if field.name in {"password", "key", "secret_hash", "pin_hash"}:
        return False
    return isinstance(field, _SHOWN_TYPES) or bool(field.choices) or field.name in _SHOWN_NAMES


def _display(field: models.Field[Any, Any], value: Any) -> str:
    if not _shown(field):
        return MASKED
    return "—" if value in (None, "") else str(value)


def _values(obj: models.Model) -> dict[str, Any]:
    return {f.attname: getattr(obj, f.attname) for f in obj._meta.concrete_fields}


def field_changes(model: type[models.Model], before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """``<field>: <before> → <after>`` for each field whose value differs (masked where personal)."""
    changes = []
    for field in model._meta.concrete_fields:
        if getattr(field, "auto_now", False):
            continue  # a timestamp every save touches says nothing the entry's own time does not
        old, new = before.get(field.attname), after.get(field.attname)
        if old != new and not (old in (None, "") and new in (None, "")):
            changes.append(f"{field.name}: {_display(field, old)} → {_display(field, new)}")
    return changes


def _stored(obj: models.Model) -> dict[str, Any]:
    stored = type(obj)._default_manager.filter(pk=obj.pk).first() if obj.pk is not None else None
    return _values(stored) if stored is not None else {}


class AuditedAdmin(ModelAdmin):
    """Mixed into every model admin of vinex's admin site (see ``VinexAdminSite.register``)."""

    def save_model(self, request: HttpRequest, obj: Any, form: ModelForm[Any], change: bool) -> None:
        before = _stored(obj) if change else {}
        with audit_unit(actor=admin_actor(request)) as unit:
            if change:
                self._two_person_guard(request, obj, before, unit)
            super().save_model(request, obj, form, change)
            for described in field_changes(type(obj), before, _values(obj)):
                unit.add("admin_change" if change else "admin_add", obj._meta.label_lower, obj.pk, purpose=described)

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        label, pk = obj._meta.label_lower, obj.pk
        with audit_unit(actor=admin_actor(request)) as unit:
            super().delete_model(request, obj)
            unit.add("admin_delete", label, pk)

    def delete_queryset(self, request: HttpRequest, queryset: models.QuerySet[Any]) -> None:
        ids = list(queryset.values_list("pk", flat=True))
        with audit_unit(actor=admin_actor(request)) as unit:
            super().delete_queryset(request, queryset)
            unit.add_many("admin_delete", queryset.model._meta.label_lower, ids)

    def _two_person_guard(self, request: HttpRequest, obj: Any, before: dict[str, Any], unit: AuditUnit) -> None:
        user = request.user
        assert isinstance(user, User)  # the admin site admits signed-in administrators only
        for rule in _rules_for(obj, before):
            asked = TwoPersonRequest.objects.filter(model=rule.model, object_id=str(obj.pk), change=rule.label)
            first = asked.exclude(requested_by=user).order_by("requested_at").first()
            if first is not None:
                asked.delete()
                unit.add("two_person_confirm", rule.model, obj.pk,
                         purpose=f"{rule.label}; asked by user:{first.requested_by_id}")
                continue
            TwoPersonRequest.objects.get_or_create(model=rule.model, object_id=str(obj.pk), change=rule.label,
                                                   requested_by=user)
            setattr(obj, rule.field, rule.before)  # held until a second administrator agrees
            unit.add("two_person_request", rule.model, obj.pk, purpose=rule.label, outcome="held")
            messages.warning(request, f"{rule.label} needs a second administrator: your request is recorded, "
                                      "and takes effect when another administrator makes the same change.")


def _rules_for(obj: models.Model, before: dict[str, Any]) -> Iterable[TwoPersonChange]:
    for rule in TWO_PERSON_CHANGES:
        if obj._meta.label_lower != rule.model:
            continue
        field = obj._meta.get_field(rule.field)
        assert isinstance(field, models.Field)
        if before.get(field.attname) == rule.before and getattr(obj, field.attname) == rule.after:
            yield rule


def audited(admin_class: type[ModelAdmin]) -> type[ModelAdmin]:
    """``admin_class`` with every save and delete audited (itself when it already is)."""
    if issubclass(admin_class, AuditedAdmin):
        return admin_class
    return type(f"Audited{admin_class.__name__}", (AuditedAdmin, admin_class), {})
