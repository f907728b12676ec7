"""Events in → messages out: the event, the contacts it carried and its messages commit together."""

from __future__ import annotations

from typing import Any

import pytest
from django.db import transaction

from tests.actors import ACTOR
from tests.conftest import event
from tests.factories import subscribe
from vinex.custody.models import Agency, CustodyEvent, SubjectContact
from vinex.custody.schemas import EventIn
from vinex.notify.models import Notification
from vinex.pipeline import IncomingEvent, events_ingest, payload_hash

pytestmark = pytest.mark.django_db


class Abandoned(Exception):
    pass


def ingest(agency: Agency, *raws: dict[str, Any]) -> list[str]:
    return [o.status for o in events_ingest(actor=ACTOR, agency=agency, events=[
        IncomingEvent(EventIn.model_validate(r), payload_hash(r)) for r in raws])]


def released_with_contacts() -> dict[str, Any]:
    released = event("r1", "RELEASED", minutes=10, reason="bond")
    released["subject"]["contacts"] = [{"kind": "email", "value": "robin@example.org"}]
    return released


def test_a_followed_persons_release_becomes_a_queued_message_for_each_contact(agency: Agency) -> None:
    ingest(agency, event("b1", "BOOKED"))
    subscribe(agency, email="v@example.org", sms="+12025550100")

    assert ingest(agency, released_with_contacts()) == ["accepted"]

    assert sorted(Notification.objects.values_list("event__event_id", "channel", "status")) == [
        ("r1", "email", "queued"), ("r1", "sms", "queued")]
    assert CustodyEvent.objects.get(event_id="r1").notified is True
    assert SubjectContact.objects.count() == 1


def test_nothing_of_a_batch_survives_when_its_transaction_is_rolled_back(agency: Agency) -> None:
    ingest(agency, event("b1", "BOOKED"))
    subscribe(agency, email="v@example.org")

    with pytest.raises(Abandoned), transaction.atomic():
        ingest(agency, released_with_contacts())
        raise Abandoned

    assert not CustodyEvent.objects.filter(event_id="r1").exists()
    assert Notification.objects.count() == 0 and SubjectContact.objects.count() == 0
    assert ingest(agency, released_with_contacts()) == ["accepted"]  # and it can be sent again
    assert Notification.objects.count() == 1
