"""A deterministic simulator of a Japanese online securities firm under attack.

Design: a labelled plan of intents, realised closed-loop by the evaluator
---------------------------------------------------------------------------
The simulator does not call the engine. It writes a **plan**: every event each actor *intends* to
send, in the wire format of the event contract, at the time they would send it - customers' logins
(each authentication factor is one ``login`` event), orders, fills, cancels, transfers, settings
changes and logouts, the firm's weekly ``holdings_snapshot`` of every account, and the attack
campaigns and benign look-alikes of :mod:`mamori.sim.scenarios`. The plan as written is the world in
which the firm lets everything through (every order fills), and ``events.jsonl`` holds exactly that,
time-ordered, so it can also be fed to ``mamori replay`` or ``mamori rules backtest``.

Each event's label (``labels.jsonl``, never inside the event: the contract forbids extra fields)
says who acts (customer, attacker, firm), the campaign or benign episode and scenario, the simulated
session it belongs to, and which earlier events must have *taken effect* for it to happen at all
(a fill needs its order; a withdrawal to the attacker's bank needs the change of withdrawal
account; the patient attacker's second login needs the phone-number change that redirects the
codes). :func:`mamori.sim.evaluate.run_closed_loop` then realises the plan against the engine's
decisions, event by event in time order:

* a ``login`` that is challenged means the login service asks for a passkey. A customer passes it:
  the evaluator inserts the passkey ``login`` (success) 8 s later and skips the rest of the planned
  factors; an attacker holding only the phished password and code fails it: the evaluator inserts
  the failed passkey attempt and every later event of that session never happens. A blocked login
  ends the session for anyone.
* an ``order``, ``settings_change`` or withdrawal takes effect when allowed, or when challenged and
  the actor is the customer (who passes the step-up); held and blocked ones do not. A fill
  (``execution``) happens only for an order that took effect; so does a cancel.
* the firm's holdings snapshots are rewritten from the closed-loop books (what actually filled).

Step-up events and every decision are the evaluator's; the plan stays the same for every rule set,
so two rule sets are compared on the same attacks and the same customers.

Everything is drawn from ``random.Random`` instances seeded from ``seed`` and a purpose
(population, each customer's life, look-alikes, attacks), so a seed gives byte-identical files, and
changing the number of campaigns does not change the customers' own behaviour.
"""

from __future__ import annotations

import random
from dataclasses import asdict, dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson

from mamori.sim.population import SIM_EPOCH, Market, draw_customer, money
from mamori.sim.scenarios import (
    ATTACK_SCENARIOS,
    LOOKALIKE_SHARES,
    Campaigns,
    CustomerLife,
    Label,
    Plan,
    assign_episodes,
    iso,
    write_campaigns,
)

FORMAT = 1


@dataclass(frozen=True)
class SimParams:
    customers: int = 2000
    days: int = 14
    seed: int = 1
    campaigns: int = 40
    warmup_days: int | None = None  # attack-free days at the start (default: min(3, days - 1))

    @property
    def warmup(self) -> int:
        if self.warmup_days is not None:
            return max(0, min(self.warmup_days, self.days - 1))
        return max(0, min(3, self.days - 1))

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "warmup_days": self.warmup, "start": SIM_EPOCH.isoformat()}


@dataclass
class Simulation:
    params: dict[str, Any]
    events: list[dict[str, Any]]          # wire format, time-ordered (the plan, as if all allowed)
    labels: dict[str, Label]              # event id -> label
    campaigns: list[dict[str, Any]]       # attack campaigns
    lookalikes: list[dict[str, Any]]      # benign look-alike episodes

    @property
    def seed(self) -> int:
        return int(self.params.get("seed", 0))


def simulate(params: SimParams | None = None) -> Simulation:
    p = params or SimParams()
    if p.customers < 1 or p.days < 1 or p.campaigns < 0:
        raise ValueError("customers and days must be positive and campaigns not negative")
    seed = p.seed
    market = Market(random.Random(f"{seed}/market"), p.days)
    customers = [draw_customer(random.Random(f"{seed}/customer/{i}"), i, market, "") for i in range(p.customers)]
    episodes = assign_episodes(random.Random(f"{seed}/lookalikes"), customers, p.days, set(), p.warmup)
    plan = Plan(f"s{seed}-", SIM_EPOCH, market)
    by_account: dict[str, list[Any]] = {}
    for e in episodes:
        by_account.setdefault(e.account, []).append(e)
    for c in customers:
        life = CustomerLife(plan, market, c, random.Random(f"{seed}/life/{c.index}"), by_account.get(c.account, []))
        life.run(p.days)
    attacks = Campaigns(plan, market, customers, random.Random(f"{seed}/attacks"), p.days, p.warmup)
    write_campaigns(attacks, p.campaigns, exclude=set(by_account))
    _holdings_snapshots(plan, customers, p.days)

    plan.items.sort(key=lambda item: (item[0], item[1]))
    events = [body for _, _, body, _ in plan.items]
    labels = {body["id"]: label for _, _, body, label in plan.items}
    first: dict[str, float] = {}
    count: dict[str, int] = {}
    for t, _, _, label in plan.items:
        if label.campaign_id is not None:
            first.setdefault(label.campaign_id, t)
            count[label.campaign_id] = count.get(label.campaign_id, 0) + 1
    campaigns = [{**c, "start": iso(first[c["id"]]) if c["id"] in first else None, "events": count.get(c["id"], 0)}
                 for c in attacks.campaigns]
    lookalikes = [{**e.to_dict(), "events": count.get(e.id, 0)} for e in episodes]
    return Simulation(p.to_dict(), events, labels, campaigns, lookalikes)


def _holdings_snapshots(plan: Plan, customers: list[Any], days: int) -> None:
    """The firm's books: every account at the start (before any activity), then every 7 days."""
    label = Label("books", False, "firm", "books")
    times = [(plan.start - 3600, 0)] + [(plan.day_start(d) + 5 * 3600, d) for d in range(7, days, 7)]
    for t, day in times:
        for c in customers:
            book = plan.book_at(c.account, t)
            positions = []
            for symbol in sorted(k for k in book if k != "cash"):
                qty = int(book[symbol])
                if qty > 0:
                    positions.append({"symbol": symbol, "quantity": str(qty),
                                      "market_value_jpy": money(round(qty * plan.market.price(symbol, day)))})
            plan.add(t, "holdings_snapshot", c.account, label, positions=positions)


# -- files --------------------------------------------------------------------------------------------
def write_simulation(sim: Simulation, out: Path) -> None:
    """``events.jsonl`` (wire events, time-ordered), ``labels.jsonl`` (event id -> label) and
    ``campaigns.json`` (parameters, campaigns, look-alike episodes) into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    with (out / "events.jsonl").open("wb") as f:
        for event in sim.events:
            f.write(orjson.dumps(event) + b"\n")
    with (out / "labels.jsonl").open("wb") as f:
        for event in sim.events:
            f.write(orjson.dumps(sim.labels[event["id"]].to_dict(event["id"])) + b"\n")
    meta = {"format": FORMAT, "params": sim.params, "attack_scenarios": ATTACK_SCENARIOS,
            "lookalike_shares": LOOKALIKE_SHARES, "campaigns": sim.campaigns, "lookalikes": sim.lookalikes}
    (out / "campaigns.json").write_bytes(orjson.dumps(meta, option=orjson.OPT_INDENT_2 | orjson.OPT_SORT_KEYS) + b"\n")


def read_simulation(directory: Path) -> Simulation:
    meta = orjson.loads((directory / "campaigns.json").read_bytes())
    if meta.get("format") != FORMAT:
        raise ValueError(f"{directory}/campaigns.json: not a mamori simulation (format {FORMAT})")
    events = [orjson.loads(line) for line in (directory / "events.jsonl").read_bytes().splitlines() if line.strip()]
    labels: dict[str, Label] = {}
    for line in (directory / "labels.jsonl").read_bytes().splitlines():
        if line.strip():
            d = orjson.loads(line)
            labels[d["event_id"]] = Label.from_dict(d)
    missing = [e["id"] for e in events if e["id"] not in labels]
    if missing:
        raise ValueError(f"{len(missing)} event(s) have no label, e.g. {missing[0]}")
    return Simulation(meta["params"], events, labels, meta["campaigns"], meta["lookalikes"])


def event_time(event: dict[str, Any]) -> float:
    return datetime.fromisoformat(event["occurred_at"]).timestamp()


def summary(sim: Simulation) -> dict[str, Any]:
    attack = sum(1 for label in sim.labels.values() if label.is_attack)
    by_scenario: dict[str, int] = {}
    for c in sim.campaigns:
        by_scenario[c["scenario"]] = by_scenario.get(c["scenario"], 0) + 1
    return {"events": len(sim.events), "attack_events": attack, "campaigns": len(sim.campaigns),
            "campaigns_by_scenario": by_scenario, "lookalikes": len(sim.lookalikes),
            "customers": sim.params.get("customers"), "days": sim.params.get("days")}
