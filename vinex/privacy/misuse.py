"""Misuse detection: rules over the audit log that open a case for the privacy officer.

Every read of personal data is in the audit log; these rules read it (through the audit selectors) so that
somebody looks at the pattern while it matters, not years later. Each rule has its threshold in settings
(``vinex.privacy.conf``) and says in plain words why it fired:

- ``staff_volume``: a staff account read more different people in a day than the floor and than
  ``VINEX_MISUSE_USUAL_FACTOR`` times its role's usual day (the median busy day of that role's accounts
  over the ``VINEX_MISUSE_USUAL_DAYS`` before).
- ``pre_release``: a person was read in the hours before their release by a partner agency or an agency
  operator of another agency than the one that released them (the tip-off before a release). Staff of
  vinex itself (call centre, privacy officers) serve victims of every agency and are left to the volume rule.
- ``partner_volume``: a partner agency read (looked up or exported) more records in a day than the floor
  and than the factor times its own usual day.
- ``partner_hours``: a partner agency read records outside working hours.
- ``partner_refusals``: a partner agency was refused by sharing policies again and again in one day.
- ``protected_read``: a staff account read a protected person (juvenile, witness protection, court order).

A hit is a ``MisuseCase``, identified by its rule and fingerprint (the account and the day, or the
release), so a rerun over the same hours opens no second case. Opening and closing a case are audited; the
privacy officers get an email. Rules name accounts, record ids and audit entries only: no rule reads a
contact, so none can expose a victim's.
"""

from __future__ import annotations

import logging
import statistics
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from urllib.parse import urlencode

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Count, Max, Min, Q, QuerySet
from django.db.models.functions import ExtractHour, TruncDate
from django.utils import timezone

from vinex.accounts.models import AgencyMembership
from vinex.audit.models import AuditEntry
from vinex.audit.selectors import AuditQuery, audit_entries_matching
from vinex.audit.unit import Actor, audit_unit
from vinex.custody.models import CustodyEvent, EventType, Subject
from vinex.privacy.denials import disclosure_denials_count
from vinex.privacy.models import MisuseCase, MisuseFinding, MisuseRule

logger = logging.getLogger(__name__)

READ_ACTIONS = ("read", "view")
# What names a person in the log: a person, one agency's record of them, or a victim's registration for them.
PEOPLE_TYPES = ("person", "subject", "registration")
PARTNER_ROLE = "partner_agency"
STAFF_PREFIX = "user:"
PRIVACY_OFFICER = "privacy_officer"
MAX_ENTRIES = 100


@dataclass(frozen=True)
class Window:
    """The half-open interval of audit entries a scan reads."""

    since: datetime
    until: datetime

    def days(self) -> list[date]:
        day, last = self.since.astimezone(UTC).date(), (self.until - timedelta(microseconds=1)).astimezone(UTC).date()
        return [day + timedelta(days=n) for n in range((last - day).days + 1)]


@dataclass(frozen=True)
class Hit:
    """What a rule found: enough for a privacy officer to look, and no more."""

    rule: MisuseRule
    fingerprint: str
    actor: str
    role: str
    summary: str
    explanation: str
    first_at: datetime
    last_at: datetime
    entries: list[int] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)


# --- Reading the log ------------------------------------------------------------------------------------


def _entries(since: datetime, until: datetime) -> QuerySet[AuditEntry]:
    """Audit entries in [since, until), read through the audit selector (whole days), then to the instant."""
    query = AuditQuery(date_from=since.astimezone(UTC).date(), date_to=until.astimezone(UTC).date())
    return audit_entries_matching(query=query).filter(at__gte=since, at__lt=until)


def _people_reads(since: datetime, until: datetime) -> QuerySet[AuditEntry]:
    return _entries(since, until).filter(action__in=READ_ACTIONS, object_type__in=PEOPLE_TYPES, outcome="ok")


def _partner_reads(since: datetime, until: datetime) -> QuerySet[AuditEntry]:
    return _entries(since, until).filter(action="read", object_type="subject", role=PARTNER_ROLE, outcome="ok")


def _day_bounds(day: date, tz: zoneinfo.ZoneInfo | None = None) -> tuple[datetime, datetime]:
    start = datetime.combine(day, time.min, tzinfo=tz or UTC)
    return start, datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz or UTC)


def _seqs(entries: QuerySet[AuditEntry]) -> list[int]:
    return list(entries.order_by("seq").values_list("seq", flat=True)[:MAX_ENTRIES])


def _search_link(label: str, **query: str) -> tuple[str, str]:
    """An audit search (``/staff/audit/``) that lists the entries behind a hit; searching is itself audited."""
    return label, urlencode({**{k: v for k, v in query.items() if v}, "purpose": "misuse case"})


def _daily_records(reads: QuerySet[AuditEntry]) -> dict[tuple[str, str, date], int]:
    """Different records read per (actor, role, UTC day); person, subject and registration ids counted apart."""
    rows = (reads.annotate(day=TruncDate("at", tzinfo=UTC)).values("actor", "role", "day", "object_type")
            .annotate(n=Count("object_id", distinct=True)).order_by())
    counts: dict[tuple[str, str, date], int] = defaultdict(int)
    for row in rows:
        counts[(row["actor"], row["role"], row["day"])] += row["n"]
    return counts


# --- The rules ------------------------------------------------------------------------------------------


def _usual(counts: dict[tuple[str, str, date], int], actor: str, role: str, day: date, staff: bool) -> float:
    """The usual busy day behind ``actor``'s count on ``day``: for staff, the median of their role's account-days
    (colleagues' days, today's included, and the account's own earlier days); for a partner, the median of its
    own earlier days. Only the ``VINEX_MISUSE_USUAL_DAYS`` before count, and days without reads do not, so the
    usual day is a working day."""
    first = day - timedelta(days=settings.VINEX_MISUSE_USUAL_DAYS)
    peers = [n for (a, r, d), n in counts.items()
             if first <= d <= day and (r == role if staff else a == actor) and not (a == actor and d == day)]
    return statistics.median(peers) if peers else 0


def _volume_hits(window: Window, *, staff: bool) -> Iterator[Hit]:
    floor = settings.VINEX_MISUSE_STAFF_READS_FLOOR if staff else settings.VINEX_MISUSE_PARTNER_READS_FLOOR
    factor = settings.VINEX_MISUSE_USUAL_FACTOR
    days = window.days()
    # One grouped read of the log for every day of the window and the weeks before it.
    since = _day_bounds(days[0])[0] - timedelta(days=settings.VINEX_MISUSE_USUAL_DAYS)
    until = _day_bounds(days[-1])[1]
    reads = _people_reads(since, until).filter(actor__startswith=STAFF_PREFIX) if staff else (
        _partner_reads(since, until))
    counts = _daily_records(reads)
    for (actor, role, day), n in sorted(counts.items()):
        if day not in days:
            continue
        typical = _usual(counts, actor, role, day, staff)
        limit = max(floor, factor * typical)
        if n > limit:
            start, end = _day_bounds(day)
            yield _volume_hit(staff, actor, role, day, n, typical, limit, reads.filter(actor=actor, at__gte=start,
                                                                                      at__lt=end))


def _volume_hit(staff: bool, actor: str, role: str, day: date, n: int, typical: float, limit: float,
                entries: QuerySet[AuditEntry]) -> Hit:
    span = entries.aggregate(first=Min("at"), last=Max("at"))
    who = f"staff account {actor} ({role})" if staff else f"partner agency {actor.removeprefix('agency:')}"
    usual = "the usual busy day of its role" if staff else "its usual busy day"
    floor = settings.VINEX_MISUSE_STAFF_READS_FLOOR if staff else settings.VINEX_MISUSE_PARTNER_READS_FLOOR
    explanation = (f"On {day} the {who} read {n} different records, more than the limit of {limit:g}: {usual} is "
                   f"{typical:g} records, and a case opens above {settings.VINEX_MISUSE_USUAL_FACTOR} times that "
                   f"(and never at {floor} or fewer). Ask what the reads were for.")
    return Hit(MisuseRule.STAFF_VOLUME if staff else MisuseRule.PARTNER_VOLUME, f"{actor} {day}", actor, role,
               f"{n} different records read on {day}", explanation, span["first"], span["last"], _seqs(entries),
               [_search_link(f"Reads by {actor} on {day}", actor=actor, date_from=str(day), date_to=str(day))])


def _outside_agency(actors: Iterable[str], agency_code: str) -> dict[str, str]:
    """The actors (partner agencies, agency operators) who belong to another agency than ``agency_code``,
    with the agency they belong to."""
    found: dict[str, str] = {}
    users: dict[int, str] = {}
    for actor in set(actors):
        if actor.startswith("agency:") and actor.removeprefix("agency:") != agency_code:
            found[actor] = actor.removeprefix("agency:")
        elif actor.startswith(STAFF_PREFIX) and actor.removeprefix(STAFF_PREFIX).isdigit():
            users[int(actor.removeprefix(STAFF_PREFIX))] = actor
    memberships = AgencyMembership.objects.filter(user_id__in=users).exclude(agency__code=agency_code)
    for user_id, code in memberships.values_list("user_id", "agency__code"):
        found[users[user_id]] = code
    return found


def _pre_release_hits(window: Window) -> Iterator[Hit]:
    hours = settings.VINEX_MISUSE_PRE_RELEASE_HOURS
    releases = (CustodyEvent.objects.filter(type=EventType.RELEASED, occurred_at__gte=window.since,
                                            occurred_at__lt=window.until)
                .select_related("agency", "subject").order_by("pk"))
    for release in releases:
        subject = release.subject
        same_person = Subject.objects.filter(person_id=subject.person_id) if subject.person_id else None
        subject_ids = [str(pk) for pk in (same_person.values_list("pk", flat=True) if same_person else [subject.pk])]
        reads = _people_reads(release.occurred_at - timedelta(hours=hours), release.occurred_at).filter(
            Q(object_type="subject", object_id__in=subject_ids)
            | Q(object_type="person", object_id=str(subject.person_id or "")))
        outside = _outside_agency(reads.values_list("actor", flat=True).distinct(), release.agency.code)
        for actor, their_agency in sorted(outside.items()):
            yield _pre_release_hit(release, actor, their_agency, reads.filter(actor=actor), hours)


def _pre_release_hit(release: CustodyEvent, actor: str, their_agency: str, entries: QuerySet[AuditEntry],
                     hours: int) -> Hit:
    span = entries.aggregate(first=Min("at"), last=Max("at"), n=Count("seq"))
    person = f"person {release.subject.person_id}" if release.subject.person_id else f"subject {release.subject_id}"
    when = release.occurred_at.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
    explanation = (f"{actor} (of {their_agency}) read {person} {span['n']} time(s) in the {hours} hours before "
                   f"{release.agency.code} released them ({when}). Another agency looking a person up just before "
                   "their release is how people have been handed over or tipped off against a local policy; "
                   "check that the agency had a reason the releasing agency's sharing policy allows.")
    role = entries.values_list("role", flat=True).first() or ""
    return Hit(MisuseRule.PRE_RELEASE, f"{actor} release {release.pk}", actor, role,
               f"{span['n']} read(s) of {person} before its release by {release.agency.code}", explanation,
               span["first"], span["last"], _seqs(entries),
               [_search_link(f"Reads of {person} by {actor}", actor=actor,
                             date_from=str(span["first"].astimezone(UTC).date()), date_to=str(release.occurred_at
                                                                                              .astimezone(UTC).date()))])


def _partner_hours_hits(window: Window) -> Iterator[Hit]:
    tz = zoneinfo.ZoneInfo(settings.VINEX_MISUSE_TIMEZONE)
    start, end = settings.VINEX_MISUSE_PARTNER_HOURS_START, settings.VINEX_MISUSE_PARTNER_HOURS_END
    night = (_partner_reads(window.since, window.until).annotate(hour=ExtractHour("at", tzinfo=tz))
             .filter(Q(hour__lt=start) | Q(hour__gte=end)).annotate(day=TruncDate("at", tzinfo=tz)))
    counts = night.values("actor", "role", "day").annotate(n=Count("seq")).order_by("actor", "day")
    for row in counts:
        if row["n"] < settings.VINEX_MISUSE_PARTNER_NIGHT_READS:
            continue
        day_start, day_end = _day_bounds(row["day"], tz)
        entries = night.filter(actor=row["actor"], at__gte=day_start, at__lt=day_end)
        span = entries.aggregate(first=Min("at"), last=Max("at"))
        partner = row["actor"].removeprefix("agency:")
        explanation = (f"Partner agency {partner} read {row['n']} records outside working hours "
                       f"({start}:00 to {end}:00, {tz.key}) on {row['day']}; a case opens at "
                       f"{settings.VINEX_MISUSE_PARTNER_NIGHT_READS}. Reads at night are rarely routine: ask the "
                       "agency who used its key and why.")
        yield Hit(MisuseRule.PARTNER_HOURS, f"{row['actor']} {row['day']}", row["actor"], row["role"],
                  f"{row['n']} records read outside working hours on {row['day']}", explanation, span["first"],
                  span["last"], _seqs(entries),
                  [_search_link(f"Reads by {partner} around {row['day']}", actor=row["actor"],
                                date_from=str(day_start.astimezone(UTC).date()),
                                date_to=str(day_end.astimezone(UTC).date()))])


def _refusal_hits(window: Window) -> Iterator[Hit]:
    threshold = settings.VINEX_MISUSE_PARTNER_REFUSALS
    for day in window.days():
        start, end = _day_bounds(day)
        requests: dict[str, int] = defaultdict(int)
        for count in disclosure_denials_count(since=start, until=end):
            if count.partner != count.owner:
                requests[count.partner] += count.requests
        for partner, n in sorted(requests.items()):
            if n < threshold:
                continue
            actor = f"agency:{partner}"
            entries = _entries(start, end).filter(actor=actor, action="disclosure_denied")
            span = entries.aggregate(first=Min("at"), last=Max("at"))
            explanation = (f"Sharing policies refused partner agency {partner} {n} times on {day}; a case opens at "
                           f"{threshold}. An agency that keeps asking for what it may not have may be testing "
                           "for a way in, or may be using a purpose it was not granted: ask it.")
            yield Hit(MisuseRule.PARTNER_REFUSALS, f"{actor} {day}", actor, PARTNER_ROLE,
                      f"{n} refused requests on {day}", explanation, span["first"] or start, span["last"] or start,
                      _seqs(entries), [_search_link(f"Refusals of {partner} on {day}", actor=actor,
                                                    action="disclosure_denied", date_from=str(day),
                                                    date_to=str(day))])


def _protected_ids(reads: QuerySet[AuditEntry]) -> tuple[set[str], set[str]]:
    """(subject ids, person ids) among ``reads``' objects that are, or include, a protected subject."""
    subject_ids = {i for i in reads.filter(object_type="subject").values_list("object_id", flat=True) if i.isdigit()}
    person_ids = {i for i in reads.filter(object_type="person").values_list("object_id", flat=True) if i.isdigit()}
    protected = Subject.objects.filter(protected=True)
    return ({str(pk) for pk in protected.filter(pk__in=[int(i) for i in subject_ids]).values_list("pk", flat=True)},
            {str(pk) for pk in protected.filter(person_id__in=[int(i) for i in person_ids])
             .values_list("person_id", flat=True)})


def _protected_hits(window: Window) -> Iterator[Hit]:
    for day in window.days():
        start, end = _day_bounds(day)
        reads = _people_reads(max(start, window.since), min(end, window.until)).filter(
            actor__startswith=STAFF_PREFIX, object_type__in=("subject", "person"))
        subjects, people = _protected_ids(reads)
        if not subjects and not people:
            continue
        hits = reads.filter(Q(object_type="subject", object_id__in=subjects) | Q(object_type="person",
                                                                                object_id__in=people))
        for actor in sorted(set(hits.values_list("actor", flat=True))):
            yield _protected_hit(actor, day, hits.filter(actor=actor))


def _protected_hit(actor: str, day: date, entries: QuerySet[AuditEntry]) -> Hit:
    span = entries.aggregate(first=Min("at"), last=Max("at"))
    role = entries.values_list("role", flat=True).first() or ""
    records = sorted({f"{t} {i}" for t, i in entries.values_list("object_type", "object_id")})
    explanation = (f"Staff account {actor} ({role}) read {len(records)} protected record(s) on {day}: "
                   f"{', '.join(records[:10])}. Protected people (juveniles, witness protection, court orders) are "
                   "hidden from every public answer; each staff read of one is checked by a privacy officer.")
    return Hit(MisuseRule.PROTECTED_READ, f"{actor} {day}", actor, role,
               f"{len(records)} protected record(s) read on {day}", explanation, span["first"], span["last"],
               _seqs(entries), [_search_link(f"Reads by {actor} on {day}", actor=actor, date_from=str(day),
                                             date_to=str(day))])


def misuse_hits(*, window: Window) -> list[Hit]:
    """Every rule's hits over ``window`` (pure reading: nothing is opened or written)."""
    return [*_volume_hits(window, staff=True), *_pre_release_hits(window), *_volume_hits(window, staff=False),
            *_partner_hours_hits(window), *_refusal_hits(window), *_protected_hits(window)]


# --- Cases ----------------------------------------------------------------------------------------------


def _case_open(hit: Hit, actor: Actor) -> MisuseCase | None:
    """Open the case of ``hit`` unless it is open already (same rule and fingerprint); audited."""
    if MisuseCase.objects.filter(rule=hit.rule, fingerprint=hit.fingerprint).exists():
        return None
    try:
        with audit_unit(actor=actor) as unit:
            case = MisuseCase.objects.create(
                rule=hit.rule, fingerprint=hit.fingerprint[:200], actor=hit.actor[:100], role=hit.role[:32],
                summary=hit.summary[:300], explanation=hit.explanation, first_at=hit.first_at, last_at=hit.last_at,
                entries=hit.entries, links=[list(link) for link in hit.links])
            unit.add("create", "misuse_case", case.public_id, purpose=hit.rule.value)
    except IntegrityError:  # another scan opened it a moment ago
        return None
    transaction.on_commit(lambda: _alert(case))
    return case


def _officer_emails() -> list[str]:
    users = get_user_model().objects.filter(is_active=True, groups__name=PRIVACY_OFFICER).exclude(email="")
    return sorted(set(users.values_list("email", flat=True)))


def _alert(case: MisuseCase) -> None:
    """Tell the privacy officers; the case itself waits on their page whether or not the mail gets through."""
    logger.warning("misuse case opened", extra={"rule": case.rule, "case": str(case.public_id)})
    recipients = _officer_emails()
    if not recipients:
        return
    base = settings.VINEX_PUBLIC_URL.rstrip("/") if getattr(settings, "VINEX_PUBLIC_URL", "") else ""
    send_mail(
        subject=f"vinex: misuse alert — {MisuseRule(case.rule).label}",
        message=(f"A misuse rule fired: {MisuseRule(case.rule).label}.\n\nWho: {case.actor}\nWhat: {case.summary}\n"
                 f"Why: {case.explanation}\n\nLook into it and record your finding at "
                 f"{base}/staff/privacy/alerts/{case.public_id}/\n"),
        from_email=None, recipient_list=recipients, fail_silently=True,
    )


def misuse_scan(*, now: datetime, actor: Actor, hours: int | None = None) -> list[MisuseCase]:
    """Run every rule over the ``hours`` before ``now`` (``VINEX_MISUSE_SCAN_HOURS`` by default) and open a
    case for each new hit. Idempotent: a rerun over the same hours opens nothing new."""
    window = Window(now - timedelta(hours=hours or settings.VINEX_MISUSE_SCAN_HOURS), now)
    opened = [_case_open(hit, actor) for hit in misuse_hits(window=window)]
    return [case for case in opened if case is not None]


class CaseClosed(ValueError):
    """The case was closed already, or the finding is not one of ``MisuseFinding``."""


def misuse_case_close(*, case: MisuseCase, finding: str, note: str, actor: Actor) -> None:
    """Close ``case`` with the officer's finding (audited); a closed case stays closed."""
    if finding not in MisuseFinding.values:
        raise CaseClosed("choose a finding")
    if not note.strip():
        raise CaseClosed("write what you found")
    with audit_unit(actor=actor) as unit:
        closed = MisuseCase.objects.filter(pk=case.pk, closed_at__isnull=True).update(
            closed_at=timezone.now(), closed_by=actor.ref, finding=finding)
        if not closed:
            raise CaseClosed("this case is closed already")
        case.refresh_from_db()
        case.finding_note = note.strip()
        case.save(update_fields=["finding_note"])
        unit.add("close", "misuse_case", case.public_id, purpose=case.rule, outcome=finding)


def misuse_cases(*, open_only: bool) -> list[MisuseCase]:
    """Cases for the alerts page, open ones first, newest first. Lists accounts and counts, no personal data."""
    cases = MisuseCase.objects.order_by("closed_at", "-opened_at") if not open_only else (
        MisuseCase.objects.filter(closed_at__isnull=True).order_by("-opened_at"))
    return list(cases.defer("finding_note")[:500])


def misuse_case_view(*, public_id: str, actor: Actor) -> MisuseCase | None:
    """One case with its finding; the look is audited (the finding may quote what was found)."""
    case = MisuseCase.objects.filter(public_id=public_id).first()
    if case is not None:
        with audit_unit(actor=actor) as unit:
            unit.add("view", "misuse_case", case.public_id, purpose="misuse review")
    return case
