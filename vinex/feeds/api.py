"""HTTP endpoint for roster snapshots: stream the body to a file, hand it to the import service."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any, Literal

from django.conf import settings
from django.http import Http404, HttpRequest
from ninja import Router, Schema
from ninja.errors import HttpError
from ninja.errors import ValidationError as NinjaValidationError

from vinex.custody.api import AgencyKey, require_scope
from vinex.custody.models import Facility
from vinex.custody.schemas import ErrorDetail, ErrorResponse
from vinex.feeds.models import Snapshot
from vinex.feeds.parsing import RosterFormatError, copy_stream
from vinex.feeds.services import roster_import

router = Router(tags=["feeds"])


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
              413: ErrorResponse, 422: ErrorResponse},
    summary="Send a full roster snapshot of a facility",
    openapi_extra={"requestBody": {"required": True, "content": {
        "text/csv": {"schema": {"type": "string"}},
        "application/json": {"schema": {"type": "array", "items": {"type": "object"}}},
    }}},
)
def roster_put(request: HttpRequest, facility_code: str) -> dict[str, Any]:
    """Diff a snapshot (CSV with a header, or a JSON list) of who is in custody now against vinex's records.

    The result is ``applied`` (events derived and notified) or ``quarantined`` (held for staff review,
    nothing notified). Bad rows are listed in ``errors`` and skipped; their people keep their status.
    """
    key = require_scope(request, "rosters:write")
    facility = Facility.objects.select_related("agency").filter(agency=key.agency, code=facility_code).first()
    if facility is None:
        raise Http404
    with tempfile.TemporaryDirectory(prefix="vinex-upload-") as folder:
        path = Path(folder) / "roster"
        try:
            # Read the request as a stream: request.body would hold the whole roster in memory.
            digest, _ = copy_stream(request, path, limit=settings.VINEX_ROSTER_MAX_BYTES)
        except OverflowError:
            raise HttpError(413, "roster is too large") from None
        try:
            snapshot = roster_import(facility=facility, path=path, origin="api", content_hash=digest,
                                     content_type=request.content_type or "")
        except RosterFormatError as error:
            raise NinjaValidationError([{"loc": error.loc, "msg": str(error), "type": "invalid_roster"}]) from None
    return snapshot_result(snapshot)
