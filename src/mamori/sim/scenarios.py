"""What happens at the simulated firm: customers' sessions, benign look-alikes and attack campaigns.

Everything is written into a :class:`Plan`: wire-format events (what each actor *intends* to do, at
the time they would do it) with a side-table :class:`Label` per event saying who acts (customer,
attacker or the firm's back office), for which campaign or benign episode, in which session, and
which earlier events it depends on (a fill depends on its order; a withdrawal to a new bank account
depends on the change of withdrawal account). :mod:`mamori.sim.evaluate` realises the plan against
the engine's decisions; see :mod:`mamori.sim.simulate` for the design.

Attack scenarios (labelled ``is_attack``):

* ``phishing_takeover`` - real-time phishing (AiTM) relay: the kit logs in with the victim's password
  and the live SMS/app one-time code from a new device on a hosting or VPN network (sometimes a
  rented Japanese residential proxy), sells most holdings within minutes, then buys one thinly
  traded small cap with the proceeds.
* ``credential_stuffing`` - a burst of password attempts against many accounts (and unknown login
  ids) from one IP, one /24 or one hosting provider's address space; almost all fail, a few
  passwords are valid. Without the second factor the bot stops there, except on the rare account
  that has no second factor, which is then taken over like a phished one.
* ``coordinated_pump`` - several accounts phished beforehand are logged into from the same
  infrastructure, sold out, and all buy the same thin symbol within minutes.
* ``takeover_withdrawal`` - phished login, change of the withdrawal bank account (and sometimes the
  email, so that notices go to the attacker), then a fiat withdrawal; the patient variant keeps the
  session open for over an hour before changing the phone number and the withdrawal account, and
  comes back more than 24 hours later (codes now go to its phone) to withdraw.

Benign look-alikes (labelled, ``is_attack`` false): ``travel_abroad`` (usual phone, foreign Wi-Fi,
roaming, local SIM or a VPN app, local hours), ``new_phone`` (new device, password + code, registers
the new phone as MFA device), ``big_sale`` (usual device, sells nearly everything, later withdraws),
``unusual_hours`` (usual device at 01:00-05:00 JST), ``privacy_relay`` (Safari with iCloud Private
Relay: every web login egresses from Cloudflare, a hosting network).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from mamori.sim.population import (
    ABROAD,
    HOME_ISPS,
    HOSTING,
    LARGE_CAPS,
    MARKET,
    PRIVATE_RELAY_JP,
    THIN_SYMBOLS,
    UA_APP,
    UA_ATTACKER,
    UA_BOTS,
    UA_HEADLESS,
    UA_PC,
    VPN_JP,
    Customer,
    Market,
    carrier_ip,
    hex_id,
    host_in,
    lots,
    money,
    tick,
)
from mamori.sim.population import JST as JST_TZ

ATTACK_SCENARIOS: dict[str, float] = {  # share of campaigns
    "phishing_takeover": 0.40,
    "credential_stuffing": 0.15,
    "coordinated_pump": 0.20,
    "takeover_withdrawal": 0.25,
}
LOOKALIKE_SHARES: dict[str, float] = {  # share of customers
    "travel_abroad": 0.02,
    "new_phone": 0.03,
    "big_sale": 0.01,
    "unusual_hours": 0.03,
    "privacy_relay": 0.015,
}
INTENTS = ("login", "order", "fill", "cancel", "settings", "withdrawal", "deposit", "logout", "books")


@dataclass(frozen=True, slots=True)
class Label:
    """The side-table entry of one event (never part of the event itself)."""

    scenario: str
    is_attack: bool
    actor: str                      # customer | attacker | firm
    intent: str                     # one of INTENTS
    campaign_id: str | None = None  # attack campaign ("C0001") or benign episode ("L0001")
    session: str | None = None      # simulated session: a login and what follows it
    requires: tuple[str, ...] = ()  # event ids that must have taken effect for this one to happen

    def to_dict(self, event_id: str) -> dict[str, Any]:
        return {"event_id": event_id, "campaign_id": self.campaign_id, "scenario": self.scenario,
                "is_attack": self.is_attack, "actor": self.actor, "intent": self.intent,
                "session": self.session, "requires": list(self.requires)}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Label:
        return cls(scenario=d["scenario"], is_attack=bool(d["is_attack"]), actor=d["actor"], intent=d["intent"],
                   campaign_id=d.get("campaign_id"), session=d.get("session"),
                   requires=tuple(d.get("requires") or ()))


def iso(t: float) -> str:
    return datetime.fromtimestamp(int(t), JST_TZ).isoformat()


def in_market(t: float) -> bool:
    dt = datetime.fromtimestamp(t, JST_TZ)
    minute = dt.hour * 60 + dt.minute
    return dt.weekday() < 5 and (540 <= minute < 690 or 750 <= minute < 930)


def next_open(t: float) -> float:
    """The next TSE session start (09:00 or 12:30 JST on a weekday) at or after ``t``."""
    dt = datetime.fromtimestamp(t, JST_TZ)
    day = dt.replace(hour=0, minute=0, second=0, microsecond=0)
    for _ in range(8):
        if day.weekday() < 5:
            for h, m in ((9, 0), (12, 30)):
                start = day.replace(hour=h, minute=m)
                if start.timestamp() >= t:
                    return start.timestamp()
        day += timedelta(days=1)
    return t


def poisson(rng: random.Random, lam: float) -> int:
    limit, k, p = math.exp(-lam), 0, rng.random()
    while p > limit:
        k += 1
        p *= rng.random()
    return k


@dataclass
class Episode:
    """A benign look-alike episode of one customer."""

    id: str
    scenario: str
    account: str
    day: int
    days: int = 1
    detail: dict[str, Any] = field(default_factory=dict)

    def covers(self, day: int) -> bool:
        return self.day <= day < self.day + self.days

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "scenario": self.scenario, "account": self.account, "start_day": self.day,
                "days": self.days, **self.detail}


class Plan:
    """The growing plan: events with labels, ids, and each account's holdings over time."""

    def __init__(self, prefix: str, start: datetime, market: Market) -> None:
        self.prefix = prefix
        self.start = start.timestamp()
        self.market = market
        self.items: list[tuple[float, int, dict[str, Any], Label]] = []
        self._n = 0
        self.initial: dict[str, dict[str, float]] = {}          # account -> symbol/"cash" -> amount
        self.moves: dict[str, list[tuple[float, str, float]]] = {}  # account -> (t, symbol/"cash", delta)

    def next_id(self, kind: str) -> str:
        self._n += 1
        return f"{self.prefix}{kind}{self._n:07d}"

    def add(self, t: float, kind: str, account: str, label: Label, **fields: Any) -> str:
        eid = self.next_id("e")
        body: dict[str, Any] = {"id": eid, "type": kind, "occurred_at": iso(t), "account_id": account}
        body.update({k: v for k, v in fields.items() if v is not None})
        self.items.append((float(int(t)), self._n, body, label))
        return eid

    def day_of(self, t: float) -> int:
        return int((t - self.start) // 86400)

    def day_start(self, day: int) -> float:
        return self.start + day * 86400

    def is_weekday(self, day: int) -> bool:
        return datetime.fromtimestamp(self.day_start(day) + 43200, JST_TZ).weekday() < 5

    # -- the plan world's books: every order fills, so what would be held at time t --------------
    def open_book(self, customer: Customer) -> None:
        self.initial[customer.account] = {**{s: float(q) for s, q in customer.holdings.items()},
                                          "cash": customer.cash_jpy}
        self.moves[customer.account] = []

    def move(self, account: str, t: float, key: str, delta: float) -> None:
        self.moves.setdefault(account, []).append((t, key, delta))

    def book_at(self, account: str, t: float) -> dict[str, float]:
        book = dict(self.initial.get(account, {}))
        for when, key, delta in self.moves.get(account, ()):
            if when < t:
                book[key] = max(0.0, book.get(key, 0.0) + delta) if key != "cash" else book.get(key, 0.0) + delta
        return book


class Session:
    """One actor's session: sign-in factors, then actions, in time order, sharing a session id."""

    def __init__(self, plan: Plan, rng: random.Random, *, account: str, t: float, ip: str | None,
                 device: str | None, ua: str | None, channel: str, scenario: str, is_attack: bool, actor: str,
                 campaign: str | None = None, requires: tuple[str, ...] = ()) -> None:
        self.plan, self.rng = plan, rng
        self.account, self.t = account, t
        self.ip, self.device, self.ua, self.channel = ip, device, ua, channel
        self.scenario, self.is_attack, self.actor, self.campaign = scenario, is_attack, actor, campaign
        self.requires = requires
        self.sid = plan.next_id("S")
        self.ids: list[str] = []

    def label(self, intent: str, requires: tuple[str, ...] = (), session: bool = True) -> Label:
        return Label(self.scenario, self.is_attack, self.actor, intent, self.campaign,
                     self.sid if session else None, self.requires + requires)

    def wait(self, lo: float, hi: float) -> None:
        self.t += self.rng.uniform(lo, hi)

    def _client(self) -> dict[str, Any]:
        return {"ip": self.ip, "user_agent": self.ua, "device_id": self.device, "session_id": self.sid,
                "channel": self.channel}

    def _add(self, kind: str, intent: str, requires: tuple[str, ...] = (), **fields: Any) -> str:
        eid = self.plan.add(self.t, kind, self.account, self.label(intent, requires), **self._client(), **fields)
        self.ids.append(eid)
        return eid

    def login(self, method: str, result: str = "success", reason: str | None = None) -> str:
        return self._add("login", "login", result=result, method=method,
                         failure_reason=reason if result == "failure" else None)

    def sign_in(self, factors: tuple[str, ...], *, typo: float = 0.03, code_expiry: float = 0.01) -> None:
        """A customer signing in: the occasional mistyped password or expired code, then the factors."""
        for i, factor in enumerate(factors):
            if i:
                self.wait(6, 40)
            if factor == "password" and self.rng.random() < typo:
                self.login("password", "failure", "bad_credential")
                self.wait(5, 25)
            elif factor in ("sms_otp", "totp") and self.rng.random() < code_expiry:
                self.login(factor, "failure", "expired_otp")
                self.wait(20, 60)
            elif factor == "passkey" and self.rng.random() < typo / 3:
                self.login("passkey", "failure", "other")
                self.wait(5, 20)
            self.login(factor)
        self.wait(60, 300)  # the first action comes at least a minute after the last factor

    def order(self, side: str, symbol: str, qty: int, price: float, *, market_order: bool = False,
              cancel_after: float | None = None, requires: tuple[str, ...] = (),
              account_type: str = "specific") -> str:
        order_id = self.plan.next_id("o")
        fields: dict[str, Any] = {"order_id": order_id, "side": side, "symbol": symbol, "market": MARKET,
                                  "quantity": str(qty), "order_type": "market" if market_order else "limit",
                                  "account_type": account_type}
        if market_order:
            fields["reference_price"] = money(price)
        else:
            fields["price"] = money(price)
        oid = self._add("order", "order", requires, **fields)
        if cancel_after is not None:
            self.plan.add(self.t + cancel_after, "order_cancel", self.account,
                          self.label("cancel", (oid,), session=False), order_id=order_id, symbol=symbol,
                          **self._client())
            return oid
        fill_t = self.t + self.rng.uniform(1, 45) if in_market(self.t) else next_open(self.t) + self.rng.uniform(0, 240)
        fill_price = price * (1 + self.rng.uniform(-0.002, 0.002)) if market_order else price
        self.plan.add(fill_t, "execution", self.account, self.label("fill", (oid,), session=False),
                      execution_id=self.plan.next_id("x"), order_id=order_id, side=side, symbol=symbol,
                      market=MARKET, quantity=str(qty), price=money(fill_price))
        sign = 1 if side == "buy" else -1
        self.plan.move(self.account, fill_t, symbol, sign * qty)
        self.plan.move(self.account, fill_t, "cash", -sign * qty * fill_price)
        return oid

    def setting(self, setting: str, change: str = "updated", fingerprint: str | None = None,
                requires: tuple[str, ...] = ()) -> str:
        return self._add("settings_change", "settings", requires, setting=setting, change=change,
                         new_value_fingerprint=fingerprint)

    def withdrawal(self, amount: float, bank: str, requires: tuple[str, ...] = ()) -> str:
        eid = self._add("fiat_withdrawal", "withdrawal", requires, transfer_id=self.plan.next_id("t"),
                        amount=money(round(amount, -3)), bank_account_fingerprint=bank)
        self.plan.move(self.account, self.t, "cash", -amount)
        return eid

    def logout(self) -> str:
        return self._add("logout", "logout")


# ==================================================================================================
# customers' own behaviour (with their benign look-alike episodes)
# ==================================================================================================
def _hour(rng: random.Random, slots: tuple[int, ...]) -> float:
    r = rng.random()
    if r < 0.88:
        h = rng.choice(slots) + (rng.choice((-1, 1)) if rng.random() < 0.2 else 0)
    elif r < 0.99:
        h = rng.randint(6, 23)
    else:
        h = rng.randint(0, 5)
    return (h % 24) * 3600 + rng.uniform(0, 3599)


class CustomerLife:
    """Writes one customer's sessions day by day (their devices and networks change over time)."""

    def __init__(self, plan: Plan, market: Market, customer: Customer, rng: random.Random,
                 episodes: list[Episode]) -> None:
        self.plan, self.market, self.c, self.rng = plan, market, customer, rng
        self.episodes = episodes
        self.home_ip = customer.home_ip
        self.phone_device, self.phone_ua = customer.phone_device, customer.phone_ua
        self.new_phone_from: int | None = None
        self.relay = any(e.scenario == "privacy_relay" for e in episodes)

    def episode(self, scenario: str, day: int) -> Episode | None:
        return next((e for e in self.episodes if e.scenario == scenario and e.covers(day)), None)

    def run(self, days: int) -> None:
        c, rng, plan = self.c, self.rng, self.plan
        plan.open_book(c)
        for day in range(days):
            if rng.random() < 0.02:  # the router reconnected: a new address (and /24) at the same ISP
                self.home_ip = host_in(rng, rng.choice(HOME_ISPS[c.isp]))
            travel = self.episode("travel_abroad", day)
            lam = c.logins_per_day * (1.0 if plan.is_weekday(day) else 0.45) * (0.6 if travel else 1.0)
            starts: list[tuple[float, str | None]] = [(_hour(rng, c.slots), None) for _ in range(poisson(rng, lam))]
            for e in self.episodes:
                if e.day == day and e.scenario in ("new_phone", "big_sale", "unusual_hours"):
                    at = (rng.uniform(1, 4.99) * 3600 if e.scenario == "unusual_hours"
                          else (rng.choice(c.slots) % 24) * 3600 + rng.uniform(0, 3000))
                    if e.scenario == "big_sale" and plan.is_weekday(day):
                        at = rng.uniform(9.2, 14.5) * 3600
                    starts.append((at, e.scenario))
                if e.scenario == "big_sale" and e.detail.get("withdraw_day") == day:
                    starts.append((rng.uniform(10, 20) * 3600, "big_sale_withdrawal"))
            if travel:
                starts = [(self._travel_time(travel, at), why) for at, why in starts]
            if rng.random() < 0.03:
                plan.add(plan.day_start(day) + rng.uniform(9.5, 15) * 3600, "fiat_deposit", c.account,
                         Label("normal", False, "customer", "deposit"), transfer_id=plan.next_id("t"),
                         amount=money(round(rng.uniform(1e5, 2e6), -4)), bank_account_fingerprint=c.bank)
            for at, why in sorted(starts, key=lambda s: s[0]):
                self.session(day, plan.day_start(day) + at, why, travel)

    def _travel_time(self, travel: Episode, at_jst: float) -> float:
        # The customer keeps their local habits: a usual 20:00 in California (JST-17) is 13:00 JST.
        return float((at_jst - travel.detail["jst_offset_h"] * 3600) % 86400)

    def session(self, day: int, t: float, why: str | None, travel: Episode | None) -> None:
        c, rng = self.c, self.rng
        scenario, campaign = "normal", None
        new_phone = self.episode("new_phone", day)
        if why == "new_phone" and new_phone is not None:  # from now on the customer uses the new phone
            self.new_phone_from = day
            self.phone_device = f"{c.account}-ph-{hex_id(rng, 32)}"
            self.phone_ua = new_phone.detail["ua"]
        use_phone = why in ("new_phone", "unusual_hours") or c.pc_device is None or rng.random() < c.phone_share
        if travel is not None and c.pc_device is not None:
            use_phone = rng.random() < 0.8
        device = self.phone_device if use_phone else c.pc_device
        ua = self.phone_ua if use_phone else c.pc_ua
        channel = "app" if use_phone else "web"
        ip = (self.home_ip if rng.random() < 0.35 else carrier_ip(rng, c.carrier)) if use_phone else self.home_ip
        factors = c.factors
        registering = False
        if travel is not None:
            scenario, campaign = "travel_abroad", travel.id
            ip = self._travel_ip(travel)
        elif why in ("big_sale", "big_sale_withdrawal", "unusual_hours"):
            ep = next(e for e in self.episodes if e.scenario == ("big_sale" if why.startswith("big") else why))
            scenario, campaign = ep.scenario, ep.id
            if why == "unusual_hours":
                ip = self.home_ip
        elif self.relay and not use_phone:
            ep = next(e for e in self.episodes if e.scenario == "privacy_relay")
            scenario, campaign = "privacy_relay", ep.id
            ip = rng.choice(PRIVATE_RELAY_JP)
        elif new_phone is not None and self.new_phone_from is not None and use_phone:
            scenario, campaign = "new_phone", new_phone.id
            if why == "new_phone":
                registering = bool(new_phone.detail["registers_mfa"])
                if c.auth == "passkey" and not new_phone.detail["synced_passkey"]:
                    factors = ("password", "sms_otp")  # no passkey on the new phone yet
                    registering = True
        s = Session(self.plan, rng, account=c.account, t=t, ip=ip, device=device, ua=ua, channel=channel,
                    scenario=scenario, is_attack=False, actor="customer", campaign=campaign)
        s.sign_in(factors)
        if registering:
            s.setting("mfa_device", "added", f"mfa-{hex_id(rng)}")
            s.wait(30, 200)
        if why == "big_sale":
            self.big_sale(s, day)
        elif why == "big_sale_withdrawal":
            cash = self.plan.book_at(c.account, s.t).get("cash", 0.0)
            if cash > 100_000:
                s.withdrawal(cash * rng.uniform(0.8, 0.98), c.bank)
        else:
            self.routine(s, day, travel is not None)
        if rng.random() < 0.7:
            s.wait(30, 900)
            s.logout()

    def _travel_ip(self, travel: Episode) -> str:
        rng = self.rng
        mode = travel.detail["network"] if rng.random() < 0.7 else rng.choice(("wifi", "roaming", "local_sim"))
        dest = next(d for d in ABROAD if d[0] == travel.detail["country"])
        if mode == "wifi":
            return host_in(rng, rng.choice(dest[2]))
        if mode == "local_sim":
            return host_in(rng, rng.choice(dest[3]))
        if mode == "vpn":
            return host_in(rng, rng.choice(VPN_JP))
        return carrier_ip(rng, self.c.carrier)  # roaming data breaks out in Japan

    def routine(self, s: Session, day: int, away: bool) -> None:
        c, rng, market = self.c, self.rng, self.market
        if rng.random() < c.trade_prob * (0.5 if away else 1.0):
            for i in range(1 + (rng.random() < 0.35) + (rng.random() < 0.15)):
                if i:
                    s.wait(20, 300)
                book = self.plan.book_at(c.account, s.t)
                r = rng.random()
                symbol = (rng.choice(c.usual_symbols) if r < 0.85 else
                          rng.choice(sorted(LARGE_CAPS)) if r < 0.96 else rng.choice(sorted(THIN_SYMBOLS)))
                price = market.price(symbol, day, rng)
                held = int(book.get(symbol, 0))
                if held > 0 and rng.random() < 0.45:
                    qty = max(1, int(held * rng.uniform(0.2, 1.0)))
                    qty = (qty // 100) * 100 if qty >= 100 else qty
                    side = "sell"
                else:
                    qty = lots(c.usual_order_jpy * rng.lognormvariate(0, 0.5), price)
                    side = "buy"
                market_order = rng.random() < 0.3
                away_from_market = rng.uniform(-0.01, 0.004) * (1 if side == "buy" else -1)
                limit = price if market_order else price * (1 + away_from_market)
                cancel = rng.uniform(60, 3600) if (not market_order and rng.random() < 0.08) else None
                s.order(side, symbol, max(1, qty), limit if market_order else tick(limit), market_order=market_order,
                        cancel_after=cancel, account_type="nisa" if rng.random() < 0.15 else "specific")
        if rng.random() < 0.01:
            s.wait(20, 200)
            cash = self.plan.book_at(c.account, s.t).get("cash", 0.0)
            if cash > 60_000:
                s.withdrawal(rng.uniform(50_000, min(1_000_000, cash)), c.bank)
        if rng.random() < 0.004:
            s.wait(20, 200)
            setting = rng.choice(("address", "email", "phone", "password"))
            s.setting(setting, "updated", None if setting == "password" else f"{setting[:4]}-{hex_id(rng)}")

    def big_sale(self, s: Session, day: int) -> None:
        book = self.plan.book_at(self.c.account, s.t)
        for symbol in sorted(k for k, v in book.items() if k != "cash" and v >= 1):
            qty = int(book[symbol]) if self.rng.random() < 0.7 else max(1, int(book[symbol] * self.rng.uniform(0.9, 1)))
            price = self.market.price(symbol, day, self.rng)
            s.order("sell", symbol, qty, tick(price * 0.997), market_order=self.rng.random() < 0.4)
            s.wait(20, 180)


def assign_episodes(rng: random.Random, customers: list[Customer], days: int, taken: set[str],
                    warmup: int = 0) -> list[Episode]:
    """Pick customers for each benign look-alike (never an attack victim) and fix the details.
    Episodes start after the warm-up days, like the attacks."""
    episodes: list[Episode] = []
    first = min(warmup, days - 1)
    free = [c for c in customers if c.account not in taken]
    n = 0
    for scenario, share in LOOKALIKE_SHARES.items():
        pool = [c for c in free if c.pc_device is not None] if scenario == "privacy_relay" else free
        count = min(len(pool), max(1, round(share * len(customers))))
        for c in rng.sample(pool, count):
            free.remove(c)
            n += 1
            eid = f"L{n:04d}"
            if scenario == "travel_abroad":
                dest = rng.choice(ABROAD)
                start = rng.randrange(first, max(first + 1, days - 2))
                detail = {"country": dest[0], "jst_offset_h": dest[1],
                          "network": rng.choices(("wifi", "roaming", "local_sim", "vpn"), (40, 30, 15, 15))[0]}
                episodes.append(Episode(eid, scenario, c.account, start, min(days - start, rng.randint(3, 7)), detail))
            elif scenario == "new_phone":
                episodes.append(Episode(eid, scenario, c.account, rng.randrange(first, days), 3,
                                        {"ua": rng.choice(UA_APP), "registers_mfa": rng.random() < 0.6,
                                         "synced_passkey": rng.random() < 0.5}))
            elif scenario == "big_sale":
                day = rng.randrange(first, days)
                withdraw = day + 2 if rng.random() < 0.6 and day + 2 < days else None
                episodes.append(Episode(eid, scenario, c.account, day, 1, {"withdraw_day": withdraw}))
            elif scenario == "unusual_hours":
                episodes.append(Episode(eid, scenario, c.account, rng.randrange(first, days)))
            else:  # privacy_relay: every web session of the whole period
                c.pc_ua = UA_PC[1]  # Safari
                episodes.append(Episode(eid, scenario, c.account, 0, days))
    return episodes


# ==================================================================================================
# attacks
# ==================================================================================================
@dataclass
class Infra:
    """Where an attacker connects from."""

    style: str       # hosting | vpn | resi_proxy
    provider: str
    net24: str       # the campaign's main /24 (first three octets)
    sticky: bool     # one address for everything, or new hosts in the /24
    host: int = 77   # the sticky address's last octet

    def ip(self, rng: random.Random) -> str:
        if self.style == "resi_proxy":  # every login exits from a different home in Japan
            return host_in(rng, rng.choice(HOME_ISPS[rng.choice(sorted(HOME_ISPS))]))
        if self.sticky:
            return f"{self.net24}.{self.host}"
        return host_in(rng, self.net24)

    def to_dict(self) -> dict[str, Any]:
        if self.style == "resi_proxy":
            return {"style": self.style, "provider": self.provider, "network": None, "sticky_ip": False}
        return {"style": self.style, "provider": self.provider, "network": f"{self.net24}.0/24",
                "sticky_ip": self.sticky}


def draw_infra(rng: random.Random) -> Infra:
    style = rng.choices(("hosting", "vpn", "resi_proxy"), (45, 30, 25))[0]
    if style == "hosting":
        provider = rng.choice(sorted(HOSTING))
        net = host_in(rng, rng.choice(HOSTING[provider])).rsplit(".", 1)[0]
    elif style == "vpn":
        provider, net = "datacamp-vpn", rng.choice(VPN_JP)
    else:
        provider, net = "jp-residential-proxy", "0.0.0"
    return Infra(style, provider, net, rng.random() < 0.4, rng.randrange(2, 254))


class Campaigns:
    """Writes attack campaigns into the plan."""

    def __init__(self, plan: Plan, market: Market, customers: list[Customer], rng: random.Random,
                 days: int, warmup: int) -> None:
        self.plan, self.market, self.rng = plan, market, rng
        self.customers = customers
        self.by_account = {c.account: c for c in customers}
        self.days, self.warmup = days, warmup
        self.victims: set[str] = set()
        self.campaigns: list[dict[str, Any]] = []
        self.mules = [f"bank-mule-{hex_id(rng)}" for _ in range(3)]

    # -- helpers ----------------------------------------------------------------------------------
    def pick_victims(self, n: int, exclude: set[str]) -> list[Customer]:
        pool = [c for c in self.customers if c.account not in self.victims and c.account not in exclude]
        weights = [0.15 if c.auth == "passkey" else 1.0 for c in pool]
        chosen: list[Customer] = []
        while pool and len(chosen) < n:
            i = self.rng.choices(range(len(pool)), weights)[0]
            chosen.append(pool.pop(i))
            weights.pop(i)
        self.victims.update(c.account for c in chosen)
        return chosen

    def market_time(self, lo_h: float = 9.1, hi_h: float = 14.6) -> float:
        days = [d for d in range(self.warmup, self.days) if self.plan.is_weekday(d)] or list(
            range(self.warmup, self.days)) or [0]
        day = self.rng.choice(days)
        return self.plan.day_start(day) + self.rng.uniform(lo_h, hi_h) * 3600

    def relay_factors(self, victim: Customer) -> tuple[str, ...]:
        # A phishing kit relays what the victim types: password and the live code. For passkey
        # customers the firm still allows the password + SMS fallback, which is what gets relayed.
        return ("password", "sms_otp") if victim.auth == "passkey" else victim.factors

    def session(self, cid: str, scenario: str, victim: Customer, t: float, ip: str, device: str, ua: str,
                requires: tuple[str, ...] = ()) -> Session:
        return Session(self.plan, self.rng, account=victim.account, t=t, ip=ip, device=device, ua=ua,
                       channel="web", scenario=scenario, is_attack=True, actor="attacker", campaign=cid,
                       requires=requires)

    def relay_login(self, s: Session, factors: tuple[str, ...]) -> None:
        for i, factor in enumerate(factors):
            if i:
                s.wait(8, 45)  # the kit waits for the victim to type the code, then replays it
            s.login(factor)
        s.wait(60, 240)

    def sell_out(self, s: Session, day: int) -> float:
        """Sell (nearly) all of the larger positions; returns the proceeds."""
        rng, book = self.rng, self.plan.book_at(s.account, s.t)
        values = {k: v * self.market.price(k, day) for k, v in book.items() if k != "cash" and v >= 1}
        total = sum(values.values())
        proceeds = 0.0
        targets = [k for k, v in sorted(values.items(), key=lambda kv: -kv[1]) if v >= 0.1 * total][:4]
        for i, symbol in enumerate(targets):
            if i:
                s.wait(15, 90)
            held = int(book[symbol])
            qty = held if rng.random() < 0.5 else max(1, math.ceil(held * rng.uniform(0.85, 1.0)))
            price = self.market.price(symbol, day, rng)
            market_order = rng.random() < 0.6
            s.order("sell", symbol, qty, price if market_order else tick(price * rng.uniform(0.98, 0.995)),
                    market_order=market_order)
            proceeds += qty * price
        return proceeds

    def buy_thin(self, s: Session, day: int, symbol: str, budget: float) -> None:
        rng = self.rng
        price = tick(self.market.price(symbol, day) * rng.uniform(1.03, 1.10))
        parts = rng.choice((1, 1, 2, 3))
        for i in range(parts):
            if i:
                s.wait(10, 60)
            s.order("buy", symbol, lots(budget / parts, price), price, account_type="specific")

    def new_campaign(self, scenario: str, **detail: Any) -> dict[str, Any]:
        campaign = {"id": f"C{len(self.campaigns) + 1:04d}", "scenario": scenario, **detail}
        self.campaigns.append(campaign)
        return campaign

    # -- scenarios --------------------------------------------------------------------------------
    def phishing_takeover(self, exclude: set[str]) -> None:
        rng = self.rng
        victims = self.pick_victims(1, exclude)
        if not victims:
            return
        victim = victims[0]
        infra, thin = draw_infra(rng), rng.choice(sorted(THIN_SYMBOLS))
        ua = UA_HEADLESS if rng.random() < 0.15 else UA_ATTACKER
        camp = self.new_campaign("phishing_takeover", variant=infra.style, accounts=[victim.account],
                                 takeovers=[victim.account], thin_symbol=thin, infrastructure=infra.to_dict())
        t = self.market_time()
        s = self.session(camp["id"], "phishing_takeover", victim, t, infra.ip(rng), f"atk-{hex_id(rng, 40)}", ua)
        self.relay_login(s, self.relay_factors(victim))
        day = self.plan.day_of(s.t)
        proceeds = self.sell_out(s, day)
        s.wait(120, 600)
        cash = self.plan.book_at(victim.account, t).get("cash", 0.0)
        self.buy_thin(s, day, thin, proceeds * rng.uniform(0.8, 1.0) + max(0.0, cash) * rng.uniform(0, 0.5))
        if rng.random() < 0.5:
            s.wait(30, 300)
            s.logout()

    def coordinated_pump(self, exclude: set[str]) -> None:
        rng = self.rng
        victims = self.pick_victims(rng.randint(3, 8), exclude)
        if not victims:
            return
        infra, thin = draw_infra(rng), rng.choice(sorted(THIN_SYMBOLS))
        shared_device = f"atk-{hex_id(rng, 40)}" if rng.random() < 0.5 else None
        camp = self.new_campaign("coordinated_pump", variant=infra.style, accounts=[v.account for v in victims],
                                 takeovers=[v.account for v in victims], thin_symbol=thin,
                                 infrastructure=infra.to_dict(), shared_device=shared_device is not None)
        pump_t = self.market_time(10.5, 14.8)
        for victim in victims:
            t = pump_t - rng.uniform(15, 90) * 60
            s = self.session(camp["id"], "coordinated_pump", victim, t, infra.ip(rng),
                             shared_device or f"atk-{hex_id(rng, 40)}", UA_ATTACKER)
            self.relay_login(s, self.relay_factors(victim))
            day = self.plan.day_of(s.t)
            proceeds = self.sell_out(s, day)
            s.t = max(s.t + 30, pump_t + rng.uniform(0, 8) * 60)
            cash = self.plan.book_at(victim.account, t).get("cash", 0.0)
            self.buy_thin(s, day, thin, proceeds * rng.uniform(0.8, 1.0) + max(0.0, cash) * rng.uniform(0, 0.5))

    def takeover_withdrawal(self, exclude: set[str]) -> None:
        rng = self.rng
        victims = self.pick_victims(1, exclude)
        if not victims:
            return
        victim = victims[0]
        infra = draw_infra(rng)
        patient = rng.random() < 0.3
        mule = rng.choice(self.mules) if rng.random() < 0.4 else f"bank-mule-{hex_id(rng)}"
        variant = f"{infra.style}/{'patient' if patient else 'immediate'}"
        camp = self.new_campaign("takeover_withdrawal", variant=variant,
                                 accounts=[victim.account], takeovers=[victim.account], mule_bank=mule,
                                 infrastructure=infra.to_dict())
        device = f"atk-{hex_id(rng, 40)}"
        t = self.market_time(8.0, 18.0)
        s = self.session(camp["id"], "takeover_withdrawal", victim, t, infra.ip(rng), device, UA_ATTACKER)
        self.relay_login(s, self.relay_factors(victim))
        if not patient:
            if rng.random() < 0.4:
                s.setting("email", "updated", f"mail-atk-{hex_id(rng)}")
                s.wait(30, 120)
            change = s.setting("withdrawal_account", "updated", mule)
            s.wait(120, 1200)
            cash = self.plan.book_at(victim.account, s.t).get("cash", 0.0)
            s.withdrawal(max(300_000.0, cash * rng.uniform(0.6, 1.0)), mule, requires=(change,))
            return
        # The patient crew knows the rules' windows: it keeps the session alive past the hour after a
        # new-device login in which account changes are held, redirects the codes and the payout
        # account, and comes back to withdraw once 24 hours have passed since the change.
        s.wait(65 * 60, 120 * 60)
        phone = s.setting("phone", "updated", f"tel-atk-{hex_id(rng)}")
        s.wait(30, 120)
        change = s.setting("withdrawal_account", "updated", mule)
        s.wait(30, 300)
        s.logout()
        t2 = s.t + rng.uniform(24.5, 30) * 3600
        s2 = self.session(camp["id"], "takeover_withdrawal", victim, t2, infra.ip(rng), device, UA_ATTACKER,
                          requires=(phone,))
        self.relay_login(s2, ("password", "sms_otp") if victim.auth != "password" else ("password",))
        cash = self.plan.book_at(victim.account, s2.t).get("cash", 0.0)
        s2.withdrawal(max(300_000.0, cash * rng.uniform(0.6, 1.0)), mule, requires=(change,))

    def credential_stuffing(self, exclude: set[str]) -> None:
        rng = self.rng
        variant = rng.choice(("one_ip", "one_net24", "one_asn"))
        provider = rng.choice(sorted(HOSTING)) if rng.random() < 0.8 else "datacamp-vpn"
        prefixes = HOSTING.get(provider, VPN_JP)
        net = host_in(rng, rng.choice(prefixes)).rsplit(".", 1)[0]
        fixed_ip = f"{net}.{rng.randrange(2, 254)}"
        ua = rng.choice(UA_BOTS)
        with_device = rng.random() < 0.5
        n_targets = min(rng.randint(60, 250), max(10, len(self.customers) // 2))
        rate = rng.uniform(3, 15) if variant == "one_asn" else rng.uniform(5, 30)  # attempts per minute
        known = [c for c in self.customers if c.account not in exclude]
        n_known = min(len(known), round(n_targets * 0.7))
        targets: list[Customer | str] = [*rng.sample(known, n_known),
                                         *[f"u{rng.randrange(10**9):09d}" for _ in range(n_targets - n_known)]]
        rng.shuffle(targets)
        hit_rate = rng.uniform(0.02, 0.05)
        hits = {c.account for c in targets if isinstance(c, Customer) and c.account not in self.victims
                and rng.random() < hit_rate}
        if not hits:
            fresh = [c for c in targets if isinstance(c, Customer) and c.account not in self.victims]
            if fresh:
                hits = {fresh[0].account}
        takeovers = sorted(a for a in hits if self.by_account[a].auth == "password")
        self.victims.update(hits)
        camp = self.new_campaign("credential_stuffing", variant=variant, accounts=sorted(hits), takeovers=takeovers,
                                 targets=n_targets, infrastructure={"provider": provider, "network": f"{net}.0/24",
                                                                    "ip": fixed_ip if variant == "one_ip" else None})
        thin = rng.choice(sorted(THIN_SYMBOLS))
        days = list(range(self.warmup, self.days)) or [0]
        t = self.plan.day_start(rng.choice(days)) + rng.uniform(0, 86000)
        for target in targets:
            t += rng.expovariate(rate / 60)
            account = target.account if isinstance(target, Customer) else target
            ip = (fixed_ip if variant == "one_ip" else host_in(rng, net) if variant == "one_net24"
                  else host_in(rng, rng.choice(prefixes)))
            device = f"bot-{hex_id(rng, 40)}" if with_device else None
            s = Session(self.plan, rng, account=account, t=t, ip=ip, device=device, ua=ua, channel="web",
                        scenario="credential_stuffing", is_attack=True, actor="attacker", campaign=camp["id"])
            if not isinstance(target, Customer):
                s.login("password", "failure", "unknown_account")
                continue
            if account not in hits:
                s.login("password", "failure", "bad_credential")
                if rng.random() < 0.1:
                    s.wait(1, 5)
                    s.login("password", "failure", "bad_credential")
                continue
            s.login("password")
            if account in takeovers:  # no second factor on this account: the attacker is in
                s.wait(60, 600)
                day = self.plan.day_of(s.t)
                proceeds = self.sell_out(s, day)
                if rng.random() < 0.5:
                    s.wait(60, 300)
                    self.buy_thin(s, day, thin, proceeds * rng.uniform(0.7, 1.0))


def allocate(total: int, shares: dict[str, float]) -> dict[str, int]:
    """Split ``total`` by ``shares`` with the largest-remainder method (exact, deterministic)."""
    raw = {k: total * v / sum(shares.values()) for k, v in shares.items()}
    out = {k: int(v) for k, v in raw.items()}
    order = sorted(shares, key=lambda k: (-(raw[k] - out[k]), list(shares).index(k)))
    for k in order[: total - sum(out.values())]:
        out[k] += 1
    return out


def write_campaigns(campaigns: Campaigns, n: int, exclude: set[str]) -> None:
    counts = allocate(n, ATTACK_SCENARIOS)
    schedule = [s for s, k in counts.items() for _ in range(k)]
    for scenario in schedule:
        getattr(campaigns, scenario)(exclude)
