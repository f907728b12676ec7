"""What linkage decided and why: every link decision, the pairs waiting for a person, and how to undo a merge.

A merge moves subjects and subscriptions from one Person into another. Each move is recorded, so that an
unlink puts back exactly what the wrong link moved, and nothing else.
"""

from __future__ import annotations

from django.db import models
from django.db.models import F, Q

from vinex.core.constraints import one_of
from vinex.custody.models import Person, Subject
from vinex.notify.models import Subscription

SYSTEM = "system"


class Decision(models.TextChoices):
    LINKED = "linked"
    KEPT_APART = "kept_apart"
    REVIEW = "review"


class LinkDecision(models.Model):
    """One decision about a pair of subjects: linked, kept apart, or sent to a reviewer."""

    left = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="+")
    right = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="+")
    probability = models.FloatField()
    rule = models.CharField(max_length=40, blank=True, help_text="The deterministic rule behind a link, if any.")
    evidence = models.JSONField(default=list, help_text="What agrees, in words a reviewer reads.")
    decision = models.CharField(max_length=12, choices=Decision.choices)
    # ``system`` for the automatic decisions of ingest, else the staff actor (``user:<id>``).
    decided_by = models.CharField(max_length=64, default=SYSTEM)
    reason = models.CharField(max_length=300, blank=True)
    decided_at = models.DateTimeField()
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.CharField(max_length=64, blank=True)
    undo_reason = models.CharField(max_length=300, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=one_of("decision", Decision.values), name="link_decision_valid"),
            models.CheckConstraint(condition=~Q(left=F("right")), name="link_decision_two_subjects"),
        ]
        indexes = [models.Index(fields=["left", "right"]), models.Index(fields=["right"])]

    def __str__(self) -> str:
        return f"{self.decision} {self.left_id}~{self.right_id}"


class ReviewItem(models.Model):
    """A candidate pair in the review band, waiting for a privacy officer or an agency operator."""

    # The lower subject id on the left, so a pair has one row whatever order it was found in.
    left = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="+")
    right = models.ForeignKey(Subject, on_delete=models.CASCADE, related_name="+")
    probability = models.FloatField()
    evidence = models.JSONField(default=list)
    created_at = models.DateTimeField()
    resolved_at = models.DateTimeField(null=True, blank=True)
    resolution = models.ForeignKey(LinkDecision, on_delete=models.PROTECT, null=True, blank=True, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["left", "right"], name="review_item_unique_pair"),
            models.CheckConstraint(condition=Q(left__lt=F("right")), name="review_item_left_first"),
        ]
        indexes = [models.Index(fields=["resolved_at", "created_at"])]

    def __str__(self) -> str:
        return f"review {self.left_id}~{self.right_id}"


class SubjectMove(models.Model):
    """A subject a link moved from one Person into another (undone by an unlink)."""

    decision = models.ForeignKey(LinkDecision, on_delete=models.CASCADE, related_name="subject_moves")
    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="+")
    from_person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    into_person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")

    def __str__(self) -> str:
        return f"subject {self.subject_id}: person {self.from_person_id} -> {self.into_person_id}"


class SubscriptionMove(models.Model):
    """A subscription a link moved to the surviving Person, or suspended because its registrant already
    followed that Person (one active subscription per registrant and person)."""

    decision = models.ForeignKey(LinkDecision, on_delete=models.CASCADE, related_name="subscription_moves")
    subscription = models.ForeignKey(Subscription, on_delete=models.CASCADE, related_name="+")
    from_person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    into_person = models.ForeignKey(Person, on_delete=models.PROTECT, related_name="+")
    suspended = models.BooleanField(default=False)

    def __str__(self) -> str:
        return f"subscription {self.subscription_id}: person {self.from_person_id} -> {self.into_person_id}"


class SubscriptionSubject(models.Model):
    """The subject a registrant chose (the one her locator result named): her subscription stays with it
    when a wrong link is undone."""

    subscription = models.OneToOneField(Subscription, on_delete=models.CASCADE, related_name="+")
    subject = models.ForeignKey(Subject, on_delete=models.PROTECT, related_name="+")

    def __str__(self) -> str:
        return f"subscription {self.subscription_id} chose subject {self.subject_id}"


class LinkPending(models.Model):
    """A new or changed subject the model has yet to compare with other agencies' people.

    Ingest decides the deterministic rules in its own transaction and leaves one of these per subject;
    the ``linkage.pending`` job scores them with the model a few seconds later, outside any agency's
    write transaction, so a batch never waits for Splink.
    """

    subject = models.OneToOneField(Subject, on_delete=models.CASCADE, related_name="+")
    # Set again when the subject changes once more before the job runs: the job removes only the rows
    # whose time it read, so a change made while it worked is scored on its next run.
    queued_at = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["queued_at"])]

    def __str__(self) -> str:
        return f"subject {self.subject_id} waits for the model"
