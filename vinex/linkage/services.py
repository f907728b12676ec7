"""Writes of linkage: link subjects as they arrive, merge and unmerge people, work the review queue.

``SubjectLinker`` is what the events use case hands to custody's ingest: it matches each batch's new and
changed subjects inside the ingest transaction, through the same ``pairs_score`` (model and thresholds) as
``vinex linkage match``. A link moves subjects and subscriptions into the surviving (older) Person and
records every move, so ``link_undo`` can put them back.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, NamedTuple

from django.db import OperationalError, connection
from django.utils import timezone

from vinex.audit.unit import Actor, audit_unit
from vinex.core.bulk import ids_reserve, rows_insert, rows_select, rows_update
from vinex.custody.models import CustodyEvent, CustodyStatus, Subject
from vinex.linkage import names
from vinex.linkage.candidates import Identity, agency_states, identifier_leads
from vinex.linkage.models import (
    Decision,
    LinkDecision,
    LinkPending,
    ReviewItem,
    SubjectMove,
    SubscriptionMove,
    SubscriptionSubject,
)
from vinex.linkage.rules import LINK_RULES, pair_rules
from vinex.notify import lifecycle
from vinex.notify.messages import correction_notice
from vinex.notify.models import Contact, Notification, Subscription, SubscriptionStatus
from vinex.notify.selectors import person_ids_followed
from vinex.notify.services import OUTBOX_CHANNELS, notification_enqueue_direct, notification_enqueue_for_contacts

if TYPE_CHECKING:
    import polars as pl

_LINK_LOCK_SPACE = 7302  # PostgreSQL advisory-lock namespace of merges (ingest uses 7301)
_INLINE_LOCK_TIMEOUT = "500ms"
_PENDING_BATCH = 1000  # subjects per transaction of the pending job
logger = logging.getLogger(__name__)
_HEARINGS = ("HEARING_SCHEDULED", "HEARING_RESCHEDULED", "HEARING_CANCELLED")
_STRONG = ("a_number", "fbi_number")
_LINK = "link"  # engine.LINK: the decision of a pair at or above the link threshold
_RULE_WORDS = {rule.code: rule.description for rule in LINK_RULES}
_HELD_APART = "both are in custody right now, at two agencies"


# Who links on ingest: vinex itself, inside the agency's transaction (its entries join that unit).
LINKER = Actor.system("linkage")


def _audit(actor: Actor, action: str, object_type: str, ids: Sequence[object], purpose: str) -> None:
    """The one audit call of linkage's writes (ids only, never values), added to the transaction's unit."""
    with audit_unit(actor=actor, savepoint=False) as unit:
        unit.add_many(action, object_type, ids, purpose=purpose)


# --- Linking inside ingest --------------------------------------------------------------------------


@dataclass
class _Merge:
    decision_id: int
    survivor: int
    gone_subjects: set[int]
    moved_subscriptions: set[int]


class _MergesBusy(Exception):
    """Another transaction is merging people: ingest leaves its links to the job rather than wait."""


@dataclass
class SubjectLinker:
    """Links one batch's subjects (``link``), then tells the followers a merge brought the newest custody
    state of the person they now follow, once (``followers_catch_up``).

    Inside ingest (``model=False``) only the deterministic rules decide, through indexed lookups, and
    every subject is queued for the model (``LinkPending``); the ``linkage.pending`` job links with
    ``model=True``: name candidates too, scored by ``pairs_score``, outside any agency's transaction.
    """

    model: bool = False
    merges: list[_Merge] = field(default_factory=list)

    def link(self, subject_ids: list[int]) -> dict[int, int]:
        """Match these subjects against other agencies' people; returns the new person of each subject moved."""
        if self.model:
            return self._decide(_model_pairs(subject_ids), wait=True)
        pending_add(subject_ids)
        # Reads only, before any lock: most batches share no identifier with anybody and stop here.
        pairs = _rule_pairs(subject_ids)
        if not pairs:
            return {}
        try:
            # A savepoint of its own: a link that would wait for another agency's transaction (a lock
            # held, a deadlock) is undone alone and left to the job, and the batch goes on.
            with audit_unit(actor=LINKER), _lock_timeout():
                return self._decide(pairs, wait=False)
        except (_MergesBusy, OperationalError) as error:
            logger.info("linking left to the pending job", extra={"subjects": len(subject_ids), "why": repr(error)})
            return {}

    def _decide(self, pairs: list[_Pair], *, wait: bool) -> dict[int, int]:
        if not pairs:
            return {}
        _merges_lock(wait=wait)
        plan = _Plan.load(pairs)
        for pair in pairs:
            plan.decide(pair)
        merges, moved = plan.write()
        self.merges.extend(merges)
        return moved

    def followers_catch_up(self, *, notified: Sequence[CustodyEvent]) -> list[Notification]:
        """Tell each follower a merge joined to a new part of the story its newest custody event, unless the
        batch already did: the newest state once, not a replay of history."""
        if not self.merges:
            return []
        followed = person_ids_followed(person_ids={m.survivor for m in self.merges})
        sent = {e.pk for e in notified}
        created: list[Notification] = []
        for merge in (m for m in self.merges if m.survivor in followed):
            newest = _newest_custody_event(merge.survivor)
            if newest is None or newest.pk in sent:
                continue
            created.extend(_tell(newest, _new_listeners(merge, newest)))
        return created


def _merges_lock(*, wait: bool = True) -> None:
    """On PostgreSQL, one merge at a time across agencies (each agency's ingest has its own lock). Ingest
    does not wait (``wait=False``): it raises ``_MergesBusy`` and leaves the link to the job, so two
    agencies' batches never wait for each other in opposite orders."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        if wait:
            cursor.execute("SELECT pg_advisory_xact_lock(%s, 0)", [_LINK_LOCK_SPACE])
            return
        cursor.execute("SELECT pg_try_advisory_xact_lock(%s, 0)", [_LINK_LOCK_SPACE])
        row = cursor.fetchone()
        if not (row and row[0]):
            raise _MergesBusy


@contextmanager
def _lock_timeout() -> Iterator[None]:
    """On PostgreSQL, give up waiting for a row lock after ``_INLINE_LOCK_TIMEOUT`` (shorter than the
    server's one-second deadlock check, so the link gives way before anyone's batch is aborted)."""
    if connection.vendor != "postgresql":
        yield
        return
    with connection.cursor() as cursor:
        # One round trip: the materialised CTE row (the old value) is read before the outer row sets the new one.
        cursor.execute("WITH old AS MATERIALIZED (SELECT current_setting('lock_timeout') AS setting) "
                       "SELECT setting, set_config('lock_timeout', %s, true) FROM old", [_INLINE_LOCK_TIMEOUT])
        row = cursor.fetchone()
    yield
    # Only after a clean exit: after an error the savepoint's rollback puts the setting back itself.
    with connection.cursor() as cursor:
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [row[0] if row else "0"])


def pending_add(subject_ids: Sequence[int], *, now: datetime | None = None) -> None:
    """Queue these subjects for the model (once each; a subject queued again gets the new time, so a job
    already working on its old row leaves the new one for its next run): one statement per chunk."""
    if not subject_ids:
        return
    queued_at = connection.ops.adapt_datetimefield_value(now or timezone.now())
    quote = connection.ops.quote_name
    table, subject, at = (quote(LinkPending._meta.db_table), quote(LinkPending._meta.get_field("subject").column),
                          quote("queued_at"))
    wanted = list(subject_ids)
    chunk = (connection.features.max_query_params or len(wanted) + 1) - 1
    with connection.cursor() as cursor:
        for start in range(0, len(wanted), chunk):
            part = wanted[start:start + chunk]
            # ``WHERE true`` keeps SQLite from reading ON CONFLICT as part of the SELECT's join.
            cursor.execute(
                f"INSERT INTO {table} ({subject}, {at}) SELECT v.column1, %s FROM "  # noqa: S608
                f"(VALUES {', '.join(['(%s)'] * len(part))}) v WHERE true "
                f"ON CONFLICT ({subject}) DO UPDATE SET {at} = excluded.{at}", [queued_at, *part])


def pending_link(*, now: datetime, batch: int = _PENDING_BATCH) -> int:
    """The ``linkage.pending`` job: score the queued subjects with the model, a batch per transaction, merge
    what links (followers hear the newest custody state once) and queue the rest for review. Returns how
    many subjects it looked at."""
    done = 0
    while True:
        waiting = list(LinkPending.objects.order_by("queued_at", "pk")
                       .values_list("pk", "subject_id", "queued_at")[:batch])
        if not waiting:
            return done
        with audit_unit(actor=LINKER):
            linker = SubjectLinker(model=True)
            linker.link([subject for _, subject, _ in waiting])
            linker.followers_catch_up(notified=[])
            by_time: dict[datetime, list[int]] = {}
            for pk, _, queued_at in waiting:
                by_time.setdefault(queued_at, []).append(pk)
            for queued_at, pks in by_time.items():
                # A row queued again meanwhile has a newer time and stays for the next run.
                LinkPending.objects.filter(pk__in=pks, queued_at=queued_at).delete()
        done += len(waiting)
        if len(waiting) < batch:
            return done


class _Pair(NamedTuple):
    """A pair of subjects to decide (ids), as ``pairs_score`` returns it."""

    left: int
    right: int
    probability: float
    decision: str  # ``link`` or ``review``
    rule: str
    evidence: list[str]
    contradiction: str = ""  # why the pair looks like two relatives (``engine.contradiction``), or empty


def _rule_pairs(subject_ids: Sequence[int]) -> list[_Pair]:
    """The pairs of these subjects and other agencies' that a deterministic rule links (and none blocks),
    decided in plain Python over the few leads that share an identifier: no frame, no model."""
    leads = identifier_leads(subject_ids)
    if not leads:
        return []
    # A state means the same for every subject of its agencies: normalised once per agency.
    states = {agency: names.address_clean(state) for agency, state in
              agency_states({identity.agency_id for lead in leads for identity in lead}).items()}
    features: dict[int, dict[str, str | None]] = {}
    pairs: dict[tuple[int, int], _Pair] = {}
    for subject, candidate in leads:
        for identity in (subject, candidate):
            if identity.id not in features:
                features[identity.id] = _rule_features(identity, states.get(identity.agency_id))
        outcome = pair_rules(features[subject.id], features[candidate.id])
        if outcome.linked and outcome.link is not None:
            pairs[(subject.id, candidate.id)] = _Pair(subject.id, candidate.id, 1.0, _LINK, outcome.link,
                                                      [_RULE_WORDS[outcome.link]])
    return sorted(pairs.values(), key=lambda p: (p.left, p.right))


def _rule_features(identity: Identity, state: str | None) -> dict[str, str | None]:
    """What the rules compare of a subject, normalised as ``features_build`` does for ``records_frame``
    (``state`` already normalised)."""
    born = identity.date_of_birth
    return {"a_number": names.a_number_clean(identity.a_number or None),
            "fbi_number": names.identifier_clean(identity.fbi_number or None),
            "state_id": names.identifier_clean(identity.state_id or None),
            "state": state,
            "country_of_birth": names.country_clean(identity.country_of_birth or None),
            "date_of_birth": names.date_clean(born.isoformat()) if born else None}


def _model_pairs(subject_ids: Sequence[int]) -> list[_Pair]:
    """The job's pairs: candidates by identifier and by name and birthday, decided by the rules where they
    can and scored by the model otherwise; highest probability first, each pair once."""
    import polars as pl  # the model's side only: ingest never builds a frame

    from vinex.linkage.candidates import candidates_find, identities_load, records_frame
    from vinex.linkage.engine import pairs_score

    subjects = identities_load(subject_ids)
    candidates, leads = candidates_find(subjects, names=True)
    if not candidates:
        return []
    # Only the subjects that have a candidate are compared: the cost follows the leads, not the batch.
    led = {pair[0] for pair in leads}
    subjects = [s for s in subjects if str(s.id) in led]
    states = agency_states({i.agency_id for i in [*subjects, *candidates]})
    left, right = records_frame(subjects, states), records_frame(candidates, states)
    scored, undecided = _rules_first(left, right, leads)
    if undecided:
        # The model only for the records the rules left open: its cost grows with the records it is given.
        chosen = left.filter(pl.col("record_id").is_in(list({pair[0] for pair in undecided})))
        others = right.filter(pl.col("record_id").is_in(list({pair[1] for pair in undecided})))
        # Subjects of one person are his own records, never each other's relatives (engine.relatives_in_view).
        people = {str(i.id): str(i.person_id) for i in [*subjects, *candidates]}
        scored = pl.concat([scored, pairs_score(chosen, others, people=people)], how="diagonal_relaxed")
    pairs: dict[tuple[int, int], _Pair] = {}
    for row in scored.sort("probability", "left_id", "right_id", descending=[True, False, False]).iter_rows(
            named=True):
        key = (int(row["left_id"]), int(row["right_id"]))
        if key not in pairs:
            pairs[key] = _Pair(*key, float(row["probability"]), str(row["decision"]), str(row["rule"] or ""),
                               list(row["evidence"] or []), str(row.get("contradiction") or ""))
    return _held_apart_waits(list(pairs.values()), {i.id: i.person_id for i in [*subjects, *candidates]})


def _held_apart_waits(pairs: list[_Pair], person_of: dict[int, int]) -> list[_Pair]:
    """A pair that looks like two relatives and would link on its probability (no relative in view) waits for a
    reviewer after all when its two people are in custody right now at two different agencies: one man is not
    held in two places at once, so one is more likely the other's twin or son. One indexed read of the few
    such pairs' people (a handover whose release has not arrived yet waits too: a person decides)."""
    doubtful = [p for p in pairs if p.decision == _LINK and p.contradiction
                and p.left in person_of and p.right in person_of]
    if not doubtful:
        return pairs
    held: dict[int, set[int]] = {}
    people = sorted({person_of[i] for p in doubtful for i in (p.left, p.right)})
    for person, agency in rows_select(Subject, ("person_id", "agency_id"), among=("person_id", people),
                                      where=[("status", CustodyStatus.IN_CUSTODY)]):
        held.setdefault(person, set()).add(agency)

    def apart(pair: _Pair) -> bool:
        here, there = held.get(person_of[pair.left], set()), held.get(person_of[pair.right], set())
        return any(a != b for a in here for b in there)

    waiting = {(p.left, p.right) for p in doubtful if apart(p)}
    return [p._replace(decision=Decision.REVIEW.value, evidence=[*p.evidence, _HELD_APART])
            if (p.left, p.right) in waiting else p for p in pairs]


def _rules_first(left: pl.DataFrame, right: pl.DataFrame, leads: set[tuple[str, str]]) -> tuple[
    pl.DataFrame, set[tuple[str, str]]
]:
    """Pairs the deterministic rules decide (as ``pairs_score`` rows), and the candidate pairs they leave to
    the model: every pair of a subject and a candidate found for it by name and birthday, or sharing an
    identifier that neither links nor blocks them."""
    import polars as pl

    from vinex.linkage.features import features_build
    from vinex.linkage.rules import identifier_pairs, rules_apply

    features_l, features_r = features_build(left, label="left"), features_build(right, label="right")
    strong = identifier_pairs(features_l, features_r)
    pairs = rules_apply(strong.join(features_l.rename(lambda c: f"{c}_l"), on="unique_id_l")
                        .join(features_r.rename(lambda c: f"{c}_r"), on="unique_id_r"))
    linked = pairs.filter(pl.col("rule_link").is_not_null() & pl.col("rule_block").is_null())
    ruled = linked.select(left_id="unique_id_l", right_id="unique_id_r", probability=pl.lit(1.0),
                          decision=pl.lit(_LINK), rule="rule_link",
                          evidence=pl.concat_list(pl.col("rule_link").replace_strict(_RULE_WORDS,
                                                                                     return_dtype=pl.Utf8)))
    either = pl.col("rule_link").is_not_null() | pl.col("rule_block").is_not_null()
    decided = {(r[0], r[1]) for r in pairs.filter(either).select("unique_id_l", "unique_id_r").iter_rows()}
    return ruled, leads - decided


@dataclass
class _Plan:
    """A batch's link decisions worked out in memory from what it read once (subjects, their people's
    subjects, identifiers and subscriptions, pairs people kept apart), then written in a few statements."""

    person_of: dict[int, int]
    agency_of: dict[int, int]
    apart: set[frozenset[int]]
    strong: dict[int, dict[str, set[str]]]
    members: dict[int, set[int]]
    followers: dict[int, list[tuple[int, int]]]  # person -> (subscription, registrant)
    parent: dict[int, int] = field(default_factory=dict)
    decisions: list[_Decided] = field(default_factory=list)
    subject_moves: list[tuple[int, int, int, int]] = field(default_factory=list)  # decision, subject, from, into
    subscription_moves: list[tuple[int, int, int, int, bool]] = field(default_factory=list)  # ..., duplicate
    reviews: list[tuple[int, int, float, list[str]]] = field(default_factory=list)

    @classmethod
    def load(cls, pairs: Sequence[_Pair]) -> _Plan:
        # Raw reads (``rows_select``): building the ORM's queries would cost more than running them.
        ids = {i for pair in pairs for i in (pair.left, pair.right)}
        person_of: dict[int, int] = dict(rows_select(Subject, ("id", "person_id"), among=("id", list(ids))))
        people = list(set(person_of.values()))
        agency_of: dict[int, int] = {}
        members: dict[int, set[int]] = {}
        strong: dict[int, dict[str, set[str]]] = {}
        for pk, person, agency, *values in rows_select(Subject, ("id", "person_id", "agency_id", *_STRONG),
                                                       among=("person_id", people)):
            members.setdefault(person, set()).add(pk)
            agency_of[pk] = agency
            for column, value in zip(_STRONG, values, strict=True):
                if value:
                    strong.setdefault(person, {}).setdefault(column, set()).add(value)
        followers: dict[int, list[tuple[int, int]]] = {}
        for pk, person, registrant in rows_select(Subscription, ("id", "person_id", "registrant_id"),
                                                  among=("person_id", people)):
            followers.setdefault(person, []).append((pk, registrant))
        apart = {frozenset((left, right)) for left, right, decision, undone_at in rows_select(
            LinkDecision, ("left_id", "right_id", "decision", "undone_at"), among=("left_id", list(ids)))
            if right in ids and (decision == Decision.KEPT_APART or undone_at is not None)}
        return cls(person_of, agency_of, apart, strong, members, followers)

    def root(self, person: int) -> int:
        while person in self.parent:
            person = self.parent[person]
        return person

    def decide(self, pair: _Pair) -> None:
        """Link the pair's people, queue it for review, or do nothing (same agency, same person, kept apart)."""
        left, right = pair.left, pair.right
        if left not in self.person_of or right not in self.person_of:
            return
        a, b = self.root(self.person_of[left]), self.root(self.person_of[right])
        if a == b or self.agency_of[left] == self.agency_of[right] or frozenset((left, right)) in self.apart:
            return
        probability, evidence, rule = pair.probability, pair.evidence, pair.rule
        if pair.decision != _LINK or self._conflict(a, b):
            self.reviews.append((left, right, probability, evidence))
            return
        self.decisions.append(_Decided(left, right, probability, rule, evidence))
        self._merge(len(self.decisions) - 1, min(a, b), max(a, b))

    def _conflict(self, a: int, b: int) -> bool:
        return _identifiers_conflict(self.strong.get(a, {}), self.strong.get(b, {}))

    def _merge(self, index: int, survivor: int, gone: int) -> None:
        self.parent[gone] = survivor
        for subject in self.members.get(gone, set()):
            self.subject_moves.append((index, subject, gone, survivor))
        self.members.setdefault(survivor, set()).update(self.members.pop(gone, set()))
        for column, values in self.strong.pop(gone, {}).items():
            self.strong.setdefault(survivor, {}).setdefault(column, set()).update(values)
        staying = self.followers.setdefault(survivor, [])
        registrants = {registrant for _, registrant in staying}
        for subscription, registrant in self.followers.pop(gone, []):
            # She follows both ends: one active subscription stays, the other rests until an unlink.
            duplicate = registrant in registrants
            self.subscription_moves.append((index, subscription, gone, survivor, duplicate))
            if not duplicate:
                staying.append((subscription, registrant))

    def write(self) -> tuple[list[_Merge], dict[int, int]]:
        """Write the decisions, moves and review items; returns the merges and each moved subject's person."""
        decision_ids = _decisions_insert(self.decisions)
        rows_insert(SubjectMove, ("decision_id", "subject_id", "from_person_id", "into_person_id"),
                    [(decision_ids[i], s, f, t) for i, s, f, t in self.subject_moves])
        rows_insert(SubscriptionMove, ("decision_id", "subscription_id", "from_person_id", "into_person_id",
                                       "suspended"), [(decision_ids[i], s, f, t, d)
                                                      for i, s, f, t, d in self.subscription_moves])
        moved = {subject: self.root(to) for _, subject, _, to in self.subject_moves}
        _update_people(Subject, moved)
        resting = [s for _, s, _, _, duplicate in self.subscription_moves if duplicate]
        if resting:
            for subscription in Subscription.objects.filter(pk__in=resting, status=SubscriptionStatus.ACTIVE):
                lifecycle.subscription_move(subscription=subscription, to=SubscriptionStatus.SUSPENDED)
        _update_people(Subscription, {s: self.root(to) for _, s, _, to, duplicate in self.subscription_moves
                                      if not duplicate})
        reviewed = [d.pk for d in (_review_add(*review) for review in self.reviews) if d is not None]
        gone_subjects: dict[int, set[int]] = {}
        for index, subject, _, _ in self.subject_moves:
            gone_subjects.setdefault(index, set()).add(subject)
        moved_subscriptions: dict[int, set[int]] = {}
        for index, subscription_id, _, _, duplicate in self.subscription_moves:
            if not duplicate:
                moved_subscriptions.setdefault(index, set()).add(subscription_id)
        merges = [_Merge(decision_ids[index], self.root(self.person_of[decided.left]),
                         gone_subjects.get(index, set()), moved_subscriptions.get(index, set()))
                  for index, decided in enumerate(self.decisions)]
        every = [*decision_ids, *reviewed]
        if every:
            _audit(LINKER, "create", "link_decision", every, "linked or sent to review on ingest")
        if self.parent:
            _audit(LINKER, "update", "person", sorted(self.parent), "merged into another person on ingest")
        return merges, moved


class _Decided(NamedTuple):
    """A link the machine decided, before it is written."""

    left: int
    right: int
    probability: float
    rule: str
    evidence: list[str]


def _decisions_insert(decided: Sequence[_Decided]) -> list[int]:
    """Write these links as ``LinkDecision`` rows (one prepared statement) and return their ids in order."""
    if not decided:
        return []
    ids = ids_reserve(LinkDecision, len(decided))
    ops = connection.ops
    at = ops.adapt_datetimefield_value(timezone.now())
    columns = ("id", "left_id", "right_id", "probability", "rule", "evidence", "decision", "decided_by", "reason",
               "decided_at", "undone_by", "undo_reason")
    column_of = {f.attname: f.column for f in LinkDecision._meta.concrete_fields}
    names = ", ".join(ops.quote_name(column_of[c]) for c in columns)
    rows = [(pk, d.left, d.right, d.probability, d.rule, ops.adapt_json_value(d.evidence, None), Decision.LINKED.value,
             LINKER.ref, "", at, "", "") for pk, d in zip(ids, decided, strict=True)]
    marks = ", ".join(["%s"] * len(columns))
    with connection.cursor() as cursor:
        # Raw: ``rows_insert`` refuses the JSON column, and ``bulk_create`` costs more than the insert itself.
        cursor.executemany(f"INSERT INTO {ops.quote_name(LinkDecision._meta.db_table)} ({names}) "  # noqa: S608
                           f"VALUES ({marks})", rows)
    return ids


def _update_people(model: type[Subject] | type[Subscription], person_of: dict[int, int]) -> None:
    """Set each row's person (one prepared statement, many rows)."""
    rows_update(model, ("person_id",), [(person, pk) for pk, person in sorted(person_of.items())])


def _identifiers_conflict(left: dict[str, set[str]], right: dict[str, set[str]]) -> bool:
    """True when two people's subjects carry, between them, two different A-numbers or FBI numbers
    (``left`` and ``right``: each person's values by identifier)."""
    return any(len(left.get(column, set()) | right.get(column, set())) > 1 for column in _STRONG)


def _strong_conflict(person_a: int, person_b: int) -> bool:
    """``_identifiers_conflict`` for two people as stored."""
    values: dict[str, set[str]] = {}
    for row in Subject.objects.filter(person_id__in=[person_a, person_b]).values_list(*_STRONG):
        for column, value in zip(_STRONG, row, strict=True):
            if value:
                values.setdefault(column, set()).add(value)
    return _identifiers_conflict(values, {})


def _decision_new(left: int, right: int, probability: float, rule: str, evidence: list[str], decision: str,
                  actor: Actor, reason: str) -> LinkDecision:
    return LinkDecision.objects.create(left_id=left, right_id=right, probability=probability, rule=rule,
                                       evidence=evidence, decision=decision, decided_by=actor.ref, reason=reason,
                                       decided_at=timezone.now())


def _decision_record(left: int, right: int, probability: float, rule: str, evidence: list[str], decision: str,
                     actor: Actor, reason: str) -> LinkDecision:
    record = _decision_new(left, right, probability, rule, evidence, decision, actor, reason)
    _audit(actor, "create", "link_decision", [record.pk], f"{decision} subjects {left} and {right}")
    return record


def _review_add(left: int, right: int, probability: float, evidence: list[str]) -> LinkDecision | None:
    """Queue the pair for a person (once); returns the decision recorded when it is new."""
    low, high = sorted((left, right))
    _, created = ReviewItem.objects.get_or_create(
        left_id=low, right_id=high,
        defaults={"probability": probability, "evidence": evidence, "created_at": timezone.now()})
    if not created:
        return None
    return _decision_new(low, high, probability, "", evidence, Decision.REVIEW, LINKER, "in the review band")


def _merge(decision: LinkDecision, person_a: int, person_b: int, actor: Actor) -> _Merge:
    """Move the younger person's subjects and subscriptions into the older person, recording each move."""
    survivor, gone = min(person_a, person_b), max(person_a, person_b)
    subject_ids = set(Subject.objects.filter(person_id=gone).values_list("pk", flat=True))
    SubjectMove.objects.bulk_create(SubjectMove(decision=decision, subject_id=s, from_person_id=gone,
                                                into_person_id=survivor) for s in subject_ids)
    Subject.objects.filter(pk__in=subject_ids).update(person_id=survivor)
    already = set(Subscription.objects.filter(person_id=survivor).values_list("registrant_id", flat=True))
    moved: set[int] = set()
    for subscription in Subscription.objects.filter(person_id=gone):
        if subscription.registrant_id in already:
            # She follows both ends: one active subscription stays, the other rests until an unlink.
            if lifecycle.subscription_move(subscription=subscription, to=SubscriptionStatus.SUSPENDED):
                SubscriptionMove.objects.create(decision=decision, subscription=subscription, from_person_id=gone,
                                                into_person_id=survivor, suspended=True)
            continue
        SubscriptionMove.objects.create(decision=decision, subscription=subscription, from_person_id=gone,
                                        into_person_id=survivor)
        moved.add(subscription.pk)
    Subscription.objects.filter(pk__in=moved).update(person_id=survivor, updated_at=timezone.now())
    _audit(actor, "update", "person", [survivor, gone], f"link decision {decision.pk}: merged")
    return _Merge(decision.pk, survivor, subject_ids, moved)


def _newest_custody_event(person_id: int) -> CustodyEvent | None:
    return (CustodyEvent.objects.filter(subject__person_id=person_id).exclude(type__in=_HEARINGS)
            .select_related("subject__agency", "subject__facility", "facility", "to_facility")
            .order_by("-occurred_at", "-id").first())


def _new_listeners(merge: _Merge, event: CustodyEvent) -> list[Subscription]:
    """The active subscriptions for which ``event`` is about the part of the person they did not follow."""
    active = Subscription.objects.filter(person_id=merge.survivor, status=SubscriptionStatus.ACTIVE)
    if event.subject_id in merge.gone_subjects:
        chosen = active.exclude(pk__in=merge.moved_subscriptions)
    else:
        chosen = active.filter(pk__in=merge.moved_subscriptions)
    return list(chosen.select_related("registrant"))


def _tell(event: CustodyEvent, subscriptions: list[Subscription]) -> list[Notification]:
    told = set(Notification.objects.filter(event=event).values_list("contact_id", flat=True))
    created: list[Notification] = []
    for subscription in subscriptions:
        contacts = [c for c in _reachable(subscription.registrant_id) if c.pk not in told]
        created.extend(notification_enqueue_for_contacts(event=event, subscription=subscription, contacts=contacts))
        told.update(c.pk for c in contacts)
    if created:
        _audit(LINKER, "read", "contact", [n.contact_id for n in created], "event notification after a link")
    return created


def _reachable(registrant_id: int) -> list[Contact]:
    return list(Contact.objects.filter(registrant_id=registrant_id, channel__in=OUTBOX_CHANNELS,
                                       verified_at__isnull=False, opted_out_at__isnull=True))


# --- A person's decisions ---------------------------------------------------------------------------


def review_decide(*, item: ReviewItem, link: bool, actor: Actor, reason: str) -> LinkDecision:
    """Link the pair (merging their people) or keep it apart, for the reason given; resolves the item."""
    reason = reason.strip()
    if not reason:
        raise ValueError("a reason is required")
    with audit_unit(actor=actor):  # the decision's entries are written last, with the decision
        item = ReviewItem.objects.select_for_update().get(pk=item.pk)
        if item.resolved_at is not None:
            raise ValueError("this pair was already decided")
        people = dict(Subject.objects.filter(pk__in=[item.left_id, item.right_id]).values_list("pk", "person_id"))
        if link and _strong_conflict(people[item.left_id], people[item.right_id]):
            raise ValueError("these people carry different A-numbers or FBI numbers and cannot be linked")
        decision = _decision_record(item.left_id, item.right_id, item.probability, "", list(item.evidence),
                                    Decision.LINKED if link else Decision.KEPT_APART, actor, reason)
        if link and people[item.left_id] != people[item.right_id]:
            _merges_lock()
            _merge(decision, people[item.left_id], people[item.right_id], actor)
        item.resolved_at, item.resolution = timezone.now(), decision
        item.save(update_fields=["resolved_at", "resolution"])
    return decision


def subscription_subject_record(*, subscription: Subscription, subject_id: int) -> None:
    """Remember the subject a registrant chose, so an unlink leaves her subscription with it."""
    SubscriptionSubject.objects.update_or_create(subscription=subscription, defaults={"subject_id": subject_id})


@dataclass(frozen=True)
class Undone:
    """What an unlink put back: the messages the wrong link caused and the correction notices queued."""

    decision: LinkDecision
    wrong_messages: list[Notification]
    corrections: list[Notification]


def link_undo(*, decision: LinkDecision, actor: Actor, reason: str, now: datetime | None = None) -> Undone:
    """Undo a wrong link: subjects back to their people, each subscription with the subject its registrant
    chose, and a correction notice to everyone who got a message because of the link."""
    reason, now = reason.strip(), now or timezone.now()
    if not reason:
        raise ValueError("a reason is required")
    with audit_unit(actor=actor):
        decision = LinkDecision.objects.select_for_update().get(pk=decision.pk)
        if decision.decision != Decision.LINKED or decision.undone_at is not None:
            raise ValueError("only a link in force can be undone")
        _merges_lock()
        people = _subjects_restore(decision)
        _subscriptions_restore(decision, people)
        wrong = wrong_messages(decision=decision)
        corrections = _corrections_send(wrong, actor)
        decision.undone_at, decision.undone_by, decision.undo_reason = now, actor.ref, reason
        decision.save(update_fields=["undone_at", "undone_by", "undo_reason"])
        _audit(actor, "update", "link_decision", [decision.pk], "unlinked")
        _audit(actor, "update", "person", sorted(people), f"link decision {decision.pk}: unmerged")
    return Undone(decision, wrong, corrections)


def _subjects_restore(decision: LinkDecision) -> set[int]:
    people: set[int] = set()
    for move in SubjectMove.objects.filter(decision=decision):
        Subject.objects.filter(pk=move.subject_id).update(person_id=move.from_person_id)
        people.update({move.from_person_id, move.into_person_id})
    return people


def _subscriptions_restore(decision: LinkDecision, people: set[int]) -> None:
    """Each subscription on either person goes where its chosen subject now is (or back where it came from)."""
    moves = {m.subscription_id: m for m in SubscriptionMove.objects.filter(decision=decision)}
    chosen = dict(SubscriptionSubject.objects.filter(subscription__person_id__in=people)
                  .values_list("subscription_id", "subject__person_id"))
    for subscription in Subscription.objects.filter(person_id__in=people):
        move = moves.get(subscription.pk)
        if move is not None and move.suspended:
            lifecycle.subscription_move(subscription=subscription, to=SubscriptionStatus.ACTIVE)
            continue
        target = chosen.get(subscription.pk) or (move.from_person_id if move else subscription.person_id)
        taken = Subscription.objects.filter(person_id=target, registrant_id=subscription.registrant_id).exists()
        if target != subscription.person_id and not taken:
            Subscription.objects.filter(pk=subscription.pk).update(person_id=target, updated_at=timezone.now())


def wrong_messages(*, decision: LinkDecision) -> list[Notification]:
    """Messages sent since the link about one side of it to someone who followed the other side (the
    subject she chose, else where her subscription came from): the messages the link alone caused."""
    moves = list(SubjectMove.objects.filter(decision=decision))
    if not moves:
        return []
    gone = {m.subject_id for m in moves}
    people = {m.from_person_id for m in moves} | {m.into_person_id for m in moves}
    moved = set(SubscriptionMove.objects.filter(decision=decision, suspended=False)
                .values_list("subscription_id", flat=True))
    chosen = dict(SubscriptionSubject.objects.filter(subscription__person_id__in=people)
                  .values_list("subscription_id", "subject_id"))
    sent = (Notification.objects.filter(created_at__gte=decision.decided_at, event__isnull=False,
                                        subscription__person_id__in=people)
            .select_related("event", "contact").order_by("created_at", "pk"))
    wrong = []
    for notification in sent:
        assert notification.event is not None and notification.subscription_id is not None
        subscription = notification.subscription_id
        follows_gone = chosen[subscription] in gone if subscription in chosen else subscription in moved
        if (notification.event.subject_id in gone) != follows_gone:
            wrong.append(notification)
    return wrong


def _corrections_send(wrong: list[Notification], actor: Actor) -> list[Notification]:
    """One plain-words correction to each contact that got a wrong message (through the normal outbox)."""
    queued: list[Notification] = []
    for contact in {n.contact_id: n.contact for n in wrong}.values():
        language = next(n.language for n in wrong if n.contact_id == contact.pk)
        text = correction_notice(channel=contact.channel, language=language)
        queued.append(notification_enqueue_direct(contact=contact, template="linkage/correction", body=text.body,
                                                  language=language, subject_line=text.subject_line, actor=actor))
    return queued

