"""Agency sharing policies: which partner agencies and purposes may receive an agency's custody data.

Sharing is denied by default: an agency shares with a partner only what its policy in
``Agency.sharing_policy`` (edited by administrators) explicitly allows. A county bound by a sanctuary
ordinance writes, for example::

    {"allow_partners": ["*"], "allow_purposes": ["victim_notification", "court", "corrections"],
     "deny_partners": ["ice-ero"]}

``allow_partners`` lists the agency codes it shares with (``"*"``: any agency); ``allow_purposes`` the
purposes it shares for. ``deny_partners`` and ``deny_purposes`` refuse whatever the allow-lists say, so an
ordinance can name what it forbids outright. A purpose absent from ``allow_purposes`` (here
``immigration_enforcement`` and ``law_enforcement``) is refused.

The one default is ``victim_notification`` with every agency (what a policy with no ``allow_purposes``
means): a victim registered with one agency is told where a person linked across agencies is held, which
is what vinex exists for. An agency that refuses even that says so in ``deny_purposes`` or
``deny_partners``. An agency always sees its own data. A stored policy that does not parse refuses every
partner: a typo must never open data the agency meant to close.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Any, Protocol

from pydantic import BaseModel, ConfigDict, ValidationError, field_validator


class AgencyLike(Protocol):
    """What the policy reads of an agency (``custody.Agency`` has it; the policy needs nothing more)."""

    pk: Any
    code: str
    sharing_policy: Any


class Purpose(StrEnum):
    """Why a partner agency asks; every partner read states one, and policies may refuse by purpose."""

    VICTIM_NOTIFICATION = "victim_notification"
    LAW_ENFORCEMENT = "law_enforcement"
    IMMIGRATION_ENFORCEMENT = "immigration_enforcement"
    COURT = "court"
    CORRECTIONS = "corrections"
    RESEARCH = "research"


ANY_PARTNER = "*"


class SharingPolicy(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    allow_partners: tuple[str, ...] = (ANY_PARTNER,)
    allow_purposes: tuple[Purpose, ...] = (Purpose.VICTIM_NOTIFICATION,)
    deny_partners: tuple[str, ...] = ()
    deny_purposes: tuple[Purpose, ...] = ()

    @field_validator("allow_partners", "deny_partners")
    @classmethod
    def _known_codes(cls, codes: tuple[str, ...]) -> tuple[str, ...]:
        return tuple(code.strip().lower() for code in codes if code.strip())


@dataclass(frozen=True)
class SharingDecision:
    allowed: bool
    reason: str = ""


def sharing_policy_parse(raw: object) -> SharingPolicy:
    """The policy in ``raw`` (an agency's stored JSON); raises ``ValueError`` naming what is wrong."""
    try:
        return SharingPolicy.model_validate(raw or {})
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc']) or 'policy'}: {e['msg']}"
                             for e in error.errors(include_url=False))
        raise ValueError(problems) from None


def sharing_check(*, owner: AgencyLike, partner: AgencyLike, purpose: Purpose) -> SharingDecision:
    """Whether ``partner`` may receive ``owner``'s custody data for ``purpose``."""
    if owner.pk == partner.pk:
        return SharingDecision(True)
    try:
        policy = sharing_policy_parse(owner.sharing_policy)
    except ValueError:
        return SharingDecision(False, "the owning agency's sharing policy is invalid; nothing is shared")
    if partner.code.lower() in policy.deny_partners:
        return SharingDecision(False, f"{owner.code} does not share custody data with {partner.code}")
    if purpose in policy.deny_purposes or purpose not in policy.allow_purposes:
        return SharingDecision(False, f"{owner.code} does not share custody data for {purpose.value}")
    if ANY_PARTNER not in policy.allow_partners and partner.code.lower() not in policy.allow_partners:
        return SharingDecision(False, f"{owner.code} does not share custody data with {partner.code}")
    return SharingDecision(True)
