"""Replay a crypto simulation through the engine and measure, per typology, what the rules catch.

The events are fed to a fresh :class:`~mamori.risk.engine.Engine` in time order with the rule set
(by default the built-in rules, which include the transfer and AML rules) and the simulation's risk
list loaded into the screening index (:mod:`.screening_hook`; optionally indirect exposure from the
simulated chain). Sign-ins are realised the way the
securities evaluator does it (:mod:`mamori.sim.evaluate`): a customer whose login is challenged passes
a passkey step-up 8 s later (so the engine learns the device); an attacker holding a phished password
and code fails it, and the rest of that session never happens. Every other event is processed as
planned: a held withdrawal still counts as requested.

Definitions (all after the warm-up days for normal customers and look-alikes; attacks start after them):

``flagged event``
    decided ``hold`` or ``block``, or raising an alert (a rule with ``alert: true``). For the
    attacker's own sign-in in a takeover, ``challenge`` counts too: the attacker cannot pass it.
``episode``
    one account's part in one typology (every event labelled with that typology on that account), or
    for plain normal behaviour the account's unlabelled events. An episode is *caught* (attacks) or
    *flagged* (look-alikes, normal) when any of its events is flagged.
``recall`` (per attack typology and overall)
    caught attack episodes / attack episodes.
``precision``
    caught attack episodes / all flagged episodes (attack, benign look-alike and normal).
``alerts per 1,000 customers``
    flagged events / customers x 1,000, over the measured days and scaled to 30 days.
``by_rule``
    per rule, the flagged episodes it fired in (on a flagged event), by kind (attack, benign look-alike,
    normal), and its episode precision: attack / all.
"""

from __future__ import annotations

import heapq
import statistics
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from mamori.events.parse import parse_event
from mamori.kit.errors import InvalidEvent
from mamori.risk.engine import Decision, Engine
from mamori.risk.rules.model import Ruleset, Verdict
from mamori.sim.crypto.screening_hook import screening_engine
from mamori.sim.crypto.simulate import CryptoSimulation
from mamori.sim.crypto.world import ATTACK_TYPOLOGIES, BENIGN_TYPOLOGIES, Label, iso

STEP_UP_DELAY_S = 8
NORMAL = "normal"


@dataclass(slots=True)
class Outcome:
    """What became of one planned (or inserted) event."""

    event_id: str
    type: str
    account: str
    t: float
    label: Label
    verdict: int = -1          # Verdict value; -1 when never processed
    alert: bool = False
    rules: tuple[str, ...] = ()
    skipped: str | None = None
    synthetic: bool = False

    @property
    def flagged(self) -> bool:
        if self.verdict < 0:
            return False
        if self.verdict >= Verdict.hold or self.alert:
            return True
        return self.label.actor == "attacker" and self.type == "login" and self.verdict >= Verdict.challenge


def _time(event: dict[str, Any]) -> float:
    try:
        return datetime.fromisoformat(event["occurred_at"]).timestamp()
    except ValueError:
        raise ValueError(f"event {event['id']!r}: invalid event: occurred_at: {event['occurred_at'][:64]!r} is not "
                         "an RFC 3339 time") from None


class _Replay:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.outcomes: list[Outcome] = []
        self.dead: set[str] = set()
        self.stepped: set[str] = set()
        self.pending: list[tuple[float, int, dict[str, Any], Label]] = []
        self.seq = 0

    def feed(self, event: dict[str, Any], label: Label) -> None:
        t = _time(event)
        while self.pending and self.pending[0][0] <= t:
            _, _, ev, lab = heapq.heappop(self.pending)
            self.one(ev, lab, synthetic=True)
        self.one(event, label, synthetic=False)

    def drain(self) -> None:
        while self.pending:
            _, _, ev, lab = heapq.heappop(self.pending)
            self.one(ev, lab, synthetic=True)

    def one(self, event: dict[str, Any], label: Label, *, synthetic: bool) -> None:
        out = Outcome(event["id"], event["type"], event["account_id"], _time(event), label, synthetic=synthetic)
        self.outcomes.append(out)
        session = label.session
        if session is not None and session in self.dead:
            out.skipped = "session stopped"
            return
        if not synthetic and event["type"] == "login" and session in self.stepped:
            out.skipped = "replaced by the passkey step-up"
            return
        try:
            parsed = parse_event(event)
        except InvalidEvent as exc:
            raise ValueError(f"event {event['id']!r}: {exc.message}") from None
        decision: Decision = self.engine.process(parsed)
        out.verdict, out.alert = int(decision.verdict), decision.alert
        out.rules = tuple(r.id for r in decision.rules)
        if event["type"] != "login" or synthetic or session is None:
            return
        if decision.verdict >= Verdict.block:
            self.dead.add(session)
        elif decision.verdict == Verdict.challenge:
            if label.actor == "customer":
                if event["result"] == "success":
                    self.stepped.add(session)
                    self.insert(_step_up(event, success=True), label)
            else:  # the attacker cannot produce the victim's passkey
                self.dead.add(session)
                self.insert(_step_up(event, success=False), label)

    def insert(self, event: dict[str, Any], label: Label) -> None:
        self.seq += 1
        heapq.heappush(self.pending, (_time(event), self.seq, event, label))


def _step_up(event: dict[str, Any], *, success: bool) -> dict[str, Any]:
    keep = ("account_id", "ip", "user_agent", "device_id", "session_id", "channel")
    out: dict[str, Any] = {"id": f"{event['id']}-{'stepup' if success else 'passkey-fail'}", "type": "login",
                           "occurred_at": iso(_time(event) + STEP_UP_DELAY_S)}
    out.update({k: event[k] for k in keep if event.get(k) is not None})
    out.update(result="success" if success else "failure", method="passkey")
    if not success:
        out["failure_reason"] = "other"
    return out


def replay(sim: CryptoSimulation, ruleset: Ruleset, *, geo: Any = None, screening: bool = True,
           exposure: bool = False) -> tuple[list[Outcome], dict[str, Any]]:
    """Drive the simulation through a fresh engine; one outcome per event (plus inserted step-ups), and
    what was loaded into screening (the risk list; with ``exposure`` the chain graph too)."""
    if geo is None:
        from mamori.adapters.geo import open_geo_provider

        geo = open_geo_provider()
    if screening:
        engine, info = screening_engine(sim, ruleset, geo=geo, exposure=exposure)
    else:
        engine, info = Engine(ruleset, geo=geo), {"status": "no risk list (behaviour rules only)", "entries": 0,
                                                  "rejected": 0, "exposure": False}
    loop = _Replay(engine)
    for event in sim.events:
        loop.feed(event, sim.details[event["id"]])
    loop.drain()
    return loop.outcomes, info


@dataclass
class _Episode:
    typology: str
    account: str
    events: int = 0
    flagged_events: int = 0
    first_t: float | None = None
    first_flag_t: float | None = None
    rules: Counter[str] = field(default_factory=Counter)


def _ratio(a: int, b: int) -> float | None:
    return round(a / b, 4) if b else None


def _collect(sim: CryptoSimulation, outcomes: list[Outcome], episodes: dict[str, _Episode],
             rules_all: Counter[str]) -> int:
    """Fold one replay into the episodes (keys prefixed by the seed); returns its alerts (flagged events)."""
    params = sim.params
    start = datetime.fromisoformat(params["start"]).timestamp()
    measured_from = start + int(params.get("warmup_days", 0)) * 86400
    prefix = f"{sim.seed}/"
    began = {prefix + e["id"]: start + int(e.get("start_day", 0)) * 86400 for e in sim.episodes}
    alerts = 0
    for o in outcomes:
        attack = o.label.typology in ATTACK_TYPOLOGIES
        if not attack and o.t < measured_from:
            continue
        key = prefix + (o.label.episode or f"{NORMAL}:{o.account}")
        ep = episodes.get(key)
        if ep is None:
            ep = episodes[key] = _Episode(o.label.typology or NORMAL, o.account)
        ep.events += 1
        if ep.first_t is None or o.t < ep.first_t:  # the episode starts at its first event, or its start day
            ep.first_t = max(o.t, began.get(key, o.t))
        if o.flagged:
            alerts += 1
            ep.flagged_events += 1
            ep.rules.update(o.rules)
            rules_all.update(o.rules)
            if ep.first_flag_t is None or o.t < ep.first_flag_t:
                ep.first_flag_t = o.t
    return alerts


def _measured_days(sim: CryptoSimulation) -> int:
    return max(1, int(sim.params["days"]) - int(sim.params.get("warmup_days", 0)))


def metrics(runs: list[tuple[CryptoSimulation, list[Outcome]]], ruleset_id: str = "") -> dict[str, Any]:
    """Recall, precision, look-alike false positives and alert rates from one replay per simulation (several
    seeds are pooled: episodes and alerts add up; definitions above)."""
    if not runs:
        raise ValueError("no simulation to measure")
    episodes: dict[str, _Episode] = {}
    rules_all: Counter[str] = Counter()
    alerts = sum(_collect(sim, outcomes, episodes, rules_all) for sim, outcomes in runs)
    customers = sum(int(sim.params["customers"]) for sim, _ in runs)
    customer_days = sum(int(sim.params["customers"]) * _measured_days(sim) for sim, _ in runs)
    days = {_measured_days(sim) for sim, _ in runs}
    by_typology: dict[str, dict[str, Any]] = {}
    for typology in (*ATTACK_TYPOLOGIES, *BENIGN_TYPOLOGIES, NORMAL):
        eps = [e for e in episodes.values() if e.typology == typology]
        hit = [e for e in eps if e.flagged_events]
        rules: Counter[str] = Counter()
        for e in hit:
            rules.update(set(e.rules))
        row: dict[str, Any] = {"episodes": len(eps), "flagged": len(hit),
                               "flagged_events": sum(e.flagged_events for e in eps),
                               "top_rules": dict(rules.most_common(5))}
        if typology in ATTACK_TYPOLOGIES:
            row["recall"] = _ratio(len(hit), len(eps))
            delays = [max(0.0, e.first_flag_t - e.first_t) for e in hit
                      if e.first_flag_t is not None and e.first_t is not None]
            row["time_to_detect_median_h"] = round(statistics.median(delays) / 3600, 2) if delays else None
        else:
            row["false_positive_rate"] = _ratio(len(hit), len(eps))
        by_typology[typology] = row
    attack_eps = sum(by_typology[t]["episodes"] for t in ATTACK_TYPOLOGIES)
    caught = sum(by_typology[t]["flagged"] for t in ATTACK_TYPOLOGIES)
    flagged_all = caught + sum(by_typology[t]["flagged"] for t in (*BENIGN_TYPOLOGIES, NORMAL))
    by_rule: dict[str, dict[str, Any]] = {}
    for ep in episodes.values():
        kind = "attack" if ep.typology in ATTACK_TYPOLOGIES else "benign" if ep.typology != NORMAL else "normal"
        for rule in ep.rules:
            row = by_rule.setdefault(rule, {"attack": 0, "benign": 0, "normal": 0})
            row[kind] += 1
    for row in by_rule.values():
        row["precision"] = _ratio(row["attack"], row["attack"] + row["benign"] + row["normal"])
    return {
        "ruleset": ruleset_id, "params": runs[0][0].params, "seeds": [sim.seed for sim, _ in runs],
        "overall": {"attack_episodes": attack_eps, "caught": caught, "recall": _ratio(caught, attack_eps),
                    "flagged_episodes": flagged_all, "precision": _ratio(caught, flagged_all),
                    "alerts": alerts, "measured_days": days.pop() if len(days) == 1 else None,
                    "alerts_per_1000_customers": round(alerts / customers * 1000, 2),
                    "alerts_per_1000_customers_30d": round(alerts / customer_days * 1000 * 30, 2),
                    "benign_lookalike_flagged": sum(by_typology[t]["flagged"] for t in BENIGN_TYPOLOGIES),
                    "normal_flagged": by_typology[NORMAL]["flagged"]},
        "by_typology": by_typology,
        "rules_on_flagged_events": dict(rules_all.most_common(20)),
        "by_rule": dict(sorted(by_rule.items())),
        "definitions": DEFINITIONS,
    }


DEFINITIONS = {
    "flagged_event": "hold or block, or an alert; for a takeover attacker's sign-in also challenge",
    "episode": "one account's events labelled with one typology; for normal behaviour the account's unlabelled "
               "events",
    "recall": "caught attack episodes / attack episodes",
    "precision": "caught attack episodes / all flagged episodes (attack + benign look-alike + normal)",
    "alerts_per_1000_customers": "flagged events / customers x 1,000 over the measured days (and scaled to 30 days)",
    "by_rule": "flagged episodes in which the rule fired on a flagged event (attack, benign, normal); precision = "
               "attack / all",
}


def evaluate(sims: CryptoSimulation | list[CryptoSimulation], ruleset: Ruleset, *, geo: Any = None,
             screening: bool = True, exposure: bool = False) -> dict[str, Any]:
    """Replay each simulation through a fresh engine and measure them together (see :func:`metrics`)."""
    if geo is None:
        from mamori.adapters.geo import open_geo_provider

        geo = open_geo_provider()
    runs = []
    loaded: list[dict[str, Any]] = []
    for sim in sims if isinstance(sims, list) else [sims]:
        outcomes, info = replay(sim, ruleset, geo=geo, screening=screening, exposure=exposure)
        runs.append((sim, outcomes))
        loaded.append(info)
    report = metrics(runs, ruleset.identity)
    report["screening"] = loaded[0] if len(loaded) == 1 else {
        **loaded[-1], "status": "; ".join(f"seed {sim.seed}: {info['status']}" for (sim, _), info in zip(runs, loaded,
                                                                                                      strict=True)),
        "entries": sum(i["entries"] for i in loaded), "rejected": sum(i["rejected"] for i in loaded)}
    report["events"] = {"planned": sum(len(sim.events) for sim, _ in runs),
                        "processed": sum(1 for _, outs in runs for o in outs if o.verdict >= 0),
                        "skipped": sum(1 for _, outs in runs for o in outs if o.skipped),
                        "step_ups": sum(o.synthetic for _, outs in runs for o in outs)}
    return report
