"""Settings of the linkage app, read from the environment (imported by vinex.settings).

A pair at or above the link threshold is linked without a person looking; a pair at or above the
review threshold waits for a reviewer; anything lower is left apart. The defaults come from the
evaluation in bench/bench_linkage.py (see vinex/linkage/README.md).
"""

from __future__ import annotations

import os
import re

from django.core.exceptions import ImproperlyConfigured

from vinex.core.config import env_bool, env_float

VINEX_LINKAGE_LINK_THRESHOLD = env_float("VINEX_LINKAGE_LINK_THRESHOLD", default=0.999)
VINEX_LINKAGE_REVIEW_THRESHOLD = env_float("VINEX_LINKAGE_REVIEW_THRESHOLD", default=0.5)
if not 0 < VINEX_LINKAGE_REVIEW_THRESHOLD < VINEX_LINKAGE_LINK_THRESHOLD <= 1:
    raise ImproperlyConfigured(
        "linkage thresholds need 0 < VINEX_LINKAGE_REVIEW_THRESHOLD < VINEX_LINKAGE_LINK_THRESHOLD <= 1, got "
        f"{VINEX_LINKAGE_REVIEW_THRESHOLD} and {VINEX_LINKAGE_LINK_THRESHOLD}"
    )
# A pair that looks like two relatives waits for a reviewer however probable the model finds it: first
# names that agree at no level or are one name's male and female forms (twins), records of the other
# sex, birthdays a generation apart (a father and the son named after him), or one household with the
# first name or birthday missing on one side where nothing else tells them apart (engine.contradiction).
# Switching this off links more without a person, and risks linking them.
VINEX_LINKAGE_CONTRADICTIONS_TO_REVIEW = env_bool("VINEX_LINKAGE_CONTRADICTIONS_TO_REVIEW", default=True)
# Memory DuckDB may use while matching before it spills to disk (DuckDB's syntax: "2GB", "512MB").
VINEX_LINKAGE_MEMORY_LIMIT = os.environ.get("VINEX_LINKAGE_MEMORY_LIMIT", "") or "2GB"
if not re.fullmatch(r"\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)", VINEX_LINKAGE_MEMORY_LIMIT, re.IGNORECASE):
    raise ImproperlyConfigured(
        f"VINEX_LINKAGE_MEMORY_LIMIT must look like 2GB or 512MB, got {VINEX_LINKAGE_MEMORY_LIMIT!r}")
