"""The case model and its pure rules: kinds, states, dispositions, the state machine, priority, SLA.

Nothing here touches storage or the clock: callers pass ``now`` in (integer microseconds UTC, the
project's time convention), so every rule is a plain function that tests can drive directly.

State machine (the analyst's workflow)::

    open ──► investigating ──► waiting_customer ──► escalated ──► closed
      └──────────┴─────────────────┴────────────────────┴───────────┘   (any open state may close)
    closed ──► open | investigating   (reopening: a reason is required and recorded)

Closing requires a disposition (:class:`Disposition`). A disposition may also be recorded while the
case stays open (the analyst's working assessment, e.g. a takeover confirmed while the victim is
still being contacted). A confirmed takeover (``confirmed_takeover``) requires a next contact date:
FSA's 2025 requests on account takeovers ask firms to keep victims informed, and the SLA below
turns a case red when that date passes with no contact logged.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Final

HOUR_US: Final = 3_600_000_000
DAY_US: Final = 24 * HOUR_US


class CaseKind(StrEnum):
    ACCOUNT = "account"
    """All open alerts of one account (one open case per account)."""
    CAMPAIGN = "campaign"
    """Several accounts hit by one attacker (same source network or device) or buying one pumped symbol."""
    COUNTERPARTY = "counterparty"
    """Several accounts sending money to one destination (bank account fingerprint or crypto address)."""


class CaseState(StrEnum):
    OPEN = "open"
    INVESTIGATING = "investigating"
    WAITING_CUSTOMER = "waiting_customer"
    ESCALATED = "escalated"
    CLOSED = "closed"


class Disposition(StrEnum):
    CONFIRMED_TAKEOVER = "confirmed_takeover"
    FRAUD_ATTEMPT_BLOCKED = "fraud_attempt_blocked"
    LEGITIMATE = "legitimate"
    DUPLICATE = "duplicate"


class ContactChannel(StrEnum):
    PHONE = "phone"
    EMAIL = "email"
    LETTER = "letter"
    IN_PERSON = "in_person"
    APP = "app"


class CompensationStatus(StrEnum):
    NONE = "none"
    ASSESSING = "assessing"
    OFFERED = "offered"
    AGREED = "agreed"
    PAID = "paid"
    DECLINED = "declined"


class Sla(StrEnum):
    """Victim-contact SLA of a case: ``red`` first in every list."""

    RED = "red"
    AMBER = "amber"
    GREEN = "green"
    NONE = "none"


OPEN_STATES: Final = frozenset(s for s in CaseState if s is not CaseState.CLOSED)

TRANSITIONS: Final[dict[CaseState, frozenset[CaseState]]] = {
    CaseState.OPEN: frozenset({CaseState.INVESTIGATING, CaseState.WAITING_CUSTOMER, CaseState.ESCALATED,
                               CaseState.CLOSED}),
    CaseState.INVESTIGATING: frozenset({CaseState.WAITING_CUSTOMER, CaseState.ESCALATED, CaseState.CLOSED}),
    CaseState.WAITING_CUSTOMER: frozenset({CaseState.INVESTIGATING, CaseState.ESCALATED, CaseState.CLOSED}),
    CaseState.ESCALATED: frozenset({CaseState.INVESTIGATING, CaseState.WAITING_CUSTOMER, CaseState.CLOSED}),
    CaseState.CLOSED: frozenset({CaseState.OPEN, CaseState.INVESTIGATING}),
}  # fmt: skip
"""Allowed state changes. Staying in the same state is allowed only to record a new disposition."""

AMBER_BEFORE_US: Final = DAY_US
"""A next contact due within this long is ``amber``."""

PRIORITY_DUE_US: Final[dict[int, int]] = {1: 4 * HOUR_US, 2: DAY_US, 3: 3 * DAY_US, 4: 7 * DAY_US}
"""Default time to resolve a case of each priority (1 is the most urgent), from its creation."""


class TransitionError(Exception):
    """A state change the machine does not allow (rendered as 409 by the service)."""


class MissingField(Exception):
    """A state change that needs a value the request did not carry (rendered as 422 naming ``field``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def check_transition(current: CaseState, target: CaseState, *, disposition: Disposition | None,
                     current_disposition: Disposition | None, reason: str | None,
                     has_next_contact: bool) -> None:
    """Raise unless ``current`` → ``target`` is allowed with these values.

    * closing needs a disposition (given now, or already recorded);
    * reopening (leaving ``closed``) needs a reason;
    * staying in the same state is only a disposition change, so a new disposition is needed;
    * a confirmed takeover needs a next contact date (``has_next_contact``: given now, or pending).
    """
    if target is current:
        if disposition is None or disposition is current_disposition:
            raise TransitionError(f"the case is already {current.value}")
    elif target not in TRANSITIONS[current]:
        raise TransitionError(f"a case cannot go from {current.value} to {target.value}")
    if target is CaseState.CLOSED and disposition is None and current_disposition is None:
        raise MissingField("disposition", "closing a case requires a disposition")
    if current is CaseState.CLOSED and target is not CaseState.CLOSED and not (reason and reason.strip()):
        raise MissingField("reason", "reopening a case requires a reason")
    if disposition is Disposition.CONFIRMED_TAKEOVER and not has_next_contact:
        raise MissingField("next_contact_due_at", "a confirmed takeover requires the next contact date")


def sla_status(next_contact_due_us: int | None, now_us: int) -> Sla:
    """``red`` when the next victim contact is overdue (no contact was logged since it was set: logging
    one replaces the date), ``amber`` when it is due within 24 hours, ``green`` later, ``none`` without."""
    if next_contact_due_us is None:
        return Sla.NONE
    if now_us > next_contact_due_us:
        return Sla.RED
    if next_contact_due_us - now_us <= AMBER_BEFORE_US:
        return Sla.AMBER
    return Sla.GREEN


def alert_priority(decision: str, score: int) -> int:
    """Priority (1 most urgent … 4) an alert asks for: a block or a score of 100+ is 1, a hold or 60+ is 2."""
    if decision == "block" or score >= 100:
        return 1
    if decision == "hold" or score >= 60:
        return 2
    if score >= 30:
        return 3
    return 4


def reference(case_id: int) -> str:
    """The reference quoted to customers and support staff: ``MC-000042``."""
    return f"MC-{case_id:06d}"
