"""First-seen flags: is this device, IP, network, ASN, country, destination or symbol new for the
account, and has a withdrawal address sent crypto to the account before?

*Known* means: used in a successful login that the engine **allowed** (for client attributes), a
crypto/fiat withdrawal the engine allowed (for destinations), a crypto deposit the engine allowed (for
deposit sources), or an executed trade or held position (for symbols). A device is *passkey-verified*
once a passkey login from it succeeded and was allowed: a passkey is bound to the site and cannot be
relayed by a phishing page (FSA 2025 request 1, phishing-resistant MFA; NIST SP 800-63B AAL3).
Failed, challenged or held attempts never make anything known, so an attacker cannot make their own
device trusted by trying. Each value keeps the earliest time it became known, so a
late event is judged by its own time: new means "not known before this event occurred".
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

from mamori.risk.features.base import KEY_FUNCTIONS, EvalEnv, FeatureDef, address_key

# The client attributes a successful, allowed login makes known (same key functions as the windows).
_CLIENT_DIMENSIONS: dict[str, Callable[[EvalEnv], str | None]] = {
    d: KEY_FUNCTIONS[d] for d in ("device", "ip", "network", "asn", "country")}


def _destination(env: EvalEnv) -> str | None:
    event: Any = env.event
    if event.type == "crypto_withdrawal":
        return address_key(event.chain, event.address)
    if event.type == "fiat_withdrawal":
        return event.bank_account_fingerprint  # type: ignore[no-any-return]
    return None


def _crypto_address(env: EvalEnv) -> str | None:
    event: Any = env.event
    if event.type in ("crypto_deposit", "crypto_withdrawal"):
        return address_key(event.chain, event.address)
    return None


class FirstSeen:
    name = "first_seen"
    state_attributes = ("known",)  # what an engine snapshot saves and restores

    def __init__(self) -> None:
        # account -> (dimension, value) -> earliest time known
        self.known: dict[str, dict[tuple[str, str], float]] = {}

    def _is_new(self, env: EvalEnv, dimension: str, value: str | None) -> bool | None:
        if value is None:
            return None
        known = self.known.get(env.event.account_id)
        first = known.get((dimension, value)) if known is not None else None
        return first is None or first >= env.ts

    def _mark(self, account: str, dimension: str, value: str | None, ts: float) -> None:
        if value is None:
            return
        known = self.known.get(account)
        if known is None:
            known = self.known[account] = {}
        key = (dimension, value)
        first = known.get(key)
        if first is None or ts < first:
            known[key] = ts

    def features(self) -> Iterable[FeatureDef]:
        for dimension, getter in _CLIENT_DIMENSIONS.items():
            yield FeatureDef(
                f"new_{dimension}",
                f"The account never logged in successfully (and allowed) from this {dimension} before. "
                "None when the event has no such attribute.",
                "bool",
                lambda env, d=dimension, g=getter: self._is_new(env, d, g(env)))  # type: ignore[misc]
        yield FeatureDef("new_destination", "The account never made an allowed withdrawal to this "
                         "address or bank account before.", "bool",
                         lambda env: self._is_new(env, "destination", _destination(env)),
                         frozenset({"crypto_withdrawal", "fiat_withdrawal"}))
        yield FeatureDef("destination_was_source", "The account received crypto from this withdrawal address "
                         "before (a deposit the engine allowed): the customer's own wallet or account elsewhere "
                         "coming back, not a first payment to a stranger (FATF 2021 virtual-asset guidance on "
                         "unhosted-wallet transfers: whose wallet it is).", "bool",
                         lambda env: None if (a := _crypto_address(env)) is None
                         else not self._is_new(env, "source", a),
                         frozenset({"crypto_withdrawal"}))
        yield FeatureDef("device_passkey_verified", "The event's device signed in to this account with a passkey "
                         "before (allowed): the customer proved on it a factor a phishing page cannot relay. "
                         "None when the event has no device.", "bool",
                         lambda env: None if (d := env.event.device_id) is None
                         else not self._is_new(env, "passkey_device", d))
        yield FeatureDef("new_symbol", "The account never traded or held this symbol before.", "bool",
                         lambda env: self._is_new(env, "symbol", getattr(env.event, "symbol", None)),
                         frozenset({"order", "execution", "order_cancel"}))
        yield FeatureDef("known_devices", "How many devices the account has logged in from (allowed).",
                         "int",
                         lambda env: sum(1 for d, _ in self.known.get(env.event.account_id, {}) if d == "device"))

    def observe(self, env: EvalEnv) -> None:
        event: Any = env.event
        if event.type == "execution":
            self._mark(event.account_id, "symbol", event.symbol, env.ts)
        elif event.type == "holdings_snapshot":
            for position in event.positions:
                if position.quantity > 0:
                    self._mark(event.account_id, "symbol", position.symbol, env.ts)

    def commit(self, env: EvalEnv, verdict: str) -> None:
        if verdict != "allow":
            return
        event: Any = env.event
        if event.type == "login" and event.result == "success":
            for dimension, getter in _CLIENT_DIMENSIONS.items():
                self._mark(event.account_id, dimension, getter(env), env.ts)
            if event.method == "passkey":
                self._mark(event.account_id, "passkey_device", event.device_id, env.ts)
        elif event.type in ("crypto_withdrawal", "fiat_withdrawal"):
            self._mark(event.account_id, "destination", _destination(env), env.ts)
        elif event.type == "crypto_deposit":
            self._mark(event.account_id, "source", _crypto_address(env), env.ts)
