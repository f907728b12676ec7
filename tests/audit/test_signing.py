from __future__ import annotations

from typing import Any

import pytest

from tests.audit.helpers import record
from tests.audit.test_conf import raw_key
from vinex.audit import signing
from vinex.audit.models import AuditCheckpoint
from vinex.audit.services import audit_checkpoint_create
from vinex.audit.verify import audit_verify

pytestmark = pytest.mark.django_db


def use_key(settings: Any, key: str, retired: tuple[str, ...] = ()) -> None:
    settings.VINEX_AUDIT_SIGNING_KEY = key
    settings.VINEX_AUDIT_VERIFY_KEYS = retired


def public_b64(private_b64: str, settings: Any) -> str:
    import base64

    from cryptography.hazmat.primitives import serialization

    use_key(settings, private_b64)
    public = signing.signing_key().public_key()
    return base64.b64encode(public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)).decode()


def test_checkpoints_signed_by_an_unknown_key_do_not_verify(settings: Any) -> None:
    use_key(settings, raw_key())
    record(4)
    audit_checkpoint_create()
    use_key(settings, raw_key())
    result = audit_verify()
    assert (result.first_bad_seq, result.reason.split(":")[0]) == (1, "checkpoint signature invalid")


def test_checkpoints_of_a_retired_key_still_verify_after_rotation(settings: Any) -> None:
    old = raw_key()
    old_public = public_b64(old, settings)
    record(4)
    audit_checkpoint_create()
    use_key(settings, raw_key(), retired=(old_public,))
    record(2)
    audit_checkpoint_create()
    assert AuditCheckpoint.objects.values("key_id").distinct().count() == 2
    assert audit_verify().ok
