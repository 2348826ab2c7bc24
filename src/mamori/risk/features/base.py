"""What every feature plugin shares: the definition of a feature and the evaluation environment.

A feature is a named value a rule can read (``new_device``, ``ip_class``, ``acct_pw_fail_10m``).
Plugins own their state, update it in :meth:`FeaturePlugin.observe` (called for every event before
rules run), and compute values lazily: :class:`EvalEnv` computes a feature the first time a rule
reads it, so rules that short-circuit never pay for features they do not need.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from mamori.adapters.geo import IpInfo
    from mamori.events.models import EventBase

Compute = Callable[["EvalEnv"], Any]


@dataclass(frozen=True, slots=True)
class FeatureDef:
    """A feature rules can read. ``event_types`` None means every type."""

    name: str
    description: str
    kind: str  # "bool" | "int" | "decimal" | "number" | "str"
    compute: Compute
    event_types: frozenset[str] | None = None


class FeaturePlugin(Protocol):
    """One module per plugin; each is listed once in :mod:`mamori.risk.features.registry`."""

    name: str

    def features(self) -> Iterable[FeatureDef]:
        """The features this plugin provides."""
        ...

    def observe(self, env: EvalEnv) -> None:
        """Fold the event into the plugin's state before rules read any feature (window counts
        include the event itself)."""
        ...

    def commit(self, env: EvalEnv, verdict: str) -> None:
        """Fold what the decision taught into the state, after the rules ran. Only state that must
        depend on the decision lives here: a device becomes *known* only through a login the engine
        allowed, so an attacker's challenged login does not make their device trusted."""
        ...


class EvalEnv(dict[str, Any]):
    """The lazy mapping rule expressions read: ``env["event.amount"]``, ``env["new_device"]``.

    Values are computed on first access by the registered compute function and cached for the rest
    of this event's evaluation.
    """

    __slots__ = ("computes", "event", "ip_info", "ts")

    def __init__(self, event: EventBase, ts: float, ip_info: IpInfo | None,
                 computes: dict[str, Compute]) -> None:
        # dict.__init__ is not called: the mapping starts empty either way.
        self.event = event
        self.ts = ts
        self.ip_info = ip_info
        self.computes = computes

    def __missing__(self, key: str) -> Any:
        compute = self.computes.get(key)
        if compute is None:
            raise KeyError(f"unknown feature or field {key!r}")
        value = compute(self)
        self[key] = value
        return value

    def snapshot(self) -> dict[str, Any]:
        """Every value computed so far for this event (for the decision record)."""
        return dict(self)


def _addr_key(env: EvalEnv) -> str | None:
    address = getattr(env.event, "address", None)
    return None if address is None else address_key(getattr(env.event, "chain", ""), address)


KEY_FUNCTIONS: dict[str, Callable[[EvalEnv], str | None]] = {
    "account": lambda env: env.event.account_id,
    "ip": lambda env: env.event.ip,
    "network": lambda env: env.ip_info.network if env.ip_info else None,
    "asn": lambda env: env.ip_info.asn_key if env.ip_info else None,
    "country": lambda env: env.ip_info.country if env.ip_info else None,
    "device": lambda env: env.event.device_id,
    "session": lambda env: env.event.session_id,
    "symbol": lambda env: getattr(env.event, "symbol", None),
    "address": _addr_key,
    "bank_account": lambda env: getattr(env.event, "bank_account_fingerprint", None),
    "new_value": lambda env: getattr(env.event, "new_value_fingerprint", None),
    "firm": lambda env: "*",
}
KEY_DIMENSIONS = tuple(KEY_FUNCTIONS)


def key_value(env: EvalEnv, by: str) -> str | None:
    """The aggregation key of this event for a ``by`` dimension, or None when the event has none."""
    try:
        return KEY_FUNCTIONS[by](env)
    except KeyError:
        raise ValueError(f"unknown key dimension {by!r}") from None


# Chains whose addresses are case-insensitive hex (EIP-55 checksums only change letter case).
_CASE_INSENSITIVE_CHAINS = frozenset({"ethereum", "polygon", "bsc", "arbitrum", "optimism", "base",
                                      "avalanche"})


def address_key(chain: str, address: str) -> str:
    """``chain:address`` with EVM addresses lower-cased, so one address is one key."""
    if chain in _CASE_INSENSITIVE_CHAINS:
        address = address.lower()
    return f"{chain}:{address}"
