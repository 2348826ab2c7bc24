"""The effectiveness report's content: one JSON-able dict that the HTML page, the Excel workbook and
the API all render (FSA 「マネロン等対策の有効性検証に関する対話のための論点・プラクティスの整理」 and
「事例集」, 2025-03-31: explain *reasonably and objectively* whether monitoring works).

Versioned so that an independent reviewer (second or third line) can reproduce it: the report
records the active rule set's identity and digest, every rule set that decided events in the
period, the period, the parameters (sweeps, labels, warm-up), the counts of the data it read, the
mamori version, and a ``report_id`` = SHA-256 over all of these. Running the same command on the
same data gives the same ``report_id`` (the generation time is not part of it).
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Final

import orjson
from sqlalchemy import Engine, func, select

from mamori import __version__
from mamori.adapters.sql.schema import decisions, events
from mamori.aml.effectiveness.coverage import RiskAssessment, live_scenarios, reference_coverage, risk_coverage
from mamori.aml.effectiveness.metrics import load_alerts, scenario_metrics
from mamori.aml.effectiveness.period import Period, jst
from mamori.aml.effectiveness.runner import Truth
from mamori.aml.effectiveness.sources import ScenarioLike
from mamori.aml.effectiveness.tuning import case_truth, simulation_truth, sweep, tunable_constants
from mamori.risk.rules.model import Ruleset

SWEEP_FACTORS: Final = (0.5, 0.75, 1.0, 1.25, 1.5, 2.0)
"""Default sweep: these multiples of the current value of each scenario's first threshold."""


@dataclass(frozen=True, slots=True)
class SweepRequest:
    scenario: str
    threshold: str
    values: tuple[int | float, ...]


@dataclass
class ReportOptions:
    sweeps: str | list[SweepRequest] = "auto"
    """``auto`` (first threshold of each scenario, :data:`SWEEP_FACTORS`), ``none``, or explicit."""
    labels: Mapping[str, str | None] | None = None
    """A simulation's labels (event id -> typology); None: labels from closed cases."""
    workers: int = 2
    warmup_start_us: int | None = None
    geo: tuple[tuple[str, str | None], ...] | None = ()
    sample_size: int = 10
    home_country: str = "JP"
    extra: dict[str, Any] = field(default_factory=dict)
    """Anything else the caller wants recorded (e.g. the command line)."""


def auto_values(current: int | float) -> tuple[int | float, ...]:
    values: list[int | float] = []
    for factor in SWEEP_FACTORS:
        v = current * factor
        values.append(round(v) if isinstance(current, int) else round(v, 6))
    return tuple(sorted({v for v in values if v > 0} | {current}))


def sweep_requests(scenarios: Sequence[ScenarioLike], ruleset: Ruleset) -> list[SweepRequest]:
    out = []
    live = live_scenarios(scenarios, ruleset)
    for scenario in scenarios:
        if not live.get(scenario.id):
            continue
        names = [n for n in scenario.thresholds if n in tunable_constants(scenario, ruleset)] or \
            list(tunable_constants(scenario, ruleset))
        if names:
            current = ruleset.lists[names[0]]
            if isinstance(current, (int, float)) and not isinstance(current, bool):
                out.append(SweepRequest(scenario.id, names[0], auto_values(current)))
    return out


def data_quality(engine: Engine, period: Period) -> dict[str, Any]:
    """What the scenarios' feeds looked like in the period: events per type, rule failures recorded
    on decisions, events without a decision."""
    in_period = (events.c.occurred_at_us >= period.start_us, events.c.occurred_at_us < period.end_us)
    with engine.connect() as conn:
        by_type = {str(t): int(n) for t, n in conn.execute(
            select(events.c.event_type, func.count()).where(*in_period).group_by(events.c.event_type))}
        undecided = int(conn.execute(
            select(func.count()).select_from(events.outerjoin(decisions, decisions.c.event_id == events.c.event_id))
            .where(*in_period, decisions.c.event_id.is_(None))).scalar_one())
        failed = int(conn.execute(select(func.count()).select_from(decisions).where(
            decisions.c.occurred_at_us >= period.start_us, decisions.c.occurred_at_us < period.end_us,
            decisions.c.body.like('%"errors":%'))).scalar_one())
        rulesets = {str(r): int(n) for r, n in conn.execute(
            select(decisions.c.ruleset, func.count()).where(
                decisions.c.occurred_at_us >= period.start_us, decisions.c.occurred_at_us < period.end_us)
            .group_by(decisions.c.ruleset))}
    checks = [
        {"check": "events_in_period", "ja": "期間内のイベント数", "en": "Events in the period",
         "value": sum(by_type.values()), "ok": sum(by_type.values()) > 0},
        {"check": "crypto_events", "ja": "暗号資産の入出庫イベント", "en": "Crypto deposit and withdrawal events",
         "value": by_type.get("crypto_deposit", 0) + by_type.get("crypto_withdrawal", 0),
         "ok": by_type.get("crypto_deposit", 0) + by_type.get("crypto_withdrawal", 0) > 0},
        {"check": "undecided_events", "ja": "判定の記録がないイベント", "en": "Events without a recorded decision",
         "value": undecided, "ok": undecided == 0},
        {"check": "rule_failures", "ja": "ルール評価エラーを含む判定", "en": "Decisions with rule failures",
         "value": failed, "ok": failed == 0},
    ]
    return {"events_by_type": dict(sorted(by_type.items())), "rulesets": rulesets, "checks": checks}


def build_report(engine: Engine, url: str, period: Period, *, ruleset: Ruleset,
                 scenarios: Sequence[ScenarioLike], assessment: RiskAssessment | None = None,
                 options: ReportOptions | None = None, now: datetime | None = None) -> dict[str, Any]:
    """Everything the report shows, computed from the store at ``url`` (``engine`` is its engine)."""
    options = options or ReportOptions()
    facts = load_alerts(engine, period)
    metrics = scenario_metrics(engine, period, scenarios, facts=facts)
    requests: list[SweepRequest]
    if isinstance(options.sweeps, str):
        requests = sweep_requests(scenarios, ruleset) if options.sweeps == "auto" else []
    else:
        requests = list(options.sweeps)
    by_id = {s.id: s for s in scenarios}
    sweeps = []
    from_cases: Truth | None = None
    for request in requests:
        scenario = by_id[request.scenario]
        truth: Truth
        if options.labels is not None:
            truth, labels_name = simulation_truth(options.labels, scenario), "simulation"
        else:
            from_cases = from_cases or case_truth(engine, period)
            truth, labels_name = from_cases, "closed_cases"
        result = sweep(url, period, scenario, ruleset, threshold=request.threshold, values=request.values,
                       truth=truth, labels_name=labels_name, workers=options.workers,
                       warmup_start_us=options.warmup_start_us, geo=options.geo,
                       sample_size=options.sample_size, home_country=options.home_country)
        sweeps.append(result.to_dict())
    quality = data_quality(engine, period)
    live = live_scenarios(scenarios, ruleset)
    parameters = {"sweeps": [{"scenario": r.scenario, "threshold": r.threshold, "values": list(r.values)}
                             for r in requests],
                  "labels": "simulation" if options.labels is not None else "closed_cases",
                  "warmup_from_us": options.warmup_start_us, "sample_size": options.sample_size,
                  "risk_assessment": None if assessment is None else
                  {"firm": assessment.firm, "version": assessment.version, "assessed_at": assessment.assessed_at,
                   "risks": len(assessment.risks)},
                  **options.extra}
    version = {"mamori": __version__, "ruleset": ruleset.identity, "ruleset_digest": ruleset.digest,
               "rulesets_in_period": quality["rulesets"], "period": period.to_dict(), "parameters": parameters,
               "alerts_read": len(facts), "events_in_period": quality["events_by_type"]}
    report_id = hashlib.sha256(orjson.dumps(version, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]
    generated = now or datetime.now(UTC)
    return {
        "report_id": report_id, "generated_at": jst(int(generated.timestamp() * 1_000_000)).isoformat(),
        "version": version, "period_label": period.label(),
        "scenarios": [{"id": s.id, "title_ja": s.title_ja, "title_en": s.title_en, "rule_ids": list(s.rule_ids),
                       "live_rules": list(live.get(s.id, ())), "reference_cases": list(s.reference_cases),
                       "typologies": list(s.typologies), "thresholds": list(s.thresholds)} for s in scenarios],
        "metrics": [m.to_dict() for m in metrics],
        "sweeps": sweeps,
        "reference_coverage": reference_coverage(scenarios, ruleset, assessment),
        "risk_coverage": risk_coverage(assessment, scenarios, ruleset) if assessment is not None else None,
        "data_quality": quality,
    }
