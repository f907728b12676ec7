"""Every operation of the published OpenAPI document, fuzzed in-process: valid and invalid requests, with
and without credentials, must get a documented answer in the documented shape, never a 500.

The budget is small and the examples derandomised, so a run is repeatable and short; a longer hunt is
``schemathesis run`` against ``vinex serve`` with a larger ``--max-examples``.
"""

from __future__ import annotations

from typing import Any, get_args

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.test import Client
from hypothesis import HealthCheck, settings
from pydantic_core.core_schema import ErrorType
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    negative_data_rejection,
    positive_data_acceptance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.actors import ACTOR
from tests.locator.people import book
from tests.portal.mail import deliver, last_code, manage_token
from tests.portal.test_api import EMAIL, confirm, register
from tests.privacy.test_partner_api import EVERY_PURPOSE, OPEN
from tests.support.smtp import SmtpServer
from vinex.custody.models import Agency
from vinex.custody.services import API_KEY_SCOPES, apikey_create
from vinex.wsgi import application

# Valid requests these operations may still refuse with 422, for rules no OpenAPI schema can state: a
# search needs one complete set of terms; a subject_ref must come from a recent locator search; a contact
# must be a real address or number (and, to confirm, one of the registration's); a roster's CSV needs its
# columns. What such a 422 may say is checked by ``refusals_name_rules_the_document_cannot_state``.
STATEFUL_RULES = {
    "GET /api/v1/locator": "one complete search",
    "GET /api/v1/partner/subjects": "one complete identifier",
    "POST /api/v1/registrations": "a live subject_ref and real contacts",
    "POST /api/v1/registrations/{registration_id}/confirm": "a contact of this registration and its code",
    "POST /api/v1/registrations/{registration_id}/resend": "a contact of this registration",
    "PATCH /api/v1/registrations/{registration_id}": "real contacts to add, the registration's to remove",
    "POST /api/v1/data-reports": "a live subject_ref",
    "PUT /api/v1/rosters/{facility_code}": "a CSV header with the roster's columns",
}
# The batch endpoint answers 200 for a batch with bad items: each is rejected alone, in ``results``.
BATCH = "POST /api/v1/custody-events"

# schemathesis's own defaults for the two checks (a 5xx fails not_a_server_error instead).
ACCEPTED = ["2xx", "3xx", "401", "403", "404", "409", "429", "5xx"]
REFUSED = ["400", "401", "403", "404", "405", "406", "409", "415", "422", "428", "429", "5xx"]

OPERATIONS = [
    *({"include-name": label, "checks": {"positive_data_acceptance": {"expected-statuses": [*ACCEPTED, "422"]}}}
      for label in STATEFUL_RULES),
    {"include-name": BATCH, "checks": {"negative_data_rejection": {"expected-statuses": ["200", *REFUSED]}}},
]
# Operations that take no credentials answer alike with and without them.
PUBLIC = {"include-path-regex": r"^/api/v1/(locator|registrations|data-reports)$", "enabled": False}


def _config(*operations: dict[str, Any]) -> Any:
    return schemathesis.Config.from_dict({"generation": {"deterministic": True, "max-examples": 25},
                                          "operations": [*OPERATIONS, *operations]})


def _without_connection_resets(environ: dict[str, Any], start_response: Any) -> Any:
    """The WSGI app as the tests call it: Django closes the database connection when a request ends,
    which would end the test's transaction (the test client disconnects the same handlers)."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        return list(application(environ, start_response))
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)


schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", _without_connection_resets, config=_config())

# pydantic's own errors are the rules the document states (types, lengths, patterns, enums): a valid
# request refused for one of them means the document and the code disagree. ``value_error`` is ours.
DOCUMENTED_RULES = frozenset(get_args(ErrorType)) - {"value_error"}


def refusals_name_rules_the_document_cannot_state(ctx: Any, response: Any, case: Any) -> None:
    if case.meta is None or not case.meta.generation.mode.is_positive or response.status_code != 422:
        return
    kinds = {error["type"] for error in response.json()["detail"]}
    assert not kinds & DOCUMENTED_RULES, (f"a schema-valid request was refused for {kinds & DOCUMENTED_RULES}; "
                                          f"it may be only for {STATEFUL_RULES.get(case.operation.label)}")


def batches_account_for_every_item(ctx: Any, response: Any, case: Any) -> None:
    """A bad item is rejected alone and reported: the answer has one result per item sent."""
    if case.operation.label != BATCH or response.status_code != 200:
        return
    sent = case.body["events"]
    body = response.json()
    assert len(body["results"]) == len(sent)
    assert body["accepted"] + body["pending"] + body["duplicates"] + body["rejected"] == len(sent)


CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_headers_conformance,
          response_schema_conformance, negative_data_rejection, positive_data_acceptance,
          refusals_name_rules_the_document_cannot_state, batches_account_for_every_item]
FUZZ = settings(max_examples=25, derandomize=True, deadline=None, database=None,
                suppress_health_check=list(HealthCheck))


class Credentials:
    def __init__(self, agency_key: str, partner_key: str, registration_id: str, manage_token: str) -> None:
        self.agency_key, self.partner_key = agency_key, partner_key
        self.registration_id, self.manage_token = registration_id, manage_token

    def apply(self, case: Any) -> dict[str, str]:
        """Point the case at data that exists and return the headers its operation needs."""
        path = case.operation.path
        if "{facility_code}" in path and case.meta is not None and case.meta.generation.mode.is_positive:
            case.path_parameters["facility_code"] = "main"
        if "{agency_code}" in path and case.meta is not None and case.meta.generation.mode.is_positive:
            case.path_parameters["agency_code"] = "pine"
        if path.startswith(("/api/v1/custody-events", "/api/v1/rosters")):
            return {"Authorization": f"Bearer {self.agency_key}"}
        if path.startswith("/api/v1/partner/"):
            return {"Authorization": f"Bearer {self.partner_key}"}
        if path.startswith("/api/v1/registrations/{registration_id}"):
            case.path_parameters["registration_id"] = self.registration_id
            return {"Authorization": f"Bearer {self.manage_token}"}
        return {}


@pytest.fixture
def credentials(agency: Agency, other_agency: Agency, smtp_settings: SmtpServer, settings: Any) -> Credentials:
    # The limits answer 429 (documented) long before a fuzzer is done: lifted, so requests reach the code.
    for name in ("VINEX_LOCATOR_RATE", "VINEX_LOCATOR_SESSION_RATE", "VINEX_REGISTRATION_RATE",
                 "VINEX_DATA_REPORT_RATE", "VINEX_CODE_DESTINATION_RATE", "VINEX_CODE_COUNTRY_RATE"):
        setattr(settings, name, "100000/minute")
    agency.sharing_policy = OPEN
    agency.save()
    agency_key = apikey_create(actor=ACTOR, agency=agency, scopes=API_KEY_SCOPES, purposes=EVERY_PURPOSE)[1]
    partner_key = apikey_create(actor=ACTOR, agency=other_agency, scopes=("custody:read",),
                                purposes=EVERY_PURPOSE)[1]
    book(agency, "S-1")
    client = Client()
    registration_id = register(client, relationship="victim").json()["registration_id"]
    deliver()
    assert confirm(client, registration_id, EMAIL, last_code(smtp_settings, EMAIL)).json()["status"] == "active"
    deliver()
    return Credentials(agency_key, partner_key, registration_id, manage_token(smtp_settings, EMAIL))


@pytest.mark.django_db
@schema.parametrize()
@FUZZ
def test_every_operation_with_credentials(case: Any, credentials: Credentials) -> None:
    case.call_and_validate(headers=credentials.apply(case), checks=CHECKS)


# Without credentials only the operations that take them answer differently from the test above.
needs_credentials = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", _without_connection_resets,
                                                   config=_config(PUBLIC))


@pytest.mark.django_db
@needs_credentials.parametrize()
@FUZZ
def test_operations_refuse_cleanly_without_credentials(case: Any, agency: Agency, settings: Any) -> None:
    settings.VINEX_LOCATOR_RATE = settings.VINEX_LOCATOR_SESSION_RATE = "100000/minute"
    case.call_and_validate(checks=CHECKS)
