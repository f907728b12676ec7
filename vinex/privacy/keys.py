"""Field-key rotation: re-encrypt stored personal data under the newest key and recompute blind indexes.

Put the new key first in ``VINEX_FIELD_KEY`` (keeping the old ones after it), restart, then run
``vinex keys rotate``; once ``vinex keys check`` reports nothing under an old key, the old keys can go.

Every ``EncryptedTextField`` of every installed model is found by introspection, so a new encrypted
column is rotated without changes here. Rows are processed in primary-key batches, each in its own
transaction, and each row is written only if its stored token is still the one that was read: a value
written meanwhile (already under the new key, by a process with the new configuration) is never
replaced by a re-encryption of the stale one. Rows already under the newest key are only decrypted,
never written, so a run that was killed is finished by running it again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from django.apps import apps
from django.db import IntegrityError, models, transaction
from django.db.models.functions import Cast

from vinex.audit.unit import Actor, audit_add
from vinex.notify.models import Contact
from vinex.policy.contacts import InvalidContact, contact_index, normalise_contact
from vinex.policy.crypto import EncryptedTextField, decrypt, is_current, keys_configured, rotate

BATCH_SIZE = 500
PURGED_INDEX_PREFIX = "purged:"  # set by vinex.privacy.retention on erased contacts; nothing left to index
_RAW = "vinex_keys_raw_token"


@dataclass
class ModelRotation:
    """What rotating one model's encrypted columns did (counts of column values, not rows)."""

    model: str
    rotated: int = 0
    current: int = 0
    undecryptable: int = 0
    changed: int = 0  # written or deleted by someone else between our read and our write


@dataclass
class IndexRotation:
    """What recomputing ``notify.Contact.value_index`` did."""

    recomputed: int = 0
    current: int = 0
    undecryptable: int = 0
    changed: int = 0
    duplicates: int = 0  # the registrant already has a contact under the new index (added mid-rotation)


@dataclass
class RotationReport:
    models: list[ModelRotation] = field(default_factory=list)
    index: IndexRotation = field(default_factory=IndexRotation)

    @property
    def needs_attention(self) -> int:
        """Values the rotation could not bring under the newest key and index."""
        undone = sum(m.undecryptable + m.changed for m in self.models)
        return undone + self.index.undecryptable + self.index.changed + self.index.duplicates

    def summary(self) -> str:
        """Counts only, for the audit log: never a value."""
        rotated = sum(m.rotated for m in self.models)
        return (f"{rotated} values re-encrypted, {self.index.recomputed} contact indexes recomputed, "
                f"{self.needs_attention} left for attention")


@dataclass
class ModelCheck:
    model: str
    current: int = 0
    old_key: int = 0
    undecryptable: int = 0


@dataclass
class CheckReport:
    models: list[ModelCheck] = field(default_factory=list)
    stale_indexes: int = 0

    @property
    def undecryptable(self) -> int:
        return sum(m.undecryptable for m in self.models)

    @property
    def old_key(self) -> int:
        return sum(m.old_key for m in self.models)


def encrypted_columns() -> list[tuple[type[models.Model], list[EncryptedTextField]]]:
    """Each concrete model with the encrypted columns stored in its own table."""
    found = []
    for model in apps.get_models():
        # Proxies share their concrete model's table; unmanaged models are tables vinex does not own.
        if model._meta.proxy or not model._meta.managed:
            continue
        fields = [f for f in model._meta.local_concrete_fields if isinstance(f, EncryptedTextField)]
        if fields:
            found.append((model, fields))
    return found


def key_fingerprint(key: str) -> str:
    """A short public name for a key, for the audit log (a digest: it reveals nothing of the key)."""
    return hashlib.sha256(f"vinex key fingerprint:{key}".encode()).hexdigest()[:16]


def keys_rotate(
    *, actor: Actor, batch_size: int = BATCH_SIZE,
    progress: Callable[[ModelRotation | IndexRotation], None] | None = None,
) -> RotationReport:
    """Re-encrypt every encrypted value under the first configured key, then recompute contact indexes.

    Safe to run while vinex serves, to run twice at once, and to kill: running it again finishes the job.
    ``progress`` is called with each model's counts as it finishes, and last with the index counts.
    """
    report = RotationReport()
    _audit(actor, "key_rotation", "started", "")  # first, so that even a run killed midway has left a trace
    for model, fields in encrypted_columns():
        counts = ModelRotation(model._meta.label)
        for column in fields:
            for rows in _batches(_raw_tokens(model, column), batch_size):
                _rotate_batch(model, column, rows, counts)
        report.models.append(counts)
        if progress:
            progress(counts)
    for contacts in _batches(_contact_rows(), batch_size):
        _reindex_batch(contacts, report.index)
    if progress:
        progress(report.index)
    _audit(actor, "key_rotation", "incomplete" if report.needs_attention else "ok", report.summary())
    return report


def keys_check(*, actor: Actor, batch_size: int = BATCH_SIZE) -> CheckReport:
    """Count, per model, values under the newest key, under an older one and under none configured,
    and contact indexes that differ from what the current index key gives."""
    report = CheckReport()
    for model, fields in encrypted_columns():
        counts = ModelCheck(model._meta.label)
        for column in fields:
            for rows in _batches(_raw_tokens(model, column), batch_size):
                for _pk, token in rows:
                    _check_token(token, counts)
        report.models.append(counts)
    for contacts in _batches(_contact_rows(), batch_size):
        for _pk, channel, token, index in contacts:
            value = _decrypted(token)
            if value is not None and _contact_index(channel, value) != index:
                report.stale_indexes += 1
    # The check decrypts every value (without showing any), so it is recorded like any read.
    _audit(actor, "key_check", "ok" if not report.undecryptable else "undecryptable",
           f"{report.old_key} values under an old key, {report.undecryptable} undecryptable, "
           f"{report.stale_indexes} stale contact indexes")
    return report


def _audit(actor: Actor, action: str, outcome: str, purpose: str) -> None:
    audit_add(actor=actor, action=action, object_type="field_key", object_id=key_fingerprint(keys_configured()[0]),
              purpose=purpose, outcome=outcome)


def _raw(column: EncryptedTextField) -> Cast:
    # A plain-text view of the column: the stored token, neither decrypted on read nor encrypted in filters.
    return Cast(column.attname, output_field=models.TextField())


def _raw_tokens(model: type[models.Model], column: EncryptedTextField) -> models.QuerySet[Any]:
    return (model._base_manager.annotate(**{_RAW: _raw(column)}).filter(**{f"{_RAW}__isnull": False})
            .values_list("pk", _RAW))


def _contact_rows() -> models.QuerySet[Any]:
    return (Contact._base_manager.exclude(value_index__startswith=PURGED_INDEX_PREFIX)
            .annotate(**{_RAW: _raw(Contact._meta.get_field("value"))})
            .values_list("pk", "channel", _RAW, "value_index"))


def _batches(rows: models.QuerySet[Any], size: int) -> Iterator[list[Any]]:
    """Consecutive slices by primary key (keyset pagination: each query is cheap however far along)."""
    after = None
    while True:
        page = rows if after is None else rows.filter(pk__gt=after)
        batch = list(page.order_by("pk")[:size])
        if not batch:
            return
        yield batch
        after = batch[-1][0]


def _unchanged(model: type[models.Model], column: EncryptedTextField, pk: Any, token: str) -> models.QuerySet[Any]:
    """The row, only while its column still holds ``token``: the guard of every write here."""
    return model._base_manager.filter(pk=pk).alias(**{_RAW: _raw(column)}).filter(**{_RAW: token})


def _rotate_batch(
    model: type[models.Model], column: EncryptedTextField, rows: list[Any], counts: ModelRotation
) -> None:
    with transaction.atomic():
        for pk, token in rows:
            if is_current(token):
                counts.current += 1
                continue
            try:
                fresh = rotate(token)
            except ValueError:
                counts.undecryptable += 1
                continue
            # A Value() is written as given; a plain string would be encrypted again by the field.
            won = _unchanged(model, column, pk, token).update(
                **{column.attname: models.Value(fresh, output_field=models.TextField())})
            if won:
                counts.rotated += 1
            else:
                counts.changed += 1


def _reindex_batch(rows: list[Any], counts: IndexRotation) -> None:
    value_column: EncryptedTextField = Contact._meta.get_field("value")
    with transaction.atomic():
        for pk, channel, token, old_index in rows:
            value = _decrypted(token)
            if value is None:
                counts.undecryptable += 1
                continue
            new_index = _contact_index(channel, value)
            if new_index == old_index:
                counts.current += 1
                continue
            try:
                # A savepoint: a clash with the unique constraint must not undo the rest of the batch.
                with transaction.atomic():
                    won = _unchanged(Contact, value_column, pk, token).filter(value_index=old_index).update(
                        value_index=new_index)
            except IntegrityError:
                counts.duplicates += 1
                continue
            if won:
                counts.recomputed += 1
            else:
                counts.changed += 1


def _contact_index(channel: str, value: str) -> str:
    """The index ``vinex.notify.services`` gives this contact value (same normaliser, same input)."""
    try:
        normalised = normalise_contact(channel, value)
    except InvalidContact:
        # Stored values were normalised when they were written; if today's rules reject one, the
        # stored form is exactly what it was indexed from.
        normalised = value
    return contact_index(channel, normalised)


def _decrypted(token: str) -> str | None:
    try:
        return decrypt(token)
    except ValueError:
        return None


def _check_token(token: str, counts: ModelCheck) -> None:
    if is_current(token):
        counts.current += 1
    elif _decrypted(token) is not None:
        counts.old_key += 1
    else:
        counts.undecryptable += 1
