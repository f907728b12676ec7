"""One lease row per periodic job: who runs it now, and when it last started and finished."""

from __future__ import annotations

from django.db import models


class JobLease(models.Model):
    """Claimed by a conditional update, so schedulers on several machines never run one job twice at once.

    ``lease_until`` is set while a scheduler runs the job (renewed as it runs) and cleared when the job
    finishes; a lease left behind by a scheduler that died runs out, and another one takes the job over.
    """

    name = models.CharField(max_length=100, unique=True)
    owner = models.CharField(max_length=200, blank=True, help_text="The scheduler (host:pid:run) that ran it last.")
    lease_until = models.DateTimeField(null=True, blank=True)
    last_started_at = models.DateTimeField(null=True, blank=True)
    last_finished_at = models.DateTimeField(null=True, blank=True)
    last_error = models.CharField(max_length=300, blank=True, help_text="Empty when the last run succeeded.")

    def __str__(self) -> str:
        return self.name

