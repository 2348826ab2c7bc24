"""Where the report module meets the other AML parts (kept in one place so the lead can connect them).

* rule id -> the FSA reference cases it implements: :func:`mamori.aml.scenarios.scenario_for_rule`
  (contract 3) when that module is installed, else the small table below for the transfer rules that
  already ship (``risk/builtin_rules/transfers.yaml``);
* crypto address checks: :func:`mamori.aml.addresses.normalise_address` (contract 1) when installed,
  else a shape check (the event contract's address alphabet).
"""

from __future__ import annotations

import importlib
import re
from collections.abc import Callable
from typing import Any, Final

from mamori.aml.reference_cases import BY_ID
from mamori.kit.errors import MamoriError

FALLBACK_RULE_CASES: Final[dict[str, tuple[str, ...]]] = {
    "XFER-RAPID-001": ("C14", "F1"),
    "XFER-COLLECT-001": ("C12",),
    "XFER-MULE-001": ("C12",),
    "XFER-STRUCT-001": ("C2",),
    "XFER-ANON-001": ("C6",),
}
"""Reference cases of the transfer rules that predate ``mamori.aml.scenarios`` (used only without it)."""

_ADDRESS_SHAPE: Final = re.compile(r"[A-Za-z0-9:._-]{1,128}")


def _optional(module: str, name: str) -> Callable[..., Any] | None:
    try:
        found = importlib.import_module(module)
    except ModuleNotFoundError as exc:
        if exc.name != module:
            raise
        return None
    return getattr(found, name, None)


def reference_cases_for_rule(rule_id: str) -> tuple[str, ...]:
    """The reference case ids (``C1`` … ``C17``, ``F1`` … ``F3``) a fired rule points to; () if none."""
    scenario_for_rule = _optional("mamori.aml.scenarios", "scenario_for_rule")
    if scenario_for_rule is not None:
        scenario = scenario_for_rule(rule_id)
        if scenario is not None:
            return tuple(c for c in scenario.reference_cases if c in BY_ID)
    return FALLBACK_RULE_CASES.get(rule_id, ())


def check_address(chain: str, address: str) -> str:
    """The address in its normal form; ``ValueError`` naming the problem when it is malformed."""
    normalise = _optional("mamori.aml.addresses", "normalise_address")
    if normalise is not None:
        try:
            return str(normalise(chain, address))
        except MamoriError as exc:
            raise ValueError(exc.message) from None
    if not _ADDRESS_SHAPE.fullmatch(address):
        raise ValueError("an address is 1-128 characters of A-Z, a-z, 0-9 and : . _ -")
    return address


def check_chain(chain: str) -> str:
    """The chain's canonical name (``btc`` -> ``bitcoin``); ``ValueError`` naming an unknown chain."""
    normalise = _optional("mamori.aml.addresses", "normalise_chain")
    if normalise is None:
        return chain
    try:
        return str(normalise(chain))
    except MamoriError as exc:
        raise ValueError(exc.message) from None
