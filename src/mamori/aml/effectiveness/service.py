"""Effectiveness verification on the shared store, for the CLI and the HTTP API: outcome metrics,
coverage, sweeps, backtests and the report, each audited (``aml.effectiveness.*``; details hold the
period, scenario and threshold names and the report id, never customer data)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import orjson

from mamori.adapters.sql.store import SqlStore
from mamori.aml.effectiveness import sources
from mamori.aml.effectiveness.coverage import RiskAssessment, parse_risk_assessment, reference_coverage, risk_coverage
from mamori.aml.effectiveness.metrics import scenario_metrics
from mamori.aml.effectiveness.period import Period
from mamori.aml.effectiveness.render import render_html
from mamori.aml.effectiveness.report import ReportOptions, build_report
from mamori.aml.effectiveness.runner import Truth
from mamori.aml.effectiveness.sources import ScenarioLike
from mamori.aml.effectiveness.tuning import backtest, case_truth, find_scenario, simulation_truth, sweep
from mamori.aml.effectiveness.workbook import report_xlsx
from mamori.kit.errors import InvalidRequest
from mamori.risk.rules.model import Ruleset

MAX_LABEL_FILE_BYTES = 512 * 1024 * 1024


def read_labels(path: Path) -> dict[str, str | None]:
    """A simulation's ``labels.json`` (event id -> typology or null)."""
    try:
        if path.stat().st_size > MAX_LABEL_FILE_BYTES:
            raise InvalidRequest(f"{path}: labels file larger than {MAX_LABEL_FILE_BYTES} bytes")
        data = orjson.loads(path.read_bytes())
    except OSError as exc:
        raise InvalidRequest(f"cannot read labels file {path}: {exc.strerror}") from None
    except orjson.JSONDecodeError as exc:
        raise InvalidRequest(f"{path}: not JSON: {exc}") from None
    if not isinstance(data, dict) or not all(isinstance(k, str) and (v is None or isinstance(v, str))
                                             for k, v in data.items()):
        raise InvalidRequest(f"{path}: labels must map event ids to a typology name or null")
    return data


class EffectivenessService:
    """Built with the store, a function giving the active rule set, and optionally the scenarios
    (default: :func:`mamori.aml.effectiveness.sources.live_scenarios`)."""

    def __init__(self, store: SqlStore, ruleset: Ruleset, *, scenarios: Sequence[ScenarioLike] | None = None,
                 geo: tuple[tuple[str, str | None], ...] | None = (), home_country: str = "JP",
                 workers: int = 2, warmup_days: int | None = None) -> None:
        self.store = store
        self.ruleset = ruleset
        self.scenarios = tuple(scenarios) if scenarios is not None else sources.live_scenarios()
        self.geo = geo
        self.home_country = home_country
        self.workers = workers
        self.warmup_days = warmup_days

    def warmup_start(self, period: Period) -> int | None:
        """Where feature warm-up starts: ``warmup_days`` before the period, or None (all stored history)."""
        return None if self.warmup_days is None else period.start_us - self.warmup_days * 86_400_000_000

    def _audit(self, actor: str, action: str, target: str, details: dict[str, Any]) -> None:
        self.store.audit(actor=actor, action=action, target=target, details=details)

    def assessment(self, text: str | None, origin: str = "risk-assessment.yaml") -> RiskAssessment | None:
        return None if text is None else parse_risk_assessment(text, self.scenarios, origin=origin)

    def metrics(self, actor: str, period: Period) -> dict[str, Any]:
        rows = [m.to_dict() for m in scenario_metrics(self.store.engine, period, self.scenarios)]
        self._audit(actor, "aml.effectiveness.metrics", "aml-effectiveness", {"period": period.to_dict()})
        return {"period": period.to_dict(), "ruleset": self.ruleset.identity, "scenarios": rows}

    def coverage(self, actor: str, assessment: RiskAssessment | None) -> dict[str, Any]:
        out = {"ruleset": self.ruleset.identity,
               "reference_cases": reference_coverage(self.scenarios, self.ruleset, assessment),
               "risks": risk_coverage(assessment, self.scenarios, self.ruleset) if assessment else None}
        self._audit(actor, "aml.effectiveness.coverage", "aml-effectiveness",
                    {"risks": len(assessment.risks) if assessment else 0})
        return out

    def _truth(self, period: Period, scenario: ScenarioLike, labels: Mapping[str, str | None] | None) -> Truth:
        return simulation_truth(labels, scenario) if labels is not None else case_truth(self.store.engine, period)

    def sweep(self, actor: str, period: Period, scenario_id: str, threshold: str, values: Sequence[int | float],
              *, labels: Mapping[str, str | None] | None = None, sample_size: int = 20) -> dict[str, Any]:
        scenario = find_scenario(self.scenarios, scenario_id)
        result = sweep(self.store.url, period, scenario, self.ruleset, threshold=threshold, values=values,
                       truth=self._truth(period, scenario, labels),
                       labels_name="simulation" if labels is not None else "closed_cases", workers=self.workers,
                       warmup_start_us=self.warmup_start(period), geo=self.geo, sample_size=sample_size,
                       home_country=self.home_country)
        self._audit(actor, "aml.effectiveness.sweep", scenario.id,
                    {"period": period.to_dict(), "threshold": threshold, "values": list(values)})
        return result.to_dict()

    def backtest(self, actor: str, period: Period, scenario_id: str, candidate: Mapping[str, int | float], *,
                 labels: Mapping[str, str | None] | None = None, sample_size: int = 20) -> dict[str, Any]:
        scenario = find_scenario(self.scenarios, scenario_id)
        out = backtest(self.store.url, period, scenario, self.ruleset, candidate=candidate,
                       truth=self._truth(period, scenario, labels),
                       labels_name="simulation" if labels is not None else "closed_cases", workers=self.workers,
                       warmup_start_us=self.warmup_start(period), geo=self.geo, sample_size=sample_size,
                       home_country=self.home_country)
        self._audit(actor, "aml.effectiveness.backtest", scenario.id,
                    {"period": period.to_dict(), "candidate": dict(candidate)})
        return out

    def report(self, actor: str, period: Period, *, assessment: RiskAssessment | None = None,
               options: ReportOptions | None = None) -> dict[str, Any]:
        options = options or ReportOptions(workers=self.workers, geo=self.geo, home_country=self.home_country,
                                           warmup_start_us=self.warmup_start(period))
        report = build_report(self.store.engine, self.store.url, period, ruleset=self.ruleset,
                              scenarios=self.scenarios, assessment=assessment, options=options)
        self._audit(actor, "aml.effectiveness.report", report["report_id"],
                    {"period": period.to_dict(), "ruleset": self.ruleset.identity})
        return report


def write_report(report: dict[str, Any], out_dir: Path) -> list[Path]:
    """Write ``report.html``, ``report.xlsx`` and ``report.json`` into ``out_dir``; returns the paths."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        paths = [out_dir / "report.html", out_dir / "report.xlsx", out_dir / "report.json"]
        paths[0].write_text(render_html(report), encoding="utf-8")
        paths[1].write_bytes(report_xlsx(report))
        paths[2].write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS))
    except OSError as exc:
        raise InvalidRequest(f"cannot write the report to {out_dir}: {exc.strerror}") from None
    return paths
