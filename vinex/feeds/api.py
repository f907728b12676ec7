"""HTTP endpoints that take custody data in: event batches (recorded and notified through
``vinex.pipeline``) and roster snapshots (streamed to a file and handed to the import service)."""

from __future__ import annotations

import fcntl
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Annotated, Any, Literal

import orjson
import polars as pl
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.utils import timezone
from ninja import Router, Schema
from ninja.errors import HttpError
from ninja.errors import ValidationError as NinjaValidationError
from pydantic import BeforeValidator, TypeAdapter
from pydantic import ValidationError as PydanticValidationError

from vinex.audit.unit import Actor
from vinex.custody.api import AgencyKey, require_scope
from vinex.custody.models import ApiKey, Facility
from vinex.custody.schemas import ErrorDetail, ErrorResponse, EventBatchIn, EventBatchOut, EventIn
from vinex.feeds import selectors
from vinex.feeds.models import Snapshot
from vinex.feeds.parsing import RosterFormatError, copy_stream
from vinex.feeds.release_guard import release_guard_for
from vinex.feeds.services import roster_import
from vinex.pipeline import IncomingEvent, ItemOutcome, events_ingest, payload_hash
from vinex.pipeline.events import events_rejected
from vinex.pipeline.metrics import events_overloaded_count, events_rejected_count

router = Router(tags=["feeds"])
# The event batch endpoint keeps the tag it was published under.
events_router = Router(tags=["agencies"])

# One batch at a time per server process. Batches are CPU-bound, so concurrent threads only take turns
# on the GIL; worse, a thread validating beside one that writes makes the writer wait for the GIL after
# every row (the database drivers release it around each statement step), slowing both several-fold.
_ONE_BATCH_AT_A_TIME = threading.Lock()
# How long a population read while a roster was arriving stays good enough to diff the roster against: about
# as long as the import itself takes to parse a large roster, during which the population may change anyway.
_POPULATION_FRESH_SECONDS = 1.0


class Overloaded(Exception):
    """More work arrives than this server does: the request was not taken and may be sent again."""

    def __init__(self, retry_after: int, message: str = "the server is at capacity") -> None:
        super().__init__(f"{message}; send the same request again after Retry-After seconds")
        self.retry_after = retry_after


@contextmanager
def _one_roster_import_per_host() -> Iterator[None]:
    """One roster upload at a time on this host (every server process): each holds a copy on disk and
    its columns in memory, so two at once would double the peak. The next is told to come back."""
    path = Path(settings.VAR_DIR) / "roster-import.lock"
    with path.open("a") as turn:
        try:
            fcntl.flock(turn, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise Overloaded(settings.VINEX_ROSTER_RETRY_AFTER_SECONDS, "another roster is being imported") from None
        try:
            yield
        finally:
            fcntl.flock(turn, fcntl.LOCK_UN)


@contextmanager
def _batch_turn() -> Iterator[None]:
    """This process's turn to record a batch, or ``Overloaded`` when it does not come within
    ``VINEX_INGEST_MAX_WAIT_SECONDS``: past capacity the queue would grow, and every answer (and every
    victim's message) with it, without bound. Nothing of a refused request has been written."""
    if not _ONE_BATCH_AT_A_TIME.acquire(timeout=settings.VINEX_INGEST_MAX_WAIT_SECONDS):
        events_overloaded_count()
        raise Overloaded(settings.VINEX_INGEST_RETRY_AFTER_SECONDS)
    try:
        yield
    finally:
        _ONE_BATCH_AT_A_TIME.release()


def _not_a_number(value: Any) -> Any:
    # pydantic would read a bare number ("0.5") as seconds since 1970; the document promises ISO 8601.
    if isinstance(value, str) and value.strip().lstrip("+-").replace(".", "", 1).isdigit():
        raise ValueError("as_of must be an ISO 8601 date and time, such as 2026-11-20T10:00:00Z")
    return value


class SnapshotOut(Schema):
    snapshot_id: int
    status: Literal["applied", "quarantined", "rejected"]
    booked: int
    released: int
    transferred: int
    unchanged: int
    reasons: list[str]
    error_count: int
    errors: list[ErrorDetail]


def snapshot_result(snapshot: Snapshot) -> dict[str, Any]:
    return {
        "snapshot_id": snapshot.pk, "status": snapshot.status, "booked": snapshot.booked,
        "released": snapshot.released, "transferred": snapshot.transferred, "unchanged": snapshot.unchanged,
        "reasons": snapshot.reasons, "error_count": snapshot.error_count, "errors": snapshot.errors,
    }


@router.put(
    "/rosters/{facility_code}",
    auth=AgencyKey(),
    response={200: SnapshotOut, 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 404: ErrorResponse,
              413: ErrorResponse, 422: ErrorResponse, 503: ErrorResponse},
    summary="Send a full roster snapshot of a facility",
    # No body is an empty snapshot (quarantined for review, never applied), so the body is not required.
    openapi_extra={"requestBody": {"required": False, "content": {
        "text/csv": {"schema": {"type": "string"}},
        "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
    }}},
)
def roster_put(request: HttpRequest, facility_code: str,
               as_of: Annotated[datetime, BeforeValidator(_not_a_number)] | None = None) -> dict[str, Any]:
    """Diff a snapshot (CSV with a header, or a JSON list) of who is in custody now against vinex's records.

    The result is ``applied`` (events derived and notified) or ``quarantined`` (held for staff review,
    nothing notified). Bad rows are listed in ``errors`` and skipped; their people keep their status.
    ``as_of`` is the moment the snapshot describes (default: when it arrives; never later than that): a
    snapshot older than one already applied is ``rejected`` and changes nothing.
    """
    key = require_scope(request, "rosters:write")
    facility = Facility.objects.select_related("agency").filter(agency=key.agency, code=facility_code).first()
    if facility is None:
        raise Http404
    with _one_roster_import_per_host(), tempfile.TemporaryDirectory(prefix="vinex-upload-") as folder:
        path = Path(folder) / "roster"
        digest, population = _receive(request, path, facility)
        try:
            snapshot = roster_import(facility=facility, path=path, origin="api", content_hash=digest,
                                     content_type=request.content_type or "", actor=Actor.agency(key.agency.code),
                                     received_at=min(as_of, timezone.now()) if as_of else None,
                                     population=population)
        except RosterFormatError as error:
            raise NinjaValidationError([{"loc": error.loc, "msg": str(error), "type": "invalid_roster"}]) from None
    return snapshot_result(snapshot)


def _receive(request: HttpRequest, path: Path, facility: Facility) -> tuple[str, pl.Series | None]:
    """Copy the body to ``path`` and return its SHA-256, with the facility's population read meanwhile.

    The body is read as a stream (request.body would hold the whole roster in memory) in a thread of its
    own while the database builds the population outside the GIL, instead of after the upload. A
    population read long before the upload ended (a slow sender) may have changed since: it is dropped,
    and the import reads it again.
    """
    with ThreadPoolExecutor(1) as pool:
        receiving = pool.submit(copy_stream, request, path, limit=settings.VINEX_ROSTER_MAX_BYTES)
        population: pl.Series | None = selectors.population_ids(facility=facility)
        read_at = time.monotonic()
        try:
            digest, _ = receiving.result()
        except OverflowError:
            raise HttpError(413, "roster is too large") from None
    if time.monotonic() - read_at > _POPULATION_FRESH_SECONDS:
        population = None
    return digest, population


# --- Event batches ----------------------------------------------------------------------------------


def _item_errors(index: int, error: PydanticValidationError) -> list[dict[str, Any]]:
    return [
        {"loc": ["events", index, *e["loc"]], "msg": e["msg"].removeprefix("Value error, "), "type": e["type"]}
        for e in error.errors(include_url=False)
    ]


# The whole list in one call into pydantic-core: a batch of valid events (nearly every batch) is validated
# without a Python call per item. A batch with a bad item is validated again item by item, so that each
# bad item is rejected alone, with its own errors, and the others go on.
_EVENT_LIST = TypeAdapter(list[EventIn])


def _parse_items(raw_events: list[Any]) -> tuple[list[IncomingEvent], list[int], dict[int, ItemOutcome]]:
    """Validate each item alone; returns the valid ones, their positions, and outcomes for the rest."""
    try:
        events = _EVENT_LIST.validate_python(raw_events)
    except PydanticValidationError:
        return _parse_each(raw_events)
    valid = [IncomingEvent(data, payload_hash(raw)) for data, raw in zip(events, raw_events, strict=True)]
    return valid, list(range(len(raw_events))), {}


def _parse_each(raw_events: list[Any]) -> tuple[list[IncomingEvent], list[int], dict[int, ItemOutcome]]:
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


@events_router.post(
    "/custody-events",
    auth=AgencyKey(),
    response={200: EventBatchOut, 400: ErrorResponse, 401: ErrorResponse, 403: ErrorResponse, 413: ErrorResponse,
              422: ErrorResponse, 503: ErrorResponse},
    summary="Push a batch of custody events",
    # As published before the endpoint moved here from custody: clients generated from the document keep it.
    operation_id="vinex_custody_api_custody_events_post",
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
    with _batch_turn():
        return _batch_record(key, batch.events)


def _batch_record(key: ApiKey, raw_events: list[Any]) -> HttpResponse:
    valid, positions, rejected = _parse_items(raw_events)
    if rejected:
        events_rejected_count(source="api", n=len(rejected))
        events_rejected.send(sender=_batch_record, agency=key.agency, count=len(rejected), at=timezone.now())
    actor = Actor.agency(key.agency.code)
    ingested = events_ingest(agency=key.agency, events=valid, actor=actor,
                             hold=release_guard_for(agency=key.agency, actor=actor))
    outcomes = dict(rejected)
    for position, outcome in zip(positions, ingested, strict=True):
        for error in outcome.errors:
            error["loc"][1] = position  # the service numbers items among the valid ones
        outcomes[position] = outcome
    results = [{"event_id": o.event_id, "status": o.status, "errors": o.errors}
               for o in (outcomes[i] for i in range(len(raw_events)))]
    counts = Counter(result["status"] for result in results)
    body = {"accepted": counts["accepted"], "pending": counts["pending"], "duplicates": counts["duplicate"],
            "rejected": counts["rejected"], "results": results}
    # Built here already in the documented shape (EventBatchOut); re-validating 10,000 results through
    # the response schema would cost more than recording the events.
    return HttpResponse(orjson.dumps(body), content_type="application/json")

