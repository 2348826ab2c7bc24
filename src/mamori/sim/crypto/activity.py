"""What one actor does at the exchange, written as wire events plus the matching on-chain transactions.

:class:`Exchange` holds the plan, the chain and the prices; :class:`Wallet` an account's yen and
asset balances (the simulator never withdraws more than an account holds); :class:`Session` one
sign-in and the actions that follow it (orders fill at once: crypto markets trade around the clock).

A crypto deposit is written as the on-chain transfer into the customer's deposit address at the
exchange and the ``crypto_deposit`` event naming the sending address; a crypto withdrawal as the
``crypto_withdrawal`` request and, a few minutes later, the transfer from the exchange's hot wallet.
Both events carry ``tx_hash``, so a tracer can start from either. Deposit addresses are swept into
the hot wallet once a day (:meth:`Exchange.sweep`).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from mamori.sim.crypto.chain import Chain
from mamori.sim.crypto.world import CHAIN_OF, MARKET, Label, Plan, Prices, quantise, symbol, text, yen

EXCHANGE = "mamori-ex"


class Exchange:
    """The simulated exchange: its plan of events, the chain around it and the market."""

    def __init__(self, plan: Plan, chain: Chain, prices: Prices) -> None:
        self.plan, self.chain, self.prices = plan, chain, prices
        chain.entity(EXCHANGE, "exchange")
        self._received: list[tuple[float, str, str, Decimal]] = []  # (time, chain, deposit address, amount)

    def deposit_address(self, account: str, chain: str) -> str:
        return self.chain.address(EXCHANGE, chain, f"deposit/{account}")

    def hot_wallet(self, chain: str) -> str:
        return self.chain.address(EXCHANGE, chain, "hot")

    def price(self, asset: str, t: float, rng: random.Random | None) -> float:
        return self.prices.price(asset, self.plan.day_of(t), rng)

    def received(self, t: float, chain: str, address: str, amount: Decimal) -> None:
        self._received.append((t, chain, address, amount))

    def sweep_all(self) -> None:
        """Every night at 03:00 JST, move what deposit addresses received the day before into the hot
        wallet: one sweep per chain (a many-input transaction on Bitcoin)."""
        nights: dict[tuple[int, str], dict[str, Decimal]] = {}
        for t, chain, address, amount in self._received:
            night = nights.setdefault((self.plan.day_of(t - 3 * 3600) + 1, chain), {})
            night[address] = night.get(address, Decimal(0)) + amount
        self._received.clear()
        for (day, chain), sources in sorted(nights.items()):
            self.chain.consolidate(self.plan.day_start(day) + 3 * 3600, chain, sorted(sources.items()),
                                   self.hot_wallet(chain))


@dataclass
class Wallet:
    """An account's balances at the exchange."""

    jpy: float = 0.0
    assets: dict[str, Decimal] = field(default_factory=dict)

    def held(self, asset: str) -> Decimal:
        return self.assets.get(asset, Decimal(0))


@dataclass
class Client:
    """How a session reaches the exchange."""

    ip: str | None
    device: str | None
    ua: str | None
    channel: str


class Session:
    """One actor's session on one account: sign-in factors, then actions, sharing a session id."""

    def __init__(self, ex: Exchange, rng: random.Random, *, account: str, wallet: Wallet, t: float,
                 client: Client, label: Label) -> None:
        self.ex, self.rng = ex, rng
        self.account, self.wallet, self.t = account, wallet, t
        self.client = client
        self.sid = ex.plan.next_id("S")
        self.label = Label(label.typology, label.episode, label.actor, self.sid)

    def wait(self, lo: float, hi: float) -> None:
        self.t += self.rng.uniform(lo, hi)

    def _fields(self) -> dict[str, Any]:
        c = self.client
        return {"ip": c.ip, "user_agent": c.ua, "device_id": c.device, "session_id": self.sid, "channel": c.channel}

    def add(self, kind: str, **fields: Any) -> str:
        return self.ex.plan.add(self.t, kind, self.account, self.label, **self._fields(), **fields)

    def login(self, method: str, result: str = "success", reason: str | None = None) -> str:
        return self.add("login", result=result, method=method, failure_reason=reason if result == "failure" else None)

    def sign_in(self, factors: tuple[str, ...], *, typo: float = 0.03) -> None:
        for i, factor in enumerate(factors):
            if i:
                self.wait(6, 40)
            if factor == "password" and self.rng.random() < typo:
                self.login("password", "failure", "bad_credential")
                self.wait(5, 25)
            self.login(factor)
        self.wait(30, 240)

    def buy(self, asset: str, jpy: float) -> Decimal:
        """A market buy for about ``jpy`` yen (capped by the yen balance); returns the quantity bought."""
        jpy = min(jpy, self.wallet.jpy)
        price = self.ex.price(asset, self.t, self.rng)
        qty = quantise(jpy / price, asset)
        if qty <= 0:
            return Decimal(0)
        self._trade("buy", asset, qty, price)
        return qty

    def sell(self, asset: str, qty: Decimal) -> float:
        qty = quantise(min(qty, self.wallet.held(asset)), asset)
        if qty <= 0:
            return 0.0
        price = self.ex.price(asset, self.t, self.rng)
        self._trade("sell", asset, qty, price)
        return float(qty) * price

    def _trade(self, side: str, asset: str, qty: Decimal, price: float) -> None:
        order_id = self.ex.plan.next_id("o")
        self.add("order", order_id=order_id, side=side, symbol=symbol(asset), market=MARKET, quantity=text(qty),
                 order_type="market", reference_price=str(price))
        self.wait(1, 3)
        self.add("execution", execution_id=self.ex.plan.next_id("x"), order_id=order_id, side=side,
                 symbol=symbol(asset), market=MARKET, quantity=text(qty), price=str(price))
        value = float(qty) * price
        sign = 1 if side == "buy" else -1
        self.wallet.jpy -= sign * value
        self.wallet.assets[asset] = self.wallet.held(asset) + sign * qty
        self.wait(10, 90)

    def withdraw_crypto(self, asset: str, address: str, amount: Decimal | None = None) -> tuple[str, str] | None:
        """Withdraw ``amount`` (default: everything held) to ``address``. Returns (event id, txid)."""
        amount = quantise(self.wallet.held(asset) if amount is None else min(amount, self.wallet.held(asset)), asset)
        if amount <= 0:
            return None
        chain = CHAIN_OF[asset]
        jpy = float(amount) * self.ex.price(asset, self.t, None)
        txid = self.ex.chain.send(self.t + self.rng.uniform(180, 900), chain, self.ex.hot_wallet(chain), address,
                                  amount, asset)
        eid = self.add("crypto_withdrawal", transfer_id=self.ex.plan.next_id("w"), asset=asset, chain=chain,
                       address=address, amount=text(amount), amount_jpy=yen(jpy), tx_hash=txid)
        self.wallet.assets[asset] = self.wallet.held(asset) - amount
        self.wait(20, 120)
        return eid, txid

    def withdraw_fiat(self, jpy: float, bank: str) -> str | None:
        jpy = round(min(jpy, self.wallet.jpy), -3)
        if jpy < 1000:
            return None
        eid = self.add("fiat_withdrawal", transfer_id=self.ex.plan.next_id("w"), amount=yen(jpy),
                       bank_account_fingerprint=bank)
        self.wallet.jpy -= jpy
        self.wait(20, 120)
        return eid

    def setting(self, setting: str, change: str = "updated", fingerprint: str | None = None) -> str:
        eid = self.add("settings_change", setting=setting, change=change, new_value_fingerprint=fingerprint)
        self.wait(20, 120)
        return eid

    def logout(self) -> str:
        return self.add("logout")


def fiat_deposit(ex: Exchange, t: float, account: str, wallet: Wallet, jpy: float, bank: str, label: Label) -> str:
    """Yen arriving from the customer's bank (no client context: the bank sends it)."""
    jpy = round(jpy, -3) or 1000.0
    wallet.jpy += jpy
    return ex.plan.add(t, "fiat_deposit", account, label, transfer_id=ex.plan.next_id("d"), amount=yen(jpy),
                       bank_account_fingerprint=bank)


def crypto_deposit(ex: Exchange, t: float, account: str, wallet: Wallet, asset: str, source: str, amount: Decimal,
                   label: Label, rng: random.Random) -> tuple[str, str]:
    """Crypto sent from ``source`` to the account's deposit address: the transfer, then (after the
    confirmations) the ``crypto_deposit`` event. Returns (event id, txid)."""
    chain = CHAIN_OF[asset]
    amount = quantise(amount, asset)
    dep = ex.deposit_address(account, chain)
    txid = ex.chain.send(t, chain, source, dep, amount, asset)
    ex.received(t, chain, dep, amount)
    t_seen = t + rng.uniform(600, 1800)
    jpy = float(amount) * ex.price(asset, t_seen, None)
    wallet.assets[asset] = wallet.held(asset) + amount
    eid = ex.plan.add(t_seen, "crypto_deposit", account, label, transfer_id=ex.plan.next_id("d"), asset=asset,
                      chain=chain, address=source, amount=text(amount), amount_jpy=yen(jpy), tx_hash=txid)
    return eid, txid
