"""Backtests: replay history through the active and a candidate rule set and report what changes.

Both rule sets run on their own engine (feature state that depends on decisions, such as which
devices are known, follows each rule set's own decisions), over the same events in the same order.
The report counts verdict transitions, fires per rule, and lists the events whose verdict changed;
with labels (event id -> fraud or not) it adds precision and recall of each rule set.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from mamori.adapters.geo import GeoProvider
from mamori.events.models import EventBase
from mamori.risk.engine import Engine
from mamori.risk.replay import Deduplicator
from mamori.risk.rules.model import Ruleset, Verdict


@dataclass
class Effectiveness:
    true_positive: int = 0
    false_positive: int = 0
    false_negative: int = 0
    true_negative: int = 0

    def add(self, flagged: bool, fraud: bool) -> None:
        if flagged and fraud:
            self.true_positive += 1
        elif flagged:
            self.false_positive += 1
        elif fraud:
            self.false_negative += 1
        else:
            self.true_negative += 1

    def to_dict(self) -> dict[str, Any]:
        tp, fp, fn = self.true_positive, self.false_positive, self.false_negative
        return {"true_positive": tp, "false_positive": fp, "false_negative": fn,
                "true_negative": self.true_negative,
                "precision": round(tp / (tp + fp), 4) if tp + fp else None,
                "recall": round(tp / (tp + fn), 4) if tp + fn else None}


@dataclass
class BacktestReport:
    baseline: str
    candidate: str
    events: int = 0
    changed: int = 0
    transitions: Counter[tuple[str, str]] = field(default_factory=Counter)
    baseline_fires: Counter[str] = field(default_factory=Counter)
    candidate_fires: Counter[str] = field(default_factory=Counter)
    examples: list[dict[str, Any]] = field(default_factory=list)
    baseline_effect: Effectiveness | None = None
    candidate_effect: Effectiveness | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "baseline": self.baseline, "candidate": self.candidate, "events": self.events,
            "changed": self.changed,
            "transitions": [{"from": a, "to": b, "count": n} for (a, b), n in sorted(self.transitions.items())],
            "rules": [{"id": r, "baseline": self.baseline_fires.get(r, 0),
                       "candidate": self.candidate_fires.get(r, 0)}
                      for r in sorted(set(self.baseline_fires) | set(self.candidate_fires))],
            "changed_events": self.examples,
        }
        if self.baseline_effect is not None and self.candidate_effect is not None:
            out["effectiveness"] = {"baseline": self.baseline_effect.to_dict(),
                                    "candidate": self.candidate_effect.to_dict()}
        return out


def backtest(events: Iterable[EventBase], *, baseline: Ruleset, candidate: Ruleset, geo: GeoProvider | None,
             labels: dict[str, bool] | None = None, flag_at: Verdict = Verdict.challenge,
             max_examples: int = 100) -> BacktestReport:
    """Replay ``events`` through both rule sets. With ``labels``, an event counts as flagged when its
    verdict is at least ``flag_at``."""
    a, b = Engine(baseline, geo=geo), Engine(candidate, geo=geo)
    report = BacktestReport(baseline.identity, candidate.identity)
    if labels is not None:
        report.baseline_effect, report.candidate_effect = Effectiveness(), Effectiveness()
    dedup = Deduplicator()
    for event in events:
        if not dedup.first_time(event.id):
            continue
        da, db = a.process(event), b.process(event)
        report.events += 1
        report.baseline_fires.update(r.id for r in da.rules)
        report.candidate_fires.update(r.id for r in db.rules)
        if labels is not None and event.id in labels:
            assert report.baseline_effect is not None and report.candidate_effect is not None
            report.baseline_effect.add(da.verdict >= flag_at, labels[event.id])
            report.candidate_effect.add(db.verdict >= flag_at, labels[event.id])
        if da.verdict != db.verdict:
            report.changed += 1
            report.transitions[(da.verdict.name, db.verdict.name)] += 1
            if len(report.examples) < max_examples:
                report.examples.append({
                    "event_id": event.id, "account_id": event.account_id, "event_type": da.event_type,
                    "baseline": da.verdict.name, "candidate": db.verdict.name,
                    "baseline_rules": [r.id for r in da.rules], "candidate_rules": [r.id for r in db.rules]})
    return report
