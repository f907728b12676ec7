"""What a probable pair that looks like two relatives becomes (``VINEX_LINKAGE_CONTRADICTIONS_TO_REVIEW``).

Apart from the engine, which loads polars and Django's settings, so that the settings can check the value.
"""

ALWAYS, IN_VIEW, OFF = "always", "in_view", "off"
GUARDS = (ALWAYS, IN_VIEW, OFF)
