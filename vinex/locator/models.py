"""Rate-limit counters, kept in the database so every server process shares them."""

from __future__ import annotations

from django.db import models


class RateCounter(models.Model):
    """Hits on one key in one fixed window. ``key`` is a keyed hash, never an address or session id."""

    key = models.CharField(max_length=64)
    window_start = models.BigIntegerField(help_text="Unix time the window began.")
    hits = models.PositiveIntegerField(default=0)
    expires_at = models.DateTimeField(db_index=True)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["key", "window_start"], name="rate_counter_unique")]

    def __str__(self) -> str:
        return f"rate counter {self.key[:8]}… {self.hits}"
