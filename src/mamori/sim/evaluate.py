"""Replay a simulation through the engine, closed-loop, and measure what a rule set stops.

The realisation rules (who passes a challenge, what a hold means, which events then never happen)
are described in :mod:`mamori.sim.simulate`. Metrics, all computed from the closed-loop run:

``takeover_recall``
    attack campaigns detected / attack campaigns. A campaign is detected when any of its events
    (attackers' events, including the failed passkey attempt after a challenge) got ``challenge`` or
    stronger. ``account_recall`` is the same per attacked account of a campaign.
``alert_precision``
    alerts on attack events / all alerts, where an *alert* is a decision of ``hold`` or ``block`` on
    any event, or ``challenge`` on a login (a challenge on an order, transfer or settings change is
    a step-up, not an alert; ``any_challenge_precision`` counts those too).
``stopped_before_first_order``
    among takeovers (an attacked account whose attacker planned at least one order), the share in
    which no attacker order took effect (filled): the session was stopped at login, or every order
    was held, blocked or failed its step-up. ``withdrawals_stopped`` is the same for takeovers that
    planned a withdrawal.
``yen_prevented`` / ``yen_executed`` / ``yen_prevented_ratio``
    notional (quantity x limit or reference price) of attacker orders that did not take effect
    (never placed because the session was stopped, held, blocked, failed step-up) vs that filled;
    the ratio is prevented / (prevented + executed). Withdrawals are reported separately.
``time_to_detect``
    from a campaign's first event to its first decision of ``challenge`` or stronger (detected
    campaigns only): median and 90th percentile, seconds.
``legit_challenge_rate``
    customers' sign-ins (a session's login factor events, before any step-up) in which a factor got
    ``challenge`` or ``block`` / all customers' sign-ins, counted after the warm-up days (the engine
    starts empty, as on the day it is deployed: ``warmup_challenge_rate`` shows that period; attacks
    are only injected after it). ``legit_login_event_challenge_rate`` counts
    login events instead; ``stepup_rechallenge_rate`` is the share of customers' passkey step-ups
    that were challenged again (the customer passed; the engine did not learn the device).

The trade-off curve (legit challenge rate vs takeover recall as the login challenge threshold
varies) is computed by **re-scoring**: each login decision keeps its summed score and its floor
(the strongest ``action`` of its fired rules and the failure verdict of rules that raised), and for
a threshold ``T`` its verdict becomes ``max(floor, verdict for score with challenge = T)``; non-login
decisions keep their verdict. This needs one engine run, but it is open-loop beyond the recorded
run: at thresholds above the configured one, attacker events that never happened (their session
was stopped) cannot be detected, so recall there is a lower bound, and device/baseline learning from
the logins that would now be allowed is not replayed. ``--sweep exact`` re-runs the engine
closed-loop for every threshold instead (slower).
"""

from __future__ import annotations

import dataclasses
import heapq
import statistics
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from html import escape
from pathlib import Path
from typing import Any

import orjson

from mamori.events.parse import parse_event
from mamori.risk.engine import Engine
from mamori.risk.rules.model import Ruleset, Verdict
from mamori.sim.chart import Series, tradeoff_svg
from mamori.sim.population import money
from mamori.sim.scenarios import ATTACK_SCENARIOS, Label, iso
from mamori.sim.simulate import Simulation, event_time

STEP_UP_DELAY_S = 8
DEFAULT_SWEEP = (10, 20, 30, 40, 50, 60, 70, 80, 90, 100, 120, 140, 160, 200)


@dataclass(slots=True)
class Record:
    """One planned (or inserted) event and what became of it."""

    event_id: str
    type: str
    device: str | None
    t: float
    account: str
    label: Label
    synthetic: bool = False   # inserted by the evaluator (passkey step-up)
    processed: bool = False
    skipped: str | None = None
    verdict: int = -1         # Verdict value; -1 when never processed
    score: int = 0
    floor: int = 0            # strongest rule action / failure verdict (for re-scoring)
    rules: tuple[str, ...] = ()
    effective: bool = False
    notional: float = 0.0


def _notional(event: dict[str, Any]) -> float:
    kind = event["type"]
    if kind == "order":
        price = event.get("price") or event.get("reference_price")
        return float(Decimal(event["quantity"]) * Decimal(price)) if price else 0.0
    if kind in ("fiat_withdrawal", "fiat_deposit"):
        return float(Decimal(event["amount"]))
    if kind == "execution":
        return float(Decimal(event["quantity"]) * Decimal(event["price"]))
    return 0.0


class _Loop:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.records: list[Record] = []
        self.dead: set[str] = set()
        self.stepped: set[str] = set()
        self.effective: dict[str, bool] = {}
        self.pending: list[tuple[float, int, dict[str, Any], Label]] = []
        self.seq = 0
        self.books: dict[str, dict[str, Decimal]] = {}
        self.last_price: dict[str, Decimal] = {}

    def feed(self, event: dict[str, Any], label: Label) -> None:
        t = event_time(event)
        while self.pending and self.pending[0][0] <= t:
            _, _, ev, lab = heapq.heappop(self.pending)
            self.one(ev, lab, True)
        self.one(event, label, False)

    def drain(self) -> None:
        while self.pending:
            _, _, ev, lab = heapq.heappop(self.pending)
            self.one(ev, lab, True)

    def insert(self, event: dict[str, Any], label: Label, t: float) -> None:
        self.seq += 1
        heapq.heappush(self.pending, (t, self.seq, event, label))

    def one(self, event: dict[str, Any], label: Label, synthetic: bool) -> None:
        rec = Record(event["id"], event["type"], event.get("device_id"), event_time(event), event["account_id"],
                     label, synthetic, notional=_notional(event))
        self.records.append(rec)
        session = label.session
        if session is not None and session in self.dead:
            rec.skipped = "session stopped"
            return
        if not synthetic and label.intent == "login" and session in self.stepped:
            rec.skipped = "replaced by the passkey step-up"
            return
        if any(not self.effective.get(r, False) for r in label.requires):
            rec.skipped = "depends on an event that did not take effect"
            if label.intent == "login" and session is not None:
                self.dead.add(session)
            return
        if rec.type == "holdings_snapshot":
            event = self.rebook(event)
        decision = self.engine.process(parse_event(event))
        verdict = decision.verdict
        floor = max([r.action for r in decision.rules if r.action is not None]
                    + [e.verdict for e in decision.errors], default=Verdict.allow)
        rec.processed, rec.verdict, rec.score, rec.floor = True, int(verdict), decision.score, int(floor)
        rec.rules = tuple(r.id for r in decision.rules)
        customer = label.actor == "customer"
        if label.intent == "login":
            success = event["result"] == "success"
            if verdict >= Verdict.block:
                effective = False
                if session is not None:
                    self.dead.add(session)
            elif verdict == Verdict.challenge and not synthetic:
                effective = False
                if not customer:  # the attacker cannot produce the victim's passkey
                    if session is not None:
                        self.dead.add(session)
                    self.insert(self.step_up(event, success=False), label, rec.t + STEP_UP_DELAY_S)
                elif success:     # the customer passes the passkey step-up
                    if session is not None:
                        self.stepped.add(session)
                    self.insert(self.step_up(event, success=True), label, rec.t + STEP_UP_DELAY_S)
            else:
                effective = success
        elif label.intent in ("order", "settings", "withdrawal", "cancel"):
            effective = verdict == Verdict.allow or (verdict == Verdict.challenge and customer)
        else:
            effective = True
        rec.effective = effective
        self.effective[rec.event_id] = effective
        if rec.type == "execution" and effective:
            self.fill(event)

    @staticmethod
    def step_up(event: dict[str, Any], *, success: bool) -> dict[str, Any]:
        keep = ("account_id", "ip", "user_agent", "device_id", "session_id", "channel")
        out: dict[str, Any] = {"id": f"{event['id']}-{'stepup' if success else 'passkey-fail'}", "type": "login",
                               "occurred_at": iso(event_time(event) + STEP_UP_DELAY_S)}
        out.update({k: event[k] for k in keep if event.get(k) is not None})
        out.update(result="success" if success else "failure", method="passkey")
        if not success:
            out["failure_reason"] = "other"
        return out

    def fill(self, event: dict[str, Any]) -> None:
        book = self.books.setdefault(event["account_id"], {})
        qty, symbol = Decimal(event["quantity"]), event["symbol"]
        held = book.get(symbol, Decimal(0))
        book[symbol] = held + qty if event["side"] == "buy" else max(Decimal(0), held - qty)
        self.last_price[symbol] = Decimal(event["price"])

    def rebook(self, event: dict[str, Any]) -> dict[str, Any]:
        """The firm's snapshot shows what actually filled in this run, not the plan's books."""
        account, planned = event["account_id"], event["positions"]
        if account not in self.books:  # the first snapshot is the firm's books as they were
            self.books[account] = {p["symbol"]: Decimal(p["quantity"]) for p in planned}
            return event
        prices = {p["symbol"]: Decimal(p["market_value_jpy"]) / Decimal(p["quantity"])
                  for p in planned if p.get("market_value_jpy") and Decimal(p["quantity"]) > 0}
        positions = []
        for symbol, qty in sorted(self.books[account].items()):
            if qty <= 0:
                continue
            position: dict[str, Any] = {"symbol": symbol, "quantity": str(qty)}
            price = prices.get(symbol) or self.last_price.get(symbol)
            if price is not None:
                position["market_value_jpy"] = money(float(qty * price))
            positions.append(position)
        return {**event, "positions": positions}


def run_closed_loop(sim: Simulation, ruleset: Ruleset, geo: Any = None) -> list[Record]:
    """Drive the plan through a fresh engine, applying its decisions; one record per event."""
    if geo is None:
        from mamori.adapters.geo import open_geo_provider

        geo = open_geo_provider()
    loop = _Loop(Engine(ruleset, geo=geo))
    for event in sim.events:
        loop.feed(event, sim.labels[event["id"]])
    loop.drain()
    return loop.records


# ==================================================================================================
# facts (mergeable across seeds) and metrics
# ==================================================================================================
@dataclass
class Facts:
    campaigns: list[dict[str, Any]] = field(default_factory=list)
    takeovers: list[dict[str, Any]] = field(default_factory=list)
    sessions: list[dict[str, Any]] = field(default_factory=list)        # customers' sign-ins
    orders: list[dict[str, Any]] = field(default_factory=list)          # attackers' orders/withdrawals
    legit_actions: list[dict[str, Any]] = field(default_factory=list)   # customers' orders/transfers/settings
    counters: Counter[str] = field(default_factory=Counter)
    rules: dict[str, Counter[str]] = field(default_factory=dict)

    def merge(self, other: Facts) -> Facts:
        rules = {k: Counter(v) for k, v in self.rules.items()}
        for k, v in other.rules.items():
            rules.setdefault(k, Counter()).update(v)
        return Facts(self.campaigns + other.campaigns, self.takeovers + other.takeovers,
                     self.sessions + other.sessions, self.orders + other.orders,
                     self.legit_actions + other.legit_actions, self.counters + other.counters, rules)


def collect(sim: Simulation, records: list[Record]) -> Facts:
    facts = Facts()
    tag = f"s{sim.seed}/"
    by_campaign: dict[str, list[Record]] = {}
    sessions: dict[str, list[Record]] = {}
    measured_from = _measured_from(sim)
    for r in records:
        label = r.label
        attack = label.is_attack
        if r.processed and r.t >= measured_from:
            alert = r.verdict >= Verdict.hold or (r.type == "login" and r.verdict >= Verdict.challenge)
            if alert:
                facts.counters["alerts_attack" if attack else "alerts_benign"] += 1
            if r.verdict >= Verdict.challenge:
                facts.counters["challenge_plus_attack" if attack else "challenge_plus_benign"] += 1
            for rule in r.rules:
                facts.rules.setdefault(rule, Counter())["attack" if attack else "benign"] += 1
        if attack and label.campaign_id is not None:
            by_campaign.setdefault(label.campaign_id, []).append(r)
            if label.intent in ("order", "withdrawal"):
                facts.orders.append({"campaign": tag + label.campaign_id, "scenario": label.scenario,
                                     "account": r.account, "intent": label.intent, "yen": r.notional,
                                     "effective": r.effective, "processed": r.processed,
                                     "verdict": _name(r.verdict), "skipped": r.skipped})
            continue
        if label.actor != "customer":
            continue
        if label.intent == "login" and label.session is not None:
            sessions.setdefault(label.session, []).append(r)
        elif label.intent in ("order", "withdrawal", "settings") and r.processed and r.t >= measured_from:
            facts.legit_actions.append({"scenario": label.scenario, "intent": label.intent,
                                        "verdict": _name(r.verdict), "rules": list(r.rules)})
    known_logins: dict[str, list[float]] = {}  # account -> times of customers' allowed successful logins
    passed: set[tuple[str, str | None]] = set()  # (account, device) that passed a step-up
    for recs in sorted(sessions.values(), key=lambda rs: rs[0].t):
        for r in recs:
            if r.effective or (r.synthetic and r.processed and r.verdict == Verdict.allow):
                known_logins.setdefault(r.account, []).append(r.t)
        primary = [r for r in recs if not r.synthetic and r.processed]
        if not primary:
            continue
        challenged = [r for r in primary if r.verdict >= Verdict.challenge]
        steps = [r for r in recs if r.synthetic and r.processed]
        device = (primary[0].account, primary[0].device)
        repeat = bool(challenged) and device in passed
        if any(r.verdict < Verdict.block for r in steps):
            passed.add(device)
        if primary[0].t < measured_from:  # the engine is still warming up: not measured
            facts.counters["warmup_signins"] += 1
            facts.counters["warmup_signins_challenged"] += bool(challenged)
            continue
        facts.counters["legit_challenged_after_passed_stepup"] += repeat
        facts.counters["legit_login_events"] += len(primary)
        facts.counters["legit_login_events_challenged"] += len(challenged)
        facts.counters["stepups"] += len(steps)
        facts.counters["stepups_rechallenged"] += sum(1 for r in steps if r.verdict >= Verdict.challenge)
        facts.sessions.append({
            "scenario": recs[0].label.scenario, "challenged": bool(challenged),
            "blocked": any(r.verdict >= Verdict.block for r in primary),
            "scores": [(r.score, r.floor) for r in primary],
            "rules": sorted({rule for r in challenged for rule in r.rules})})
    for campaign in sim.campaigns:
        cid = campaign["id"]
        recs = by_campaign.get(cid, [])
        planned = [r for r in recs if not r.synthetic]
        start = min((r.t for r in planned), default=None)
        hits = sorted((r for r in recs if r.processed and r.verdict >= Verdict.challenge), key=lambda r: r.t)
        first_login = next((r for r in planned if r.type == "login" and r.processed), None)
        facts.campaigns.append({
            "id": tag + cid, "scenario": campaign["scenario"], "variant": campaign.get("variant"),
            "accounts": len(campaign.get("accounts", [])), "detected": bool(hits),
            "ttd_s": (hits[0].t - start) if hits and start is not None else None,
            "detected_by": list(hits[0].rules) if hits else [],
            "detected_on": hits[0].type if hits else None,
            "login_scores": [(r.score, r.floor) for r in planned if r.type == "login" and r.processed],
            "nonlogin_detected": any(r.type != "login" and r.verdict >= Verdict.challenge
                                     for r in planned if r.processed),
            "first_login": None if first_login is None else {
                "verdict": _name(first_login.verdict), "score": first_login.score, "rules": list(first_login.rules)},
            "attack_events": {_name(v): n for v, n in sorted(Counter(r.verdict for r in recs).items())},
        })
        for account in campaign.get("takeovers", []):
            mine = [r for r in planned if r.account == account]
            began = min((r.t for r in mine), default=start or 0.0)
            history = sum(1 for t in known_logins.get(account, ()) if t < began)
            orders = [r for r in mine if r.label.intent == "order"]
            withdrawals = [r for r in mine if r.label.intent == "withdrawal"]
            facts.takeovers.append({
                "campaign": tag + cid, "scenario": campaign["scenario"], "account": account,
                "detected": any(r.processed and r.verdict >= Verdict.challenge for r in mine),
                "victim_logins_before": history,
                "orders": len(orders), "orders_filled": sum(r.effective for r in orders),
                "withdrawals": len(withdrawals), "withdrawals_paid": sum(r.effective for r in withdrawals)})
    return facts


def _measured_from(sim: Simulation) -> float:
    """Customers' sign-ins are measured after the warm-up days (the engine starts empty, like a new
    deployment: every customer's devices are new to it at first)."""
    start = sim.params.get("start")
    if not start:
        return float("-inf")
    return datetime.fromisoformat(start).timestamp() + 86400 * int(sim.params.get("warmup_days") or 0)


def _name(verdict: int) -> str:
    return "skipped" if verdict < 0 else Verdict(verdict).name


def _ratio(num: float, den: float) -> float | None:
    return num / den if den else None


def _ttd(values: list[float]) -> dict[str, float | None]:
    if not values:
        return {"median_s": None, "p90_s": None}
    ordered = sorted(values)
    return {"median_s": round(statistics.median(ordered), 1),
            "p90_s": round(ordered[min(len(ordered) - 1, int(0.9 * len(ordered)))], 1)}


def _attack_block(campaigns: list[dict[str, Any]], takeovers: list[dict[str, Any]],
                  orders: list[dict[str, Any]]) -> dict[str, Any]:
    with_orders = [t for t in takeovers if t["orders"]]
    seen = [t for t in takeovers if t["victim_logins_before"] > 0]
    unseen = [t for t in takeovers if t["victim_logins_before"] == 0]
    with_wd = [t for t in takeovers if t["withdrawals"]]
    prevented = sum(o["yen"] for o in orders if o["intent"] == "order" and not o["effective"])
    executed = sum(o["yen"] for o in orders if o["intent"] == "order" and o["effective"])
    wd_prevented = sum(o["yen"] for o in orders if o["intent"] == "withdrawal" and not o["effective"])
    wd_paid = sum(o["yen"] for o in orders if o["intent"] == "withdrawal" and o["effective"])
    return {
        "campaigns": len(campaigns),
        "detected": sum(c["detected"] for c in campaigns),
        "takeover_recall": _ratio(sum(c["detected"] for c in campaigns), len(campaigns)),
        "takeovers": len(takeovers),
        "account_recall": _ratio(sum(t["detected"] for t in takeovers), len(takeovers)),
        "takeovers_with_orders": len(with_orders),
        "stopped_before_first_order": _ratio(sum(t["orders_filled"] == 0 for t in with_orders), len(with_orders)),
        "takeovers_with_withdrawals": len(with_wd),
        "withdrawals_stopped": _ratio(sum(t["withdrawals_paid"] == 0 for t in with_wd), len(with_wd)),
        "yen_prevented": round(prevented), "yen_executed": round(executed),
        "yen_prevented_ratio": _ratio(prevented, prevented + executed),
        "withdrawal_yen_prevented": round(wd_prevented), "withdrawal_yen_paid": round(wd_paid),
        "time_to_detect": _ttd([c["ttd_s"] for c in campaigns if c["ttd_s"] is not None]),
        "account_recall_victim_known": _ratio(sum(t["detected"] for t in seen), len(seen)),
        "account_recall_victim_unseen": _ratio(sum(t["detected"] for t in unseen), len(unseen)),
        "takeovers_victim_unseen": len(unseen),
    }


def metrics(facts: Facts) -> dict[str, Any]:
    c = facts.counters
    sessions = facts.sessions
    overall = _attack_block(facts.campaigns, facts.takeovers, facts.orders)
    overall.update({
        "alert_precision": _ratio(c["alerts_attack"], c["alerts_attack"] + c["alerts_benign"]),
        "alerts_attack": c["alerts_attack"], "alerts_benign": c["alerts_benign"],
        "any_challenge_precision": _ratio(c["challenge_plus_attack"],
                                          c["challenge_plus_attack"] + c["challenge_plus_benign"]),
        "legit_signins": len(sessions),
        "legit_signins_challenged": sum(s["challenged"] for s in sessions),
        "legit_challenge_rate": _ratio(sum(s["challenged"] for s in sessions), len(sessions)),
        "warmup_signins": c["warmup_signins"],
        "warmup_challenge_rate": _ratio(c["warmup_signins_challenged"], c["warmup_signins"]),
        "legit_block_rate": _ratio(sum(s["blocked"] for s in sessions), len(sessions)),
        "legit_login_event_challenge_rate": _ratio(c["legit_login_events_challenged"], c["legit_login_events"]),
        "stepups": c["stepups"],
        "stepup_rechallenge_rate": _ratio(c["stepups_rechallenged"], c["stepups"]),
        "legit_challenged_after_passed_stepup": c["legit_challenged_after_passed_stepup"],
    })
    by_scenario = {}
    for scenario in ATTACK_SCENARIOS:
        camps = [x for x in facts.campaigns if x["scenario"] == scenario]
        if camps:
            by_scenario[scenario] = _attack_block(camps, [t for t in facts.takeovers if t["scenario"] == scenario],
                                                  [o for o in facts.orders if o["scenario"] == scenario])
    benign: dict[str, Any] = {}
    for scenario in sorted({s["scenario"] for s in sessions}):
        mine = [s for s in sessions if s["scenario"] == scenario]
        actions = [a for a in facts.legit_actions if a["scenario"] == scenario]
        rules = Counter(rule for s in mine if s["challenged"] for rule in s["rules"])
        action_rules = Counter(rule for a in actions if a["verdict"] != "allow" for rule in a["rules"])
        benign[scenario] = {
            "signins": len(mine), "challenged": sum(s["challenged"] for s in mine),
            "challenge_rate": _ratio(sum(s["challenged"] for s in mine), len(mine)),
            "blocked": sum(s["blocked"] for s in mine),
            "top_login_rules": dict(rules.most_common(6)),
            "actions": len(actions),
            "actions_not_allowed": dict(sorted(Counter(f"{a['intent']}:{a['verdict']}" for a in actions
                                                       if a["verdict"] != "allow").items())),
            "top_action_rules": dict(action_rules.most_common(6)),
        }
    rule_table = {k: {"attack": v["attack"], "benign": v["benign"],
                      "precision": _ratio(v["attack"], v["attack"] + v["benign"])}
                  for k, v in sorted(facts.rules.items())}
    missed = [{k: x[k] for k in ("id", "scenario", "variant", "accounts", "first_login", "attack_events")}
              for x in facts.campaigns if not x["detected"]]
    late = [{"id": x["id"], "scenario": x["scenario"], "variant": x["variant"], "detected_on": x["detected_on"],
             "detected_by": x["detected_by"], "ttd_s": x["ttd_s"]}
            for x in facts.campaigns if x["detected"] and x["detected_on"] != "login"]
    return {"overall": overall, "by_scenario": by_scenario, "benign_by_scenario": benign, "rules": rule_table,
            "missed_campaigns": missed, "detected_after_login": late}


# ==================================================================================================
# threshold sweep
# ==================================================================================================
def login_thresholds(ruleset: Ruleset) -> dict[Verdict, int]:
    return dict(ruleset.thresholds_by_event.get("login", ruleset.thresholds))


def _rescored(score: int, floor: int, thresholds: dict[Verdict, int]) -> int:
    by_score = Verdict.allow
    if score > 0:
        for v, th in thresholds.items():
            if score >= th and v > by_score:
                by_score = v
    return max(floor, int(by_score))


def rescore_sweep(facts: Facts, ruleset: Ruleset, values: Iterable[int]) -> list[dict[str, Any]]:
    base = login_thresholds(ruleset)
    points = []
    for value in values:
        th = {**base, Verdict.challenge: value}
        detected = sum(1 for c in facts.campaigns if c["nonlogin_detected"]
                       or any(_rescored(s, f, th) >= Verdict.challenge for s, f in c["login_scores"]))
        challenged = sum(1 for s in facts.sessions
                         if any(_rescored(sc, f, th) >= Verdict.challenge for sc, f in s["scores"]))
        points.append({"threshold": value, "takeover_recall": _ratio(detected, len(facts.campaigns)),
                       "legit_challenge_rate": _ratio(challenged, len(facts.sessions))})
    return points


def with_login_challenge(ruleset: Ruleset, value: int) -> Ruleset:
    th = {**login_thresholds(ruleset), Verdict.challenge: value}
    return dataclasses.replace(ruleset, thresholds_by_event={**ruleset.thresholds_by_event, "login": th})


# ==================================================================================================
# the whole evaluation
# ==================================================================================================
def evaluate(sims: list[Simulation], ruleset: Ruleset, *, geo: Any = None, sweep: str = "rescore",
             thresholds: Iterable[int] | None = None) -> dict[str, Any]:
    if geo is None:
        from mamori.adapters.geo import open_geo_provider

        geo = open_geo_provider()
    configured = login_thresholds(ruleset).get(Verdict.challenge)
    values = sorted(set(thresholds or DEFAULT_SWEEP) | ({configured} if configured else set()))
    total = Facts()
    per_seed = []
    for sim in sims:
        facts = collect(sim, run_closed_loop(sim, ruleset, geo))
        per_seed.append({"seed": sim.seed, "params": sim.params, **metrics(facts)["overall"]})
        total = total.merge(facts)
    report = {"ruleset": ruleset.identity, "seeds": [s.seed for s in sims],
              "params": sims[0].params if sims else {}, "login_challenge_threshold": configured,
              "definitions": DEFINITIONS, **metrics(total), "per_seed": per_seed}
    tradeoff: dict[str, Any] = {"method": "rescore", "points": rescore_sweep(total, ruleset, values)}
    if sweep == "exact":
        exact = []
        for value in values:
            variant = with_login_challenge(ruleset, value)
            merged = Facts()
            for sim in sims:
                merged = merged.merge(collect(sim, run_closed_loop(sim, variant, geo)))
            m = metrics(merged)["overall"]
            exact.append({"threshold": value, "takeover_recall": m["takeover_recall"],
                          "legit_challenge_rate": m["legit_challenge_rate"],
                          "stopped_before_first_order": m["stopped_before_first_order"],
                          "yen_prevented_ratio": m["yen_prevented_ratio"],
                          "withdrawals_stopped": m["withdrawals_stopped"]})
        tradeoff["exact"] = exact
    report["tradeoff"] = tradeoff
    return report


DEFINITIONS = {
    "takeover_recall": "attack campaigns with any event decided challenge or stronger / attack campaigns",
    "account_recall": "attacked accounts (takeovers) with any attacker event challenge or stronger / takeovers",
    "alert_precision": "alerts on attack events / all alerts; alert = hold or block on any event, or challenge "
                       "or stronger on a login",
    "stopped_before_first_order": "takeovers with planned attacker orders in which none filled / those takeovers",
    "yen_prevented_ratio": "notional of attacker orders that never took effect / notional of all attacker orders",
    "time_to_detect": "campaign's first event -> its first decision of challenge or stronger",
    "legit_challenge_rate": "customers' sign-ins with a login factor decided challenge or block / all sign-ins",
    "tradeoff": "login challenge threshold swept; see mamori.sim.evaluate for the re-scoring method",
}


def _fmt(x: float | None, digits: int = 4) -> str:
    return "n/a" if x is None else f"{x:.{digits}f}"


def summary_lines(report: dict[str, Any]) -> list[str]:
    o = report["overall"]
    lines = [f"rules {report['ruleset']}  seeds {report['seeds']}  "
             f"login challenge threshold {report['login_challenge_threshold']}"]
    lines.append(f"{'attack scenario':<22}{'camp':>5}{'recall':>8}{'acct':>7}{'stopped':>9}{'yen prev':>10}"
                 f"{'wd stop':>9}{'ttd med':>9}")
    for name, b in report["by_scenario"].items():
        ttd = b["time_to_detect"]["median_s"]
        lines.append(f"{name:<22}{b['campaigns']:>5}{_fmt(b['takeover_recall'], 2):>8}"
                     f"{_fmt(b['account_recall'], 2):>7}{_fmt(b['stopped_before_first_order'], 2):>9}"
                     f"{_fmt(b['yen_prevented_ratio'], 2):>10}{_fmt(b['withdrawals_stopped'], 2):>9}"
                     f"{'n/a' if ttd is None else f'{ttd:.0f}s':>9}")
    lines.append(f"{'benign scenario':<22}{'sign-ins':>9}{'challenged':>12}{'rate':>8}  top rules")
    for name, b in report["benign_by_scenario"].items():
        top = ", ".join(f"{k}x{v}" for k, v in list(b["top_login_rules"].items())[:3])
        lines.append(f"{name:<22}{b['signins']:>9}{b['challenged']:>12}{_fmt(b['challenge_rate'], 3):>8}  {top}")
    lines.append(f"alerts: attack {o['alerts_attack']} benign {o['alerts_benign']} precision "
                 f"{_fmt(o['alert_precision'])}; yen prevented {o['yen_prevented']:,} executed {o['yen_executed']:,};"
                 f" withdrawals prevented {o['withdrawal_yen_prevented']:,} paid {o['withdrawal_yen_paid']:,}; "
                 f"time to detect median {o['time_to_detect']['median_s']}s p90 {o['time_to_detect']['p90_s']}s; "
                 f"step-ups re-challenged {_fmt(o['stepup_rechallenge_rate'])}")
    lines.append(f"evaluate takeover_recall={_fmt(o['takeover_recall'] or 0.0)} "
                 f"stopped_before_first_order={_fmt(o['stopped_before_first_order'] or 0.0)} "
                 f"legit_challenge_rate={_fmt(o['legit_challenge_rate'] or 0.0)} "
                 f"yen_prevented_ratio={_fmt(o['yen_prevented_ratio'] or 0.0)}")
    return lines


def write_report(report: dict[str, Any], out: Path) -> tuple[Path, Path, Path]:
    """``report.json``, ``tradeoff.svg`` and ``tradeoff.html`` (the chart with its points as a table,
    one self-contained page to open in any browser)."""
    out.mkdir(parents=True, exist_ok=True)
    json_path, svg_path, html_path = out / "report.json", out / "tradeoff.svg", out / "tradeoff.html"
    json_path.write_bytes(orjson.dumps(report, option=orjson.OPT_INDENT_2 | orjson.OPT_NON_STR_KEYS) + b"\n")
    highlight = str(report["login_challenge_threshold"])
    series = [Series("re-scored from one run", [(p["legit_challenge_rate"] or 0.0, p["takeover_recall"] or 0.0,
                                                 str(p["threshold"])) for p in report["tradeoff"]["points"]],
                     highlight)]
    if "exact" in report["tradeoff"]:
        exact = report["tradeoff"]["exact"]
        series.append(Series("closed-loop re-run", [(p["legit_challenge_rate"] or 0.0, p["takeover_recall"] or 0.0,
                                                     str(p["threshold"])) for p in exact], highlight))
        series.append(Series("closed-loop re-run: takeovers stopped before first fill",
                             [(p["legit_challenge_rate"] or 0.0, p["stopped_before_first_order"] or 0.0,
                               str(p["threshold"])) for p in exact], highlight))
    svg = tradeoff_svg(series, title=f"Login challenge threshold: {report['ruleset']}",
                       x_label="legitimate sign-ins challenged", y_label="takeover recall (campaigns)")
    svg_path.write_text(svg, encoding="utf-8")
    html_path.write_text(_tradeoff_html(report, svg), encoding="utf-8")
    return json_path, svg_path, html_path


def _tradeoff_html(report: dict[str, Any], svg: str) -> str:
    rows = "".join(
        f"<tr><td>{escape(str(p['threshold']))}</td><td>{_fmt(p['legit_challenge_rate'] or 0.0)}</td>"
        f"<td>{_fmt(p['takeover_recall'] or 0.0)}</td></tr>" for p in report["tradeoff"]["points"])
    chosen = escape(str(report["login_challenge_threshold"]))
    return (f"<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>mamori evaluate: trade-off"
            f"</title></head><body><h1>Challenge rate vs. takeover recall / 追加認証率と検知率</h1>"
            f"<p>Rule set {escape(str(report['ruleset']))}; active login challenge threshold {chosen}.</p>{svg}"
            f"<table><thead><tr><th>threshold</th><th>legitimate sign-ins challenged</th><th>takeover recall</th>"
            f"</tr></thead><tbody>{rows}</tbody></table></body></html>\n")
