"""Where the effectiveness figures come from in the other AML parts — the one place that couples them.

* the scenarios and the reference-case coverage: :mod:`mamori.aml.scenarios` (contract 3);
* suspicious transaction report counts per case: :mod:`mamori.aml.reporting` (contract 5), plus the
  time a compliance officer first locked a report of a case (read from the report tables);
* address screening for re-run scenarios: the store's risk lists through
  :class:`mamori.aml.screening_service.ScreeningService` (as :class:`~mamori.risk.service.RiskService`
  attaches them to the live engine).

A part that is not installed yet gives empty figures (no scenarios, no reports), never a crash, so the
report still says what it could measure.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Engine, func, select

from mamori.adapters.sql.store import SqlStore
from mamori.risk.features.screening import ScreeningPort


class ScenarioLike(Protocol):
    """The fields of :class:`mamori.aml.scenarios.Scenario` the effectiveness figures read."""

    @property
    def id(self) -> str: ...
    @property
    def title_ja(self) -> str: ...
    @property
    def title_en(self) -> str: ...
    @property
    def rule_ids(self) -> tuple[str, ...]: ...
    @property
    def reference_cases(self) -> tuple[str, ...]: ...
    @property
    def typologies(self) -> tuple[str, ...]: ...
    @property
    def thresholds(self) -> tuple[str, ...]: ...


@dataclass(frozen=True, slots=True)
class LocalScenario:
    """A scenario defined outside :mod:`mamori.aml.scenarios` (tests, a firm's own scenario file):
    the same fields as contract 3."""

    id: str
    title_ja: str
    title_en: str
    rule_ids: tuple[str, ...]
    reference_cases: tuple[str, ...] = ()
    typologies: tuple[str, ...] = ()
    thresholds: tuple[str, ...] = ()


def _module(name: str) -> Any | None:
    try:
        return importlib.import_module(name)
    except ImportError:
        return None


def live_scenarios() -> tuple[ScenarioLike, ...]:
    """The shipped AML monitoring scenarios (``mamori.aml.scenarios.SCENARIOS``); empty if absent."""
    module = _module("mamori.aml.scenarios")
    return tuple(getattr(module, "SCENARIOS", ())) if module is not None else ()


def non_engine_detectors() -> dict[str, str]:
    """Alert rule ids raised outside the rule engine -> what raises them
    (``mamori.aml.scenarios.NON_ENGINE_DETECTORS``, e.g. the funds tracer's ``AML-TRACE-REACH-001``).
    Their alerts count in the metrics and their scenarios are live; backtests and sweeps, which re-run
    engine rules over stored events, cannot re-run them."""
    module = _module("mamori.aml.scenarios")
    return dict(getattr(module, "NON_ENGINE_DETECTORS", {})) if module is not None else {}


def attack_typologies() -> tuple[str, ...]:
    """The simulator's attack typologies (``mamori.aml.scenarios.TYPOLOGIES`` without ``benign_*``)."""
    module = _module("mamori.aml.scenarios")
    names = tuple(getattr(module, "TYPOLOGIES", ())) if module is not None else ()
    return tuple(t for t in names if not t.startswith("benign_"))


def reports_by_case(engine: Engine) -> dict[int, int]:
    """Case id -> suspicious transaction reports drafted (any state)."""
    module = _module("mamori.aml.reporting")
    return dict(module.reports_by_case(engine)) if module is not None else {}


def locked_reports_by_case(engine: Engine) -> dict[int, int]:
    """Case id -> reports a compliance officer locked (filed or ready to file)."""
    module = _module("mamori.aml.reporting")
    return dict(module.locked_reports_by_case(engine)) if module is not None else {}


def first_lock_by_case(engine: Engine) -> dict[int, int]:
    """Case id -> when a report of the case was first locked (microseconds UTC), for the time from
    alert to filing. Empty when the report tables are absent."""
    module = _module("mamori.aml.reporting.store")
    table = getattr(module, "str_reports", None) if module is not None else None
    if table is None:
        return {}
    module.create_tables(engine)  # type: ignore[union-attr]
    stmt = (select(table.c.case_id, func.min(table.c.locked_at_us))
            .where(table.c.locked_at_us.is_not(None)).group_by(table.c.case_id))
    with engine.connect() as conn:
        return {int(case_id): int(at) for case_id, at in conn.execute(stmt) if at is not None}


def screening_port(store: SqlStore) -> ScreeningPort | None:
    """The address screener on the store's risk lists (as they are now); None without the AML lists."""
    module = _module("mamori.aml.screening_service")
    if module is None:
        return None
    port: ScreeningPort = module.ScreeningService(store).screener
    return port
