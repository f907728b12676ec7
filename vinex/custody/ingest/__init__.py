"""Event ingestion in three parts: ``plan`` (what a batch does, from plain data), ``store`` (its reads and
writes) and ``service`` (the locks and the transaction around them)."""

from vinex.custody.ingest.plan import IncomingEvent, ItemOutcome, payload_hash
from vinex.custody.ingest.service import Recorded, event_ingest

__all__ = ["IncomingEvent", "ItemOutcome", "Recorded", "event_ingest", "payload_hash"]
