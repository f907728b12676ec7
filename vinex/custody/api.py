"""HTTP endpoints for agencies: thin wrappers over custody services."""

from __future__ import annotations

import threading
from collections import Counter
from typing import Any

import orjson
from django.http import HttpRequest, HttpResponse
from ninja import Router
from ninja.errors import AuthorizationError
from ninja.security import HttpBearer
from pydantic import ValidationError as PydanticValidationError

from vinex.custody.models import ApiKey
from vinex.custody.schemas import ErrorResponse, EventBatchIn, EventBatchOut, EventIn
from vinex.custody.services import IncomingEvent, ItemOutcome, apikey_authenticate, event_ingest, payload_hash

router = Router(tags=["agencies"])

# One batch at a time per server process. Batches are CPU-bound, so concurrent threads only take turns
# on the GIL; worse, a thread validating beside one that writes makes the writer wait for the GIL after
# every row (the database drivers release it around each statement step), slowing both several-fold.
_ONE_BATCH_AT_A_TIME = threading.Lock()


class AgencyKey(HttpBearer):
    def authenticate(self, request: HttpRequest, token: str) -> ApiKey | None:
        return apikey_authenticate(token=token)


def require_scope(request: HttpRequest, scope: str) -> ApiKey:
    key: ApiKey = request.auth  # type: ignore[attr-defined]
    if scope not in key.scopes:
        raise AuthorizationError(message=f"this API key lacks the {scope!r} scope")
    return key


def _item_errors(index: int, error: PydanticValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": ["events", index, *e["loc"]], "msg": e["msg"].removeprefix("Value error, "), "type": e["type"]}
        for e in error.errors(include_url=False)
    ]


def _parse_items(raw_events: list[Any]) -> tuple[list[IncomingEvent], list[int], dict[int, ItemOutcome]]:
    """Validate each item alone; returns the valid ones, their positions, and outcomes for the rest."""
    valid: list[IncomingEvent] = []
    positions: list[int] = []
    rejected: dict[int, ItemOutcome] = {}
    for index, raw in enumerate(raw_events):
        event_id = raw.get("event_id") if isinstance(raw, dict) else None
        try:
            data = EventIn.model_validate(raw)
        except PydanticValidationError as error:
            rejected[index] = ItemOutcome(event_id if isinstance(event_id, str) else None, "rejected",
                                          _item_errors(index, error))
            continue
        valid.append(IncomingEvent(data=data, payload_hash=payload_hash(raw)))
        positions.append(index)
    return valid, positions, rejected


@router.post(
    "/custody-events",
    auth=AgencyKey(),
    response={200: EventBatchOut, 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 413: ErrorResponse,
              422: ErrorResponse},
    summary="Push a batch of custody events",
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": {"$ref": "#/components/schemas/EventBatch"}}},
        }
    },
)
def custody_events_post(request: HttpRequest, batch: EventBatchIn) -> HttpResponse:
    """Record up to 10,000 events. Each item is accepted, reported as a duplicate, or rejected alone."""
    key = require_scope(request, "events:write")
    with _ONE_BATCH_AT_A_TIME:
        return _batch_record(key, batch.events)


def _batch_record(key: ApiKey, raw_events: list[Any]) -> HttpResponse:
    valid, positions, rejected = _parse_items(raw_events)
    ingested = event_ingest(agency=key.agency, events=valid)
    outcomes = dict(rejected)
    for position, outcome in zip(positions, ingested, strict=True):
        for error in outcome.errors:
            error["loc"][1] = position  # the service numbers items among the valid ones
        outcomes[position] = outcome
    results = [{"event_id": o.event_id, "status": o.status, "errors": o.errors}
               for o in (outcomes[i] for i in range(len(raw_events)))]
    counts = Counter(result["status"] for result in results)
    body = {"accepted": counts["accepted"], "duplicates": counts["duplicate"], "rejected": counts["rejected"],
            "results": results}
    # Built here already in the documented shape (EventBatchOut); re-validating 10,000 results through
    # the response schema would cost more than recording the events.
    return HttpResponse(orjson.dumps(body), content_type="application/json")

