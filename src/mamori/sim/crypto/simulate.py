"""A deterministic simulator of a Japanese crypto-asset exchange's customers, the labelled money-laundering
and fraud typologies among them, and the blockchain around the exchange.

Like the securities simulator (:mod:`mamori.sim.simulate`) it writes a **plan**: every event each
actor sends, in the wire format of the event contract, time-ordered, with a label per event in a
side-table (event id -> typology, ``None`` for plain normal behaviour). Labels are per account
episode: every event of a scam victim's, casino gambler's, mule's, launderer's or look-alike's
account carries its typology; a takeover labels only the attacker's events. It also writes the
on-chain world (``chain.jsonl``, "mamori chain JSONL") and the risk list the exchange holds
(``risk-list.csv``), which names some but not all of the risky entities (files: :mod:`.files`).

Everything is drawn from ``random.Random`` instances seeded from ``seed`` and a purpose (population,
each customer's life, each episode), so a seed gives byte-identical files. Attacks start after the
warm-up days (default ``min(3, days - 1)``), so the engine has seen the customers' normal behaviour.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

from mamori.sim.crypto.activity import Exchange, Wallet
from mamori.sim.crypto.addresses import AddressBook
from mamori.sim.crypto.chain import Chain
from mamori.sim.crypto.landscape import SCAM_RINGS, Landscape
from mamori.sim.crypto.life import CustomerLife, opening_wallet
from mamori.sim.crypto.population import CryptoCustomer, draw_customer
from mamori.sim.crypto.risklist import risk_list
from mamori.sim.crypto.typologies import Typologies
from mamori.sim.crypto.world import (
    BENIGN_TYPOLOGIES,
    NORMAL,
    SIM_EPOCH,
    TYPOLOGIES,
    Label,
    Plan,
    Prices,
    symbol,
    text,
    yen,
)

FORMAT = 1
SHARES: dict[str, float] = {   # share of customers in each typology (at least one each when room)
    "investment_scam_victim": 0.006,
    "romance_scam_victim": 0.004,
    "online_casino": 0.008,
    "mule": 0.004,
    "takeover_withdrawal": 0.005,
    "layering": 0.003,
    "benign_active_trader": 0.04,
    "benign_own_wallet": 0.02,
    "benign_payday_buyer": 0.02,
    "benign_exchange_rebalance": 0.01,
}
NEW_ACCOUNT_SHARE = {"investment_scam_victim": 0.8, "romance_scam_victim": 0.7, "mule": 0.5, "layering": 1.0}
NEW_NORMAL_SHARE = 0.03   # ordinary customers who open their account during the simulated period
VICTIMS_PER_RING = 4
MAX_CUSTOMERS = 1_000_000
MAX_DAYS = 366
MAX_CUSTOMER_DAYS = 1_500_000


@dataclass
class Episode:
    id: str
    typology: str
    account: str
    start_day: int
    new_account: bool
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "typology": self.typology, "account": self.account, "start_day": self.start_day,
                "new_account": self.new_account, **self.detail}


@dataclass
class CryptoSimulation:
    """The simulation: ``events`` (wire format, time order), ``labels`` (event id -> typology or None),
    ``chain`` (mamori chain JSONL transactions, time order), ``risk_list`` (list rows) and the ground
    truth kept beside them (``episodes``, ``entities``: who owns which address)."""

    params: dict[str, Any]
    events: list[dict[str, Any]]
    labels: dict[str, str | None]
    chain: list[dict[str, Any]]
    risk_list: list[dict[str, Any]]
    episodes: list[dict[str, Any]] = field(default_factory=list)
    entities: list[dict[str, Any]] = field(default_factory=list)
    details: dict[str, Label] = field(default_factory=dict)   # event id -> full label (episode, actor, session)

    @property
    def seed(self) -> int:
        return int(self.params.get("seed", 0))

    def write(self, directory: str | Path) -> None:
        """Write the files of :func:`mamori.sim.crypto.files.write_simulation` into ``directory``."""
        from mamori.sim.crypto.files import write_simulation

        write_simulation(self, Path(directory))


def _counts(customers: int) -> dict[str, int]:
    counts: dict[str, int] = {}
    room = customers
    for typology in TYPOLOGIES:
        n = min(room, max(1, round(SHARES[typology] * customers)))
        counts[typology] = n
        room -= n
    return counts


def simulate(customers: int, days: int, seed: int, *, warmup_days: int | None = None) -> CryptoSimulation:
    """Simulate ``customers`` customers of the exchange for ``days`` days (deterministic per ``seed``)."""
    if not 1 <= customers <= MAX_CUSTOMERS:
        raise ValueError(f"customers must be between 1 and {MAX_CUSTOMERS:,}")
    if not 1 <= days <= MAX_DAYS:
        raise ValueError(f"days must be between 1 and {MAX_DAYS}")
    if customers * days > MAX_CUSTOMER_DAYS:
        raise ValueError(f"customers x days must be at most {MAX_CUSTOMER_DAYS:,} (the simulation is held in memory; "
                         f"about 2.4 events per customer-day)")
    warmup = max(0, min(3 if warmup_days is None else warmup_days, days - 1))
    plan = Plan(f"k{seed}-", SIM_EPOCH, days)
    prices = Prices(random.Random(f"{seed}/prices"), days)
    chain = Chain(AddressBook(seed), random.Random(f"{seed}/chain"))
    ex = Exchange(plan, chain, prices)
    land = Landscape(chain).build()
    people = [draw_customer(random.Random(f"{seed}/customer/{i}"), i) for i in range(customers)]
    ring_start = {ring: random.Random(f"{seed}/ring/{ring}").randrange(warmup, max(warmup + 1, days - 3))
                  for ring in SCAM_RINGS}
    episodes = _assign(random.Random(f"{seed}/assign"), people, days, warmup, ring_start)
    by_account = {e.account: e for e in episodes}
    typ = Typologies(ex, land, days)
    for c in people:
        rng = random.Random(f"{seed}/life/{c.index}")
        episode = by_account.get(c.account)
        if episode is None or episode.typology == "takeover_withdrawal":
            opens = random.Random(f"{seed}/opening/{c.index}")
            opened_day = opens.randrange(days) if episode is None and opens.random() < NEW_NORMAL_SHARE else None
            _profile(ex, c, NORMAL, opened_day)
            wallet = Wallet() if opened_day is not None else opening_wallet(rng, ex, c)
            if opened_day is None:
                _books(ex, c.account, wallet, NORMAL)
            CustomerLife(ex, land, c, rng, wallet, first_day=opened_day or 0).run(days)
            if episode is not None:
                label = Label(episode.typology, episode.id, "attacker")
                typ.takeover(random.Random(f"{seed}/episode/{episode.id}"), c, wallet, label, episode.start_day)
            continue
        label = Label(episode.typology, episode.id)
        _profile(ex, c, label if episode.new_account else NORMAL, episode.start_day if episode.new_account else None)
        wallet = Wallet() if episode.new_account else opening_wallet(rng, ex, c)
        if not episode.new_account:
            _books(ex, c.account, wallet, NORMAL)
        if episode.typology in BENIGN_TYPOLOGIES or not episode.new_account:
            CustomerLife(ex, land, c, rng, wallet, label, first_day=episode.start_day if episode.new_account else 0
                         ).run(days)
        _attack(typ, random.Random(f"{seed}/episode/{episode.id}"), c, wallet, label, episode)
    ex.sweep_all()
    plan.items.sort(key=lambda item: (item[0], item[1]))
    events = [body for _, _, body, _ in plan.items]
    details = {body["id"]: label for _, _, body, label in plan.items}
    labels = {eid: label.typology for eid, label in details.items()}
    entities = [{"name": e.name, "category": e.category, "addresses": e.addresses}
                for e in sorted(chain.entities.values(), key=lambda e: e.name) if e.addresses]
    params = {"format": FORMAT, "customers": customers, "days": days, "seed": seed, "warmup_days": warmup,
              "start": SIM_EPOCH.isoformat()}
    return CryptoSimulation(params, events, labels, chain.sorted_txs(), risk_list(chain),
                            [e.to_dict() for e in episodes], entities, details)


def _assign(rng: random.Random, people: list[CryptoCustomer], days: int, warmup: int,
            ring_start: dict[str, int]) -> list[Episode]:
    """Pick the accounts of every typology (each account at most one) and their start days."""
    order = list(people)
    rng.shuffle(order)
    taken: set[str] = set()
    episodes: list[Episode] = []
    last = max(warmup, days - 2)
    for typology, count in _counts(len(people)).items():
        free = [c for c in order if c.account not in taken]
        fits = [c for c in free if _fits(typology, c)]
        pool = fits + [c for c in free if not _fits(typology, c)]  # those that fit first
        for k, c in enumerate(pool[:count]):
            taken.add(c.account)
            new = rng.random() < NEW_ACCOUNT_SHARE.get(typology, 0.0)
            start = 0 if typology in BENIGN_TYPOLOGIES else rng.randrange(warmup, last + 1)
            detail: dict[str, Any] = {}
            if typology in ("investment_scam_victim", "romance_scam_victim"):
                rings = [r for r in SCAM_RINGS if ("romance" in r) == (typology == "romance_scam_victim")]
                rings = rings[:max(1, count // VICTIMS_PER_RING)]  # several victims per ring share collectors
                detail["ring"] = rings[k % len(rings)]
                start = min(days - 1, ring_start[detail["ring"]] + rng.randint(0, 2))
                c.age_band = rng.choice(("60s", "70+", "70+", "50s")) if typology.startswith("investment") else \
                    rng.choice(("40s", "50s", "60s"))
                c.experience = "new"
            if typology == "benign_exchange_rebalance":
                c.other_exchange = c.other_exchange or "exchange-jp-1"
                c.deposit_jpy = max(c.deposit_jpy, 1e6)
            if typology in ("benign_own_wallet", "benign_payday_buyer"):
                c.self_custody = True
            episodes.append(Episode(f"K{len(episodes) + 1:04d}", typology, c.account, start, new, detail))
    return episodes


def _fits(typology: str, c: CryptoCustomer) -> bool:
    if typology == "takeover_withdrawal":
        return c.auth != "passkey"  # a passkey cannot be phished in real time
    if typology == "benign_exchange_rebalance":
        return c.experience == "experienced"
    return True


def _profile(ex: Exchange, c: CryptoCustomer, label: Label, opened_day: int | None) -> None:
    """The account's segment, sent when the account opens: on ``opened_day`` for accounts opened during
    the simulation, ``tenure_days`` before it for existing ones (so the engine knows every account's age)."""
    if opened_day is not None:
        t = ex.plan.day_start(opened_day) + 3600 * 8
    else:
        t = ex.plan.start - c.tenure_days * 86400.0 - 3600
    ex.plan.add(t, "account_profile", c.account, label, segment="senior" if c.age_band == "70+" else "retail")


def _books(ex: Exchange, account: str, wallet: Wallet, label: Label) -> None:
    """The exchange's books for an existing account at the start: one position per pair held, so the
    engine knows what the customer holds (sell-outs, first-time symbols)."""
    positions = [{"symbol": symbol(asset), "quantity": text(qty),
                  "market_value_jpy": yen(float(qty) * ex.prices.price(asset, 0))}
                 for asset, qty in sorted(wallet.assets.items()) if qty > 0]
    ex.plan.add(ex.plan.start - 1800, "holdings_snapshot", account, label, positions=positions)


def _attack(typ: Typologies, rng: random.Random, c: CryptoCustomer, wallet: Wallet, label: Label,
            e: Episode) -> None:
    if e.typology in ("investment_scam_victim", "romance_scam_victim"):
        typ.scam_victim(rng, c, wallet, label, e.detail["ring"], e.start_day)
    elif e.typology == "online_casino":
        e.detail["casino"] = typ.next_casino()
        typ.casino(rng, c, wallet, label, e.start_day, e.detail["casino"])
    elif e.typology == "mule":
        typ.mule(rng, c, wallet, label, e.start_day)
    elif e.typology == "layering":
        typ.layering(rng, c, wallet, label, e.start_day)


def summary(sim: CryptoSimulation) -> dict[str, Any]:
    by_typology: dict[str, int] = {}
    for e in sim.episodes:
        by_typology[e["typology"]] = by_typology.get(e["typology"], 0) + 1
    labelled = sum(1 for v in sim.labels.values() if v is not None)
    volume = sum((Decimal(e.get("amount_jpy", "0")) for e in sim.events if e["type"] == "crypto_withdrawal"),
                 Decimal(0))
    return {"events": len(sim.events), "labelled_events": labelled, "episodes": len(sim.episodes),
            "episodes_by_typology": by_typology, "chain_transactions": len(sim.chain),
            "risk_list_entries": len(sim.risk_list), "crypto_withdrawal_jpy": int(volume),
            "customers": sim.params.get("customers"), "days": sim.params.get("days")}
