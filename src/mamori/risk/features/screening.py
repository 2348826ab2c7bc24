"""Address screening features of crypto deposits and withdrawals (FSA 2025 request 5: stop transfers
to scams and online casinos; FATF R.15 guidance para. 179–183: screen counterparty wallets).

The counterparty address (destination of a withdrawal, source of a deposit) is screened against the
firm's risk lists through the engine's screening port (:class:`mamori.aml.screening.Screener`,
attached with ``Engine(..., screening=...)``). Without a port every list feature is None, so the
rules that read them do not fire (``mamori rules test`` and engines built without lists).

* ``address_valid`` — the address is well-formed for its chain (checksums included);
* ``address_listed``, ``address_risk_category``, ``address_risk_confidence``, ``address_risk_source``
  and ``address_screening_hit`` (the strongest hit as evidence: category, source, confidence, entry
  id, reference) — direct exposure;
* ``address_hosted`` — the address belongs to an exchange or payment processor on the lists;
* ``address_exposure_category`` / ``address_exposure_hops`` — indirect exposure within n hops from the
  port's :class:`~mamori.aml.model.ExposureLookup` (the tracer's graph), None when none is attached;
* ``amount_significant_digits`` — significant digits of the asset amount (100 USDT → 1, 0.25 BTC → 2),
  for round-amount patterns such as online-casino deposits.

An attribution provider that cannot answer makes the list features raise: rules reading them fail,
and a withdrawal fails closed (hold), as every money movement does.
"""

from __future__ import annotations

from collections.abc import Iterable
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

from mamori.aml.addresses import is_valid_address
from mamori.kit.errors import InvalidAddress, UnknownChain
from mamori.risk.features.base import EvalEnv, FeatureDef

if TYPE_CHECKING:
    from mamori.aml.model import RiskCategory, ScreeningResult

CRYPTO = frozenset({"crypto_deposit", "crypto_withdrawal"})
_HOSTED = frozenset({"exchange", "payment_processor"})


class ScreeningPort(Protocol):
    """What the engine needs from screening (implemented by :class:`mamori.aml.screening.Screener`)."""

    def screen(self, chain: str, address: str) -> ScreeningResult: ...

    def exposure(self, chain: str, address: str) -> tuple[RiskCategory, int] | None: ...


class ScreeningUnavailable(RuntimeError):
    """An attribution provider did not answer: the screening answer is incomplete."""


class Screening:
    name = "screening"
    stateless = True  # observe/commit do nothing: the engine skips them

    def __init__(self, port: ScreeningPort | None = None) -> None:
        self.port = port
        self._cached: tuple[EvalEnv | None, Any] = (None, None)  # the env itself: no id reuse

    def _result(self, env: EvalEnv) -> ScreeningResult | None:
        """The screening of this event's address (once per event); None without a port or a valid address."""
        if self._cached[0] is env:
            return self._cached[1]  # type: ignore[no-any-return]
        result = None
        event: Any = env.event
        if self.port is not None and getattr(event, "address", None):
            try:
                result = self.port.screen(event.chain, event.address)
            except (InvalidAddress, UnknownChain):  # not screenable; address_valid says so
                result = None
        self._cached = (env, result)
        return result

    def _listed(self, env: EvalEnv) -> ScreeningResult | None:
        result = self._result(env)
        if result is not None and result.errors:
            raise ScreeningUnavailable("; ".join(result.errors))
        return result

    def _valid(self, env: EvalEnv) -> bool | None:
        event: Any = env.event
        return is_valid_address(event.chain, event.address) if getattr(event, "address", None) else None

    def _hit(self, env: EvalEnv) -> dict[str, Any] | None:
        result = self._listed(env)
        top = result.top if result is not None else None
        if top is None:
            return None
        return {"category": top.category.value, "source": top.source, "confidence": str(top.confidence),
                "entry_id": top.entry_id, "reference": top.reference, "provider": top.provider}

    def _exposure(self, env: EvalEnv) -> tuple[str, int] | None:
        event: Any = env.event
        if self.port is None or not getattr(event, "address", None):
            return None
        result = self._result(env)
        if result is None:
            return None
        found = self.port.exposure(result.chain, result.address)
        return None if found is None else (found[0].value, int(found[1]))

    def features(self) -> Iterable[FeatureDef]:
        def listed(env: EvalEnv) -> bool | None:
            return None if self.port is None else bool((r := self._listed(env)) and r.listed)

        def category(env: EvalEnv) -> str | None:
            result = self._listed(env)
            return result.category.value if result is not None and result.category is not None else None

        yield FeatureDef("address_valid", "The counterparty address is well-formed for its chain (alphabet, length, "
                         "checksum).", "bool", self._valid, CRYPTO)
        yield FeatureDef("address_listed", "The counterparty address is on a risk list (None without screening).",
                         "bool", listed, CRYPTO)
        yield FeatureDef("address_risk_category", "Category of the strongest list hit on the counterparty address "
                         "(scam, online_casino, mixer, sanctioned …); None if not listed.", "str", category, CRYPTO)
        yield FeatureDef("address_risk_confidence", "Confidence (0–1) of that hit.", "decimal",
                         lambda env: r.confidence if (r := self._listed(env)) is not None else None, CRYPTO)
        yield FeatureDef("address_risk_source", "Source of that hit (list or provider).", "str",
                         lambda env: r.top.source if (r := self._listed(env)) is not None and r.top else None, CRYPTO)
        yield FeatureDef("address_screening_hit", "The strongest hit as evidence: category, source, confidence, entry "
                         "id, reference, provider.", "object", self._hit, CRYPTO)
        yield FeatureDef("address_hosted", "The counterparty address belongs to an exchange or payment processor on "
                         "the lists.", "bool",
                         lambda env: bool((r := self._listed(env)) and r.category is not None
                                          and r.category.value in _HOSTED), CRYPTO)
        yield FeatureDef("address_exposure_category", "Nearest risky category reachable from the address within the "
                         "tracer's hops (None when unknown or no graph).", "str",
                         lambda env: e[0] if (e := self._exposure(env)) else None, CRYPTO)
        yield FeatureDef("address_exposure_hops", "Hops from the address to that category (1 = its direct "
                         "counterparty).", "int", lambda env: e[1] if (e := self._exposure(env)) else None, CRYPTO)
        yield FeatureDef("amount_significant_digits", "Significant digits of the asset amount (100 → 1, 0.25 → 2, "
                         "0.1234 → 4): small values are round amounts.", "int", _significant_digits, CRYPTO)

    def observe(self, env: EvalEnv) -> None:
        return None

    def commit(self, env: EvalEnv, verdict: str) -> None:
        return None


def _significant_digits(env: EvalEnv) -> int | None:
    amount = getattr(env.event, "amount", None)
    if not isinstance(amount, Decimal) or not amount:
        return None
    digits = amount.normalize().as_tuple().digits
    return len(digits)
