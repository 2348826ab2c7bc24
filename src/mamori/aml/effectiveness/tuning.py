"""Threshold sweeps, above/below-the-line samples and candidate backtests of one scenario.

The FSA's effectiveness papers (2025-03-31) ask firms to show *tuning evidence*: that a threshold
was chosen from the alerts, true and false positives it gives at several values, that events just
below the line were looked at (below-the-line testing) and those just above it too, and that a
changed threshold was back-tested over history before it went live. Both run the scenario's rules
over the stored events of a period (:mod:`mamori.aml.effectiveness.history`).

Labels come from closed cases (an alert in a case closed as fraud is an attack, one closed as
legitimate is not, anything else is *unreviewed*) or from a simulation's labels (every event is
labelled). Precision = TP / (TP + FP); recall = flagged target events / target events, where a
target is an attack event of the scenario's typologies (with case labels: any confirmed event) of an
event type the scenario's rules look at.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from sqlalchemy import Engine

from mamori.aml.effectiveness.history import RunResult, run
from mamori.aml.effectiveness.metrics import load_alerts
from mamori.aml.effectiveness.period import Period
from mamori.aml.effectiveness.runner import RunSpec, Truth, Variant, iter_pairs
from mamori.aml.effectiveness.sources import ScenarioLike, non_engine_detectors
from mamori.kit.errors import InvalidRequest
from mamori.risk.rules.model import Ruleset

MAX_VALUES: Final = 25
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _invalid(field_name: str, message: str) -> InvalidRequest:
    return InvalidRequest(message, details=[{"field": field_name, "message": message, "kind": "value_error"}])


def find_scenario(scenarios: Sequence[ScenarioLike], scenario_id: str) -> ScenarioLike:
    for scenario in scenarios:
        if scenario.id == scenario_id:
            return scenario
    known = ", ".join(s.id for s in scenarios) or "none installed"
    raise _invalid("scenario", f"unknown scenario {scenario_id!r}; known: {known}")


def tunable_constants(scenario: ScenarioLike, ruleset: Ruleset) -> tuple[str, ...]:
    """The scenario's declared thresholds plus the single-value constants its rules read."""
    used: set[str] = set()
    for rule in ruleset.rules:
        if rule.id in scenario.rule_ids:
            used |= {n for n in _NAME.findall(rule.when.source) if n in ruleset.lists}
    scalars = {n for n in used | set(scenario.thresholds)
               if n in ruleset.lists and not isinstance(ruleset.lists[n], (frozenset, dict))}
    return tuple(sorted(scalars))


def case_truth(engine: Engine, period: Period) -> Truth:
    """Labels from closed cases of the period's alerts (events not in one are unreviewed)."""
    labels: dict[str, str | None] = {}
    for alert in load_alerts(engine, period):
        outcome = alert.outcome
        if outcome is not None:
            labels[alert.event_id] = "fraud" if outcome == "tp" else None
    return Truth(labels, complete=False)


def simulation_truth(labels: Mapping[str, str | None], scenario: ScenarioLike) -> Truth:
    """Labels of a simulation (event id -> typology or None): every event is labelled."""
    return Truth(dict(labels), complete=True, targets=frozenset(scenario.typologies) or None)


def _spec(ruleset: Ruleset, scenario: ScenarioLike, variants: tuple[Variant, ...], truth: Truth | None,
          pairs: tuple[tuple[int, int], ...], geo: tuple[tuple[str, str | None], ...] | None,
          sample_size: int, home_country: str) -> RunSpec:
    if not ruleset.sources:
        raise _invalid("rules", "the rule set has no source files to re-run")
    return RunSpec(tuple(ruleset.sources.items()), rules_present(scenario, ruleset), variants, home_country, geo,
                   truth, pairs, sample_size)


def require_engine_rules(scenario: ScenarioLike) -> None:
    """Backtests and sweeps re-run engine rules over stored events: a scenario detected only outside
    the engine (the funds tracer) is skipped with the reason (its alerts still count in the metrics)."""
    outside = non_engine_detectors()
    if scenario.rule_ids and all(r in outside for r in scenario.rule_ids):
        raise _invalid("scenario", f"scenario {scenario.id} is detected outside the rule engine "
                       f"({'; '.join(f'{r}: {outside[r]}' for r in scenario.rule_ids)}); backtests and threshold "
                       "sweeps re-run engine rules over stored events, so they skip it (its alerts are counted in "
                       "the metrics) / ルールエンジン外の検知のため、バックテスト・閾値スイープの対象外です"
                       "（アラートは指標に計上されます）")


def rules_present(scenario: ScenarioLike, ruleset: Ruleset) -> tuple[str, ...]:
    """The scenario's rules that the rule set has (active or shadow); an error when it has none."""
    present = {r.id for r in ruleset.rules if r.mode != "disabled"}
    ids = tuple(r for r in scenario.rule_ids if r in present)
    if not ids:
        raise _invalid("scenario", f"none of the rules of scenario {scenario.id} ({', '.join(scenario.rule_ids)}) "
                       f"is in rule set {ruleset.identity}")
    return ids


def _row(result: RunResult, i: int, value: Any, current: bool) -> dict[str, Any]:
    t = result.tally
    judged = t.true_positive[i] + t.false_positive[i]
    return {"value": value, "current": current, "alerts": t.flagged[i], "true_positive": t.true_positive[i],
            "false_positive": t.false_positive[i], "unreviewed": t.unreviewed[i],
            "precision": round(t.true_positive[i] / judged, 4) if judged else None,
            "recall": round(t.flagged_targets[i] / t.targets, 4) if t.targets else None,
            "rule_errors": t.rule_errors[i], "fires": dict(sorted(t.fires[i].items()))}


@dataclass
class SweepResult:
    scenario: str
    threshold: str
    current_value: Any
    ruleset: str
    period: Period
    labels: str
    rows: list[dict[str, Any]]
    below_the_line: dict[str, Any] | None
    above_the_line: dict[str, Any] | None
    run: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"scenario": self.scenario, "threshold": self.threshold, "current_value": self.current_value,
                "ruleset": self.ruleset, "period": self.period.to_dict(), "labels": self.labels,
                "rows": self.rows, "below_the_line": self.below_the_line, "above_the_line": self.above_the_line,
                "run": self.run}


def sweep(url: str, period: Period, scenario: ScenarioLike, ruleset: Ruleset, *, threshold: str,
          values: Sequence[int | float], truth: Truth | None = None, labels_name: str = "none",
          workers: int = 2, warmup_start_us: int | None = None,
          geo: tuple[tuple[str, str | None], ...] | None = (), sample_size: int = 20,
          home_country: str = "JP") -> SweepResult:
    """Re-run the scenario at each value of ``threshold`` (the current value is always included)."""
    require_engine_rules(scenario)
    allowed = tunable_constants(scenario, ruleset)
    if threshold not in allowed:
        raise _invalid("threshold", f"{threshold!r} is not a threshold of scenario {scenario.id}; "
                       f"its thresholds: {', '.join(allowed) or 'none'}")
    current = ruleset.lists[threshold]
    ordered = sorted({*values, current}, key=float)
    if len(ordered) > MAX_VALUES:
        raise _invalid("values", f"at most {MAX_VALUES} values per sweep")
    variants = tuple(Variant(f"{threshold}={v}", () if v == current else ((threshold, v),)) for v in ordered)
    at = ordered.index(current)
    pairs = tuple(iter_pairs(len(variants), at))
    result = run(_spec(ruleset, scenario, variants, truth, pairs, geo, sample_size, home_country), url, period,
                 warmup_start_us=warmup_start_us, workers=workers)
    rows = [_row(result, i, v, i == at) for i, v in enumerate(ordered)]
    below = above = None
    flagged = result.tally.flagged
    for neighbour in (at - 1, at + 1):
        if not 0 <= neighbour < len(ordered):
            continue
        if flagged[neighbour] >= flagged[at] and below is None:
            below = {"value": ordered[neighbour], "events": result.tally.sample_list((neighbour, at)),
                     "meaning_ja": f"現在の閾値では検知されず、{ordered[neighbour]} なら検知される事象",
                     "meaning_en": f"not flagged at the current line, flagged at {ordered[neighbour]}"}
        elif flagged[neighbour] < flagged[at] and above is None:
            above = {"value": ordered[neighbour], "events": result.tally.sample_list((at, neighbour)),
                     "meaning_ja": f"現在の閾値で検知され、{ordered[neighbour]} では検知されない事象",
                     "meaning_en": f"flagged at the current line, no longer flagged at {ordered[neighbour]}"}
    return SweepResult(scenario.id, threshold, current, ruleset.identity, period, labels_name, rows, below, above,
                       {**result.to_dict(), "rules": list(rules_present(scenario, ruleset))})


def backtest(url: str, period: Period, scenario: ScenarioLike, ruleset: Ruleset, *,
             candidate: Mapping[str, int | float], truth: Truth | None = None, labels_name: str = "none",
             workers: int = 2, warmup_start_us: int | None = None,
             geo: tuple[tuple[str, str | None], ...] | None = (), sample_size: int = 20,
             home_country: str = "JP") -> dict[str, Any]:
    """The scenario with the current constants against ``candidate`` values, over the period."""
    require_engine_rules(scenario)
    if not candidate:
        raise _invalid("set", "give at least one candidate value (name=value)")
    allowed = tunable_constants(scenario, ruleset)
    for name in candidate:
        if name not in allowed:
            raise _invalid("set", f"{name!r} is not a threshold of scenario {scenario.id}; "
                           f"its thresholds: {', '.join(allowed) or 'none'}")
    variants = (Variant("current"), Variant("candidate", tuple(sorted(candidate.items()))))
    result = run(_spec(ruleset, scenario, variants, truth, ((0, 1), (1, 0)), geo, sample_size, home_country),
                 url, period, warmup_start_us=warmup_start_us, workers=workers)
    return {"scenario": scenario.id, "ruleset": ruleset.identity, "period": period.to_dict(), "labels": labels_name,
            "current": {**_row(result, 0, {k: ruleset.lists[k] for k in candidate}, True)},
            "candidate": {**_row(result, 1, dict(candidate), False)},
            "removed_by_candidate": result.tally.sample_list((0, 1)),
            "added_by_candidate": result.tally.sample_list((1, 0)),
            "run": {**result.to_dict(), "rules": list(rules_present(scenario, ruleset))}}
