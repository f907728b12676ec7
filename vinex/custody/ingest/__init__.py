"""Event ingestion in three parts: ``plan`` (what a batch does, worked out from plain data), ``store`` (its
reads and writes, the only SQL of ingest) and ``service`` (the locks and the transaction around them);
``incoming`` holds the items a batch is made of and the outcome of each."""

from vinex.custody.ingest.incoming import IncomingEvent, ItemOutcome, payload_hash
from vinex.custody.ingest.service import FacilitiesChanged, Recorded, event_ingest

__all__ = ["FacilitiesChanged", "IncomingEvent", "ItemOutcome", "Recorded", "event_ingest", "payload_hash"]
