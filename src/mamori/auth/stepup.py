"""Operation-bound step-up: a passkey assertion that approves one exact operation, once.

A session-wide "elevated" flag (Keycloak's LoA, kept for the whole session) lets a phishing relay
or a malicious script ride on one approval for another withdrawal. Here the WebAuthn challenge
*is* the operation: ``challenge = SHA-256("mamori-stepup-v1" ‖ nonce ‖ SHA-256(canonical operation))``
(the challenge stays random through the nonce, W3C WebAuthn L3 §13.4.3, and binds the operation's
kind, amount, currency, destination or new value). The assertion's signature covers the client data
that carries the challenge, so it can only approve that operation. The approval is then consumed
once, by presenting the same operation again; another amount, another destination, another kind or
a second use is refused.

Lifecycle: ``create`` (the firm's back end, API key) → the customer approves with a passkey on
mamori's step-up page → ``consume`` (the firm's back end, just before it executes the operation).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

import orjson

from mamori.auth.ephemeral import Ephemeral
from mamori.kit.errors import InvalidRequest, StepUpRejected

OperationKind = Literal["withdrawal", "withdrawal_account_change", "email_change", "phone_change", "mfa_change",
                        "passkey_remove", "order"]
KINDS: tuple[str, ...] = ("withdrawal", "withdrawal_account_change", "email_change", "phone_change", "mfa_change",
                          "passkey_remove", "order")
# What each operation must state (the values the approval is bound to).
REQUIRED_FIELDS: dict[str, tuple[str, ...]] = {
    "withdrawal": ("amount", "currency", "destination"),
    "withdrawal_account_change": ("destination",),
    "email_change": ("new_value",),
    "phone_change": ("new_value",),
    "mfa_change": ("new_value",),
    "passkey_remove": ("credential_id",),
    "order": ("symbol", "side", "quantity"),
}
ALLOWED_FIELDS = frozenset({"amount", "currency", "destination", "new_value", "credential_id", "symbol", "side",
                            "quantity", "price", "asset", "chain"})
PENDING_TTL_S = 300.0
APPROVED_TTL_S = 120.0


def canonical_operation(operation: Any) -> tuple[str, dict[str, str]]:
    """Validate an operation and return its kind and canonical fields (amounts as plain decimals,
    so ``"100000"``, ``"100000.00"`` and ``1E5`` are one operation)."""
    if not isinstance(operation, dict):
        raise InvalidRequest("operation must be an object", details={"field": "operation"})
    kind = operation.get("kind")
    if kind not in KINDS:
        raise InvalidRequest(f"operation.kind must be one of {', '.join(KINDS)}", details={"field": "operation.kind"})
    fields: dict[str, str] = {}
    for name, value in operation.items():
        if name == "kind":
            continue
        if name not in ALLOWED_FIELDS:
            raise InvalidRequest(f"unknown operation field {name!r}", details={"field": f"operation.{name}"})
        if not isinstance(value, str | int) or isinstance(value, bool) or not str(value).strip() \
                or len(str(value)) > 256:
            raise InvalidRequest(f"operation.{name} must be a non-empty string or integer (at most 256 characters)",
                                 details={"field": f"operation.{name}"})
        fields[name] = _normalise(name, str(value).strip())
    missing = [f for f in REQUIRED_FIELDS[kind] if f not in fields]
    if missing:
        raise InvalidRequest(f"a {kind} operation needs {', '.join(missing)}",
                             details={"field": f"operation.{missing[0]}"})
    return kind, fields


def _normalise(name: str, value: str) -> str:
    if name in ("amount", "quantity", "price"):
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise InvalidRequest(f"operation.{name} must be a decimal number",
                                 details={"field": f"operation.{name}"}) from None
        if not number.is_finite() or number <= 0:
            raise InvalidRequest(f"operation.{name} must be a positive number", details={"field": f"operation.{name}"})
        text = format(number.normalize(), "f")
        return text
    if name in ("currency", "side", "asset", "chain"):
        return value.upper() if name != "side" else value.lower()
    return value


def operation_digest(kind: str, fields: dict[str, str]) -> bytes:
    return hashlib.sha256(orjson.dumps({"kind": kind, **fields}, option=orjson.OPT_SORT_KEYS)).digest()


def bound_challenge(nonce: bytes, digest: bytes) -> bytes:
    return hashlib.sha256(b"mamori-stepup-v1" + nonce + digest).digest()


@dataclass
class StepUp:
    id: str
    account_id: str
    kind: str
    fields: dict[str, str]
    digest: bytes
    challenge: bytes
    status: Literal["pending", "approved", "consumed"] = "pending"
    credential_id: str | None = None
    approved_at: float | None = None
    reference: str | None = None
    events: list[str] = field(default_factory=list)

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "account_id": self.account_id, "status": self.status,
                "operation": {"kind": self.kind, **self.fields},
                "operation_sha256": self.digest.hex(), "approved_with": self.credential_id}


class StepUps:
    def __init__(self) -> None:
        self._items: Ephemeral[StepUp] = Ephemeral(ttl_s=PENDING_TTL_S)

    def create(self, account_id: str, operation: Any, *, reference: str | None = None) -> StepUp:
        kind, fields = canonical_operation(operation)
        digest = operation_digest(kind, fields)
        step = StepUp(id=secrets.token_urlsafe(24), account_id=account_id, kind=kind, fields=fields, digest=digest,
                      challenge=bound_challenge(secrets.token_bytes(32), digest), reference=reference)
        self._items.put(step.id, step)
        return step

    def get(self, stepup_id: str, account_id: str | None = None) -> StepUp:
        step = self._items.get(stepup_id)
        if step is None or (account_id is not None and step.account_id != account_id):
            raise StepUpRejected("no such step-up (unknown, expired or for another customer)")
        return step

    def approve(self, step: StepUp, credential_id: str, now: float) -> None:
        """Mark approved: called only after the assertion over ``step.challenge`` verified. A second
        approval (a replayed assertion) is refused."""
        if step.status != "pending":
            raise StepUpRejected("this step-up was already approved; start a new one")
        step.status = "approved"
        step.credential_id = credential_id
        step.approved_at = now
        self._items.put(step.id, step, ttl_s=APPROVED_TTL_S)

    def consume(self, stepup_id: str, account_id: str, operation: Any) -> StepUp:
        """The firm's back end presents the operation it is about to execute; it must be exactly the
        approved one, and it is accepted once."""
        kind, fields = canonical_operation(operation)
        step = self.get(stepup_id, account_id)
        if step.status == "pending":
            raise StepUpRejected("the customer has not approved this step-up yet")
        if step.status == "consumed":
            raise StepUpRejected("this step-up was already used")
        if operation_digest(kind, fields) != step.digest:
            raise StepUpRejected("the operation differs from the one the customer approved",
                                 details={"approved_operation_sha256": step.digest.hex()})
        step.status = "consumed"
        self._items.discard(step.id)
        return step
