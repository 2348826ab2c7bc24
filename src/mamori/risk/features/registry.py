"""The explicit list of feature plugins. Adding a plugin: one module, one line here, its tests
(``tests/test_features_*.py``) and its entry in ``docs/features.md`` — a contract test checks all
three."""

from __future__ import annotations

from mamori.risk.features.base import Compute, FeatureDef, FeaturePlugin
from mamori.risk.features.baselines import Baselines
from mamori.risk.features.enrichment import Enrichment
from mamori.risk.features.event_fields import EventFields
from mamori.risk.features.firm_blocks import FirmBlocks
from mamori.risk.features.first_seen import FirstSeen
from mamori.risk.features.freeze import Freeze
from mamori.risk.features.holdings import Holdings
from mamori.risk.features.limits import Limits
from mamori.risk.features.lockout import Lockout
from mamori.risk.features.market import Market
from mamori.risk.features.screening import Screening, ScreeningPort
from mamori.risk.features.since_last import SinceLast
from mamori.risk.features.symbol_watch import SymbolWatch
from mamori.risk.features.travel import Travel


def builtin_plugins(*, home_country: str = "JP", screening: ScreeningPort | None = None) -> list[FeaturePlugin]:
    """Fresh instances (each holds its own state) of every built-in plugin, in observe order."""
    return [EventFields(), Enrichment(home_country=home_country), FirstSeen(), SinceLast(), Baselines(),
            Holdings(), Lockout(), Limits(), Freeze(), FirmBlocks(), SymbolWatch(), Travel(), Market(),
            Screening(screening)]


def builtin_feature_defs() -> dict[str, FeatureDef]:
    """Every built-in feature by name (for compile-time name checks and the docs)."""
    return {f.name: f for p in builtin_plugins() for f in p.features()}


def computes_of(plugins: list[FeaturePlugin]) -> dict[str, Compute]:
    computes: dict[str, Compute] = {}
    for plugin in plugins:
        for feature in plugin.features():
            if feature.name in computes:
                raise ValueError(f"feature {feature.name!r} is defined twice (plugin {plugin.name})")
            computes[feature.name] = feature.compute
    return computes
