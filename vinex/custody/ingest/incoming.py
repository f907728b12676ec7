"""A batch's items as they come in, and what becomes of each."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import Any, Literal, NamedTuple

import orjson

from vinex.custody.models import EventSource
from vinex.custody.schemas import EventIn

# "pending": recorded, but held out of the custody status until the events that explain it arrive.
Status = Literal["accepted", "pending", "duplicate", "rejected"]
# The outcomes of events that are written to the history.
RECORDED = frozenset({"accepted", "pending"})


class IncomingEvent(NamedTuple):
    """A validated event and where it came from (a tuple: batches build thousands)."""

    data: EventIn
    payload_hash: str
    source: str = EventSource.API
    source_ref: str = ""


@dataclass(slots=True)
class ItemOutcome:
    event_id: str | None
    status: Status
    errors: list[dict[str, Any]] = field(default_factory=list)


_CANONICAL_JSON = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def payload_hash(raw: Any) -> str:
    """SHA-256 of the payload as canonical JSON (sorted keys, no spaces, UTF-8)."""
    try:
        canonical = orjson.dumps(raw, default=str, option=orjson.OPT_SORT_KEYS)
    except orjson.JSONEncodeError:  # what orjson will not encode (a lone surrogate, a huge integer)
        canonical = _CANONICAL_JSON.encode(raw).encode("utf-8", "surrogatepass")
    return hashlib.sha256(canonical).hexdigest()
