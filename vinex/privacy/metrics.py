"""Refusals by the disclosure policy, as a Prometheus counter by purpose only.

No agency label: a partner who could tie a refusal to the county that refused would learn where a person
is held, which is what the refusal exists to hide. Staff see refusals per agency on
``/staff/privacy/denials/``, behind sign-in.
"""

from __future__ import annotations

from prometheus_client import Counter

DENIED_RECORDS = Counter(
    "vinex_disclosure_denied_records",
    "Records a sharing policy (or protection) withheld from partner agencies, by purpose",
    labelnames=["purpose"],
)


def disclosure_denied_records_count(*, purpose: str, records: int) -> None:
    if records:
        DENIED_RECORDS.labels(purpose=purpose).inc(records)
