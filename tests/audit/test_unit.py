"""The audit unit of work: one write per transaction, last, with the actor each entry point names."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext

from tests.accounts.helpers import make_staff, signed_in
from tests.conftest import event
from tests.custody.test_services import ingest
from tests.factories import subscribe
from tests.support.smtp import SmtpServer
from tests.support.threads import on_own_connections
from vinex.accounts import matrix
from vinex.audit.models import AuditCheckpoint, AuditEntry, AuditHead
from vinex.audit.unit import Actor, audit_unit
from vinex.audit.verify import audit_verify
from vinex.custody.models import Agency
from vinex.notify.models import Registrant
from vinex.notify.worker import Worker

pytestmark = pytest.mark.django_db
OFFICER = Actor.staff("user:7", "privacy_officer")
ENTRY_TABLE = AuditEntry._meta.db_table
HEAD_TABLE = AuditHead._meta.db_table


def _logged(after: int = 0) -> list[tuple[str, str, str, str, str]]:
    """The log's entries past ``after`` (a seq), oldest first."""
    entries = AuditEntry.objects.filter(seq__gt=after).order_by("seq")
    return list(entries.values_list("actor", "role", "action", "object_type", "object_id"))


def _audit_writes(queries: CaptureQueriesContext) -> list[int]:
    """Positions of the statements that append to the log (the entries' INSERT). On PostgreSQL an append
    that found no head row yet wrote nothing: it runs again once the head row is created."""
    sql = [q["sql"] for q in queries.captured_queries]
    return [i for i, s in enumerate(sql) if f'INSERT INTO "{ENTRY_TABLE}"' in s
            and not any(f'INSERT INTO "{HEAD_TABLE}"' in after for after in sql[i + 1 : i + 5])]


def test_a_unit_writes_its_entries_once_last_and_in_order_with_their_actors() -> None:
    with CaptureQueriesContext(connection) as queries, audit_unit(actor=OFFICER) as unit:
        unit.add("read", "registration", "r-1")
        Registrant.objects.create(language="en")  # work that comes after the first entry
        unit.add("privacy_check", "registration", "r-1", actor=Actor.system("registration_check"))
        unit.add_many("read", "contact", [3, 4], purpose="review")
        assert _logged() == []  # nothing is written (or locked) while the work goes on
    assert _logged() == [
        ("user:7", "privacy_officer", "read", "registration", "r-1"),
        ("system:registration_check", "system", "privacy_check", "registration", "r-1"),
        ("user:7", "privacy_officer", "read", "contact", "3"),
        ("user:7", "privacy_officer", "read", "contact", "4"),
    ]
    [write] = _audit_writes(queries)
    registrant_insert = next(i for i, q in enumerate(queries.captured_queries) if "notify_registrant" in q["sql"])
    assert write > registrant_insert


def test_a_block_that_raises_writes_nothing_and_keeps_nothing() -> None:
    with pytest.raises(RuntimeError), audit_unit(actor=OFFICER) as unit:
        Registrant.objects.create(language="en")
        unit.add("create", "registrant", "1")
        raise RuntimeError("the work failed")
    assert _logged() == []
    assert not Registrant.objects.exists()


def test_a_unit_opened_inside_another_joins_it() -> None:
    with CaptureQueriesContext(connection) as queries, audit_unit(actor=OFFICER) as outer:
        outer.add("review", "registration", "r-1")
        with audit_unit(actor=Actor.registrant(5)) as inner:  # a service calling a service
            inner.add("withdraw", "registration", "r-2")
        assert _logged() == []  # the inner unit's end is not the transaction's end
        outer.add("read", "registration", "r-3")
    assert len(_audit_writes(queries)) == 1
    assert [(e[0], e[4]) for e in _logged()] == [("user:7", "r-1"), ("registrant:5", "r-2"), ("user:7", "r-3")]


def test_a_nested_unit_that_fails_drops_only_its_own_entries() -> None:
    with audit_unit(actor=OFFICER) as outer:
        outer.add("read", "registration", "r-1")
        with pytest.raises(ValueError), audit_unit(actor=OFFICER) as inner:
            Registrant.objects.create(language="en")
            inner.add("create", "registrant", "lost")
            raise ValueError("refused")
    assert [e[4] for e in _logged()] == ["r-1"]
    assert not Registrant.objects.exists()  # its writes were rolled back with its entries


def test_two_units_in_sequence_write_twice() -> None:
    with CaptureQueriesContext(connection) as queries:
        for n in range(2):
            with audit_unit(actor=OFFICER) as unit:
                unit.add("read", "registration", f"r-{n}")
    assert len(_audit_writes(queries)) == 2
    assert [e[4] for e in _logged()] == ["r-0", "r-1"]


def test_a_unit_with_no_entries_touches_no_audit_table() -> None:
    with CaptureQueriesContext(connection) as queries, audit_unit(actor=OFFICER):
        Registrant.objects.create(language="en")
    assert not [q for q in queries.captured_queries if ENTRY_TABLE in q["sql"] or HEAD_TABLE in q["sql"]]


# --- A unit that is the whole transaction -----------------------------------------------------------
# Its append is the last statement before commit (on PostgreSQL sent together with the commit): these run
# with real commits, from an empty log, as the server and the workers do.


@pytest.mark.django_db(transaction=True)
def test_units_committing_at_once_keep_one_chain_with_their_work_and_checkpoints(settings: Any) -> None:
    settings.VINEX_AUDIT_CHECKPOINT_EVERY = 10

    def commit_units(worker: int) -> None:
        for i in range(10):
            with audit_unit(actor=Actor.system(f"worker-{worker}")) as unit:
                registrant = Registrant.objects.create(language="en")
                unit.add_many("create", "registrant", [registrant.pk, f"{worker}-{i}"])

    on_own_connections(commit_units, 4)
    assert list(AuditEntry.objects.values_list("seq", flat=True).order_by("seq")) == list(range(1, 81))
    # Each unit's two entries are consecutive links, written with the registrant they name.
    logged = _logged()
    for first, second in zip(logged[::2], logged[1::2], strict=True):
        assert first[0] == second[0] and Registrant.objects.filter(pk=int(first[4])).exists()
    assert Registrant.objects.count() == 40
    checkpoints = sorted(AuditCheckpoint.objects.values_list("tree_size", flat=True))
    assert checkpoints == [10, 20, 30, 40, 50, 60, 70, 80]
    result = audit_verify()
    assert result.ok and result.checkpoints == 8


@pytest.mark.django_db(transaction=True)
def test_a_whole_transaction_unit_that_fails_or_is_marked_for_rollback_keeps_nothing() -> None:
    with pytest.raises(RuntimeError), audit_unit(actor=OFFICER) as unit:
        Registrant.objects.create(language="en")
        unit.add("create", "registrant", "1")
        raise RuntimeError("the work failed")
    with audit_unit(actor=OFFICER) as unit:
        Registrant.objects.create(language="en")
        unit.add("create", "registrant", "2")
        transaction.set_rollback(True)
    assert _logged() == []
    assert not Registrant.objects.exists()
    with audit_unit(actor=OFFICER) as unit:  # the connection is as good as new
        unit.add("read", "registration", "r-1")
    assert [e[4] for e in _logged()] == ["r-1"]


# --- The actor comes from the entry point ---------------------------------------------------------


def test_a_command_acts_as_itself() -> None:
    call_command("feeds", "alert-recipient", "add", "--operator", "--email", "ops@vinex.example.org")
    written = {(actor, role, action, object_type) for actor, role, action, object_type, _ in _logged()}
    assert written >= {
        ("system:command:feeds", "system", "create", "registrant"),
        ("system:command:feeds", "system", "create", "contact"),
        ("system:command:feeds", "system", "create", "feed_alert_recipient"),
    }


def test_a_staff_page_acts_as_the_signed_in_member_of_staff(settings: Any) -> None:
    settings.PRODUCTION = False
    admin = make_staff("ada", matrix.ADMINISTRATOR)
    assert signed_in(admin, verified=True).get("/staff/outbox/").status_code == 200
    [entry] = AuditEntry.objects.filter(object_type="mail_outbox")
    assert (entry.actor, entry.role, entry.action) == (f"user:{admin.pk}", "staff", "read")


def test_an_agency_push_acts_as_the_agency_for_its_events_and_the_messages_they_cause(agency: Agency,
                                                                                   api: Client) -> None:
    ingest(agency, event("b1", "BOOKED"))
    registrant = subscribe(agency, email="victim@example.org")
    before = AuditHead.objects.get(pk=1).seq
    response = api.post("/api/v1/custody-events", {"events": [event("r1", "RELEASED", minutes=5)]},
                        content_type="application/json")
    assert response.json()["accepted"] == 1
    contact_id = str(registrant.contacts.get().pk)
    assert _logged(after=before) == [
        ("agency:pine", "agency", "read", "contact", contact_id),  # rendering the message read the address
        ("agency:pine", "agency", "create", "custody_event", "pine:r1"),
    ]


def test_the_worker_acts_as_itself(agency: Agency, smtp_settings: SmtpServer) -> None:
    ingest(agency, event("b1", "BOOKED"))
    subscribe(agency, email="victim@example.org")
    ingest(agency, event("r1", "RELEASED", minutes=5))
    Worker(threads=1, name="w-7").run_once()
    [delivery] = AuditEntry.objects.filter(purpose="delivery")
    assert (delivery.actor, delivery.role, delivery.action) == ("system:w-7", "system", "read")
