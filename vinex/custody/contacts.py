"""Contacts agencies hold for people in custody, kept as blind indexes to spot self-registrations.

An agency may send the phone numbers and email addresses it has for a person (booking records list
them). vinex keeps only their blind indexes — the same ones registrants' contacts are stored under, so
the two compare without decrypting anything — and the registration check holds a registration whose
contact is one of the followed person's own.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

from vinex.custody.models import Person, SubjectContact
from vinex.policy.contacts import InvalidContact, contact_index, normalise_contact

# A phone number can be registered for texts or for calls; both indexes must match it.
_CHANNELS_FOR = {"email": ("email",), "phone": ("sms", "voice")}


def subject_contact_indexes(values: Iterable[tuple[str, str]]) -> set[str]:
    """Blind indexes of (kind, value) pairs, kind ``email`` or ``phone``; values that do not parse are skipped."""
    indexes: set[str] = set()
    for kind, value in values:
        for channel in _CHANNELS_FOR.get(kind, ()):
            try:
                indexes.add(contact_index(channel, normalise_contact(channel, value)))
            except InvalidContact:
                break
    return indexes


def subject_contacts_record(*, contacts_by_subject: Mapping[int, Sequence[tuple[str, str]]]) -> int:
    """Remember the indexes of each subject's contacts (adding to what is known); returns how many were given.

    Runs in the caller's transaction, alongside the events that carried the contacts.
    """
    rows = [SubjectContact(subject_id=subject_id, value_index=index)
            for subject_id, values in contacts_by_subject.items() for index in sorted(subject_contact_indexes(values))]
    SubjectContact.objects.bulk_create(rows, batch_size=500, ignore_conflicts=True)
    return len(rows)


def is_own_contact(*, person: Person, value_indexes: Sequence[str]) -> bool:
    """True when any of these blind indexes (of a registrant's contacts) is a contact an agency holds for
    ``person``."""
    return bool(value_indexes) and SubjectContact.objects.filter(
        subject__person=person, value_index__in=value_indexes).exists()
