"""Events in → messages out: the one use case every source of custody events calls.

The event API, roster imports, pending departures, redress corrections and the demo all record events
through ``events_ingest``. Custody records the events (it knows nobody who listens); this module hands
it who follows the people concerned, and in the same transaction records the contacts agencies sent and
queues the messages, so an event and its messages are committed together or not at all.
"""

from vinex.custody.ingest import IncomingEvent, ItemOutcome, payload_hash
from vinex.pipeline.events import events_ingest

__all__ = ["IncomingEvent", "ItemOutcome", "events_ingest", "payload_hash"]
