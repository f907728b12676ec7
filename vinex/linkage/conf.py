"""Settings of the linkage app, read from the environment (imported by vinex.settings).

A pair at or above the link threshold is linked without a person looking; a pair at or above the
review threshold waits for a reviewer; anything lower is left apart. The defaults come from the
evaluation in bench/bench_linkage.py (see vinex/linkage/README.md).
"""

from __future__ import annotations

import os
import re

from django.core.exceptions import ImproperlyConfigured

from vinex.core.config import env_float
from vinex.linkage import guards

VINEX_LINKAGE_LINK_THRESHOLD = env_float("VINEX_LINKAGE_LINK_THRESHOLD", default=0.997)
VINEX_LINKAGE_REVIEW_THRESHOLD = env_float("VINEX_LINKAGE_REVIEW_THRESHOLD", default=0.5)
if not 0 < VINEX_LINKAGE_REVIEW_THRESHOLD < VINEX_LINKAGE_LINK_THRESHOLD <= 1:
    raise ImproperlyConfigured(
        "linkage thresholds need 0 < VINEX_LINKAGE_REVIEW_THRESHOLD < VINEX_LINKAGE_LINK_THRESHOLD <= 1, got "
        f"{VINEX_LINKAGE_REVIEW_THRESHOLD} and {VINEX_LINKAGE_LINK_THRESHOLD}"
    )
# A pair that looks like two relatives (engine.contradiction: first names that agree at no level or are one
# name's male and female forms, records of the other sex, birthdays a generation apart, one household with
# the first name or birthday missing on one side) may still be probable enough to link. What then:
# - ``in_view`` (default): it waits for a reviewer when a relative is in view, that is another record of the
#   same household (surname and street, or surname and birthday) of one side that is not that side's own
#   person (a twin's record, the father's beside the son's); without one it links on its probability, the
#   contradiction written in its evidence. The price: a twin whose brother is not (yet) in the data links.
# - ``always``: it always waits for a reviewer (the strict guard; ``1``/``true`` mean this too).
# - ``off``: it links on its probability alone (``0``/``false``); don't.
_GUARD_WORDS = {"1": guards.ALWAYS, "true": guards.ALWAYS, "yes": guards.ALWAYS, "on": guards.ALWAYS,
                "0": guards.OFF, "false": guards.OFF, "no": guards.OFF}
_guard = (os.environ.get("VINEX_LINKAGE_CONTRADICTIONS_TO_REVIEW", "") or guards.IN_VIEW).strip().lower()
VINEX_LINKAGE_CONTRADICTIONS_TO_REVIEW = _GUARD_WORDS.get(_guard, _guard)
if VINEX_LINKAGE_CONTRADICTIONS_TO_REVIEW not in guards.GUARDS:
    raise ImproperlyConfigured(
        f"VINEX_LINKAGE_CONTRADICTIONS_TO_REVIEW must be one of {', '.join(guards.GUARDS)}, got {_guard!r}")
# Memory DuckDB may use while matching before it spills to disk (DuckDB's syntax: "2GB", "512MB").
VINEX_LINKAGE_MEMORY_LIMIT = os.environ.get("VINEX_LINKAGE_MEMORY_LIMIT", "") or "2GB"
if not re.fullmatch(r"\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", VINEX_LINKAGE_MEMORY_LIMIT, re.IGNORECASE):
    raise ImproperlyConfigured(
        f"VINEX_LINKAGE_MEMORY_LIMIT must look like 2GB or 512MB, got {VINEX_LINKAGE_MEMORY_LIMIT!r}")
