"""Customers' own behaviour, and the benign look-alikes that resemble the typologies.

Normal behaviour: sign-ins on the usual phone or PC from home or the carrier network, yen deposits
from the registered bank account, market buys and sells, withdrawals to the customer's own wallet or
their account at another exchange (and deposits back from them), yen withdrawals, the occasional
settings change.

Benign look-alikes (every event of a look-alike customer carries the look-alike's label):

* ``benign_active_trader`` - several sessions a day, frequent yen in and out, crypto moved between the
  exchange, their own wallets (a fresh receive address now and then) and another exchange;
* ``benign_own_wallet`` - deposits yen, buys and moves everything to their own cold wallet within the
  hour (a new destination right after a deposit, like a scam victim, but to nobody else's address);
* ``benign_payday_buyer`` - every two weeks: yen deposit, buy, withdraw to the same own wallet;
* ``benign_exchange_rebalance`` - large transfers (above the large-withdrawal line) to and from their
  own account at another, registered exchange.
"""

from __future__ import annotations

import random
from decimal import Decimal

from mamori.sim.crypto.activity import Client, Exchange, Session, Wallet, crypto_deposit, fiat_deposit
from mamori.sim.crypto.landscape import Landscape
from mamori.sim.crypto.population import OTHER_EXCHANGES, CryptoCustomer, phone_ip
from mamori.sim.crypto.world import CHAIN_OF, NORMAL, Label, quantise
from mamori.sim.scenarios import poisson


def hour_of_day(rng: random.Random, slots: tuple[int, ...]) -> float:
    r = rng.random()
    h = rng.choice(slots) if r < 0.85 else (rng.randint(7, 23) if r < 0.98 else rng.randint(0, 5))
    return (h % 24) * 3600 + rng.uniform(0, 3599)


def own_client(rng: random.Random, c: CryptoCustomer) -> Client:
    if c.pc_device is not None and rng.random() > c.phone_share:
        return Client(c.home_ip, c.pc_device, c.pc_ua, "web")
    return Client(phone_ip(rng, c), c.phone_device, c.phone_ua, "app")


def opening_wallet(rng: random.Random, ex: Exchange, c: CryptoCustomer) -> Wallet:
    """What an existing customer holds when the simulation starts."""
    wallet = Wallet(jpy=round(c.deposit_jpy * rng.uniform(0.2, 2.0), -3))
    for asset in c.assets:
        jpy = c.deposit_jpy * rng.uniform(0.5, 4.0)
        wallet.assets[asset] = quantise(jpy / ex.prices.price(asset, 0), asset)
    return wallet


class CustomerLife:
    """Writes one customer's own sessions, day by day."""

    def __init__(self, ex: Exchange, land: Landscape, c: CryptoCustomer, rng: random.Random, wallet: Wallet,
                 label: Label = NORMAL, first_day: int = 0) -> None:
        self.ex, self.land, self.c, self.rng, self.wallet = ex, land, c, rng, wallet
        self.label = label
        self.first_day = first_day
        self.typology = label.typology
        self.own_wallets: dict[str, str] = {}
        self.payday = rng.randrange(0, 7)

    # -- the customer's own addresses ------------------------------------------------------------------
    def own_wallet(self, chain: str, fresh: bool = False) -> str:
        entity = f"self-{self.c.account}"
        self.ex.chain.entity(entity, "self_custody")
        if fresh:
            return self.ex.chain.address(entity, chain, f"receive/{self.ex.plan.next_id('a')}")
        if chain not in self.own_wallets:
            self.own_wallets[chain] = self.ex.chain.address(entity, chain, "cold")
        return self.own_wallets[chain]

    def other_exchange_address(self, chain: str) -> str:
        return self.land.exchange_deposit(self.c.other_exchange or OTHER_EXCHANGES[0], chain, self.c.account)

    # -- days ------------------------------------------------------------------------------------------
    def run(self, days: int) -> None:
        rate = self.c.sessions_per_day
        if self.typology == "benign_active_trader":
            rate = max(rate, 2.5)
        for day in range(self.first_day, days):
            start = self.ex.plan.day_start(day)
            for _ in range(poisson(self.rng, rate)):
                self.session(start + hour_of_day(self.rng, self.c.slots), day)
            self.inbound(start, day)
            self.lookalike_day(start, day)

    def session(self, t: float, day: int) -> None:
        s = Session(self.ex, self.rng, account=self.c.account, wallet=self.wallet, t=t,
                    client=own_client(self.rng, self.c), label=self.label)
        s.sign_in(self.c.factors)
        active = self.typology == "benign_active_trader"
        r = self.rng.random
        if r() < (0.5 if active else 0.25):
            fiat_deposit(self.ex, s.t - self.rng.uniform(60, 900), self.c.account, self.wallet,
                         self.c.deposit_jpy * self.rng.uniform(0.5, 1.5), self.c.bank, s.label)
        if r() < (0.8 if active else 0.45) and self.wallet.jpy > 5000:
            s.buy(self.rng.choice(self.c.assets), min(self.wallet.jpy, self.c.deposit_jpy * self.rng.uniform(0.3, 1.2)))
        if r() < (0.6 if active else 0.18):
            held = [a for a in sorted(self.wallet.assets) if self.wallet.held(a) > 0]
            if held:
                asset = self.rng.choice(held)
                s.sell(asset, self.wallet.held(asset) * Decimal(str(round(self.rng.uniform(0.2, 1.0), 2))))
        if self.c.self_custody and r() < (0.15 if active else 0.04):
            asset = self.rng.choice(self.c.assets)
            dest = self.own_wallet(CHAIN_OF[asset], fresh=active and r() < 0.5)
            s.withdraw_crypto(asset, dest, self.wallet.held(asset) * Decimal("0.5"))
        if self.c.other_exchange is not None and r() < (0.1 if active else 0.03):
            asset = self.rng.choice(self.c.assets)
            s.withdraw_crypto(asset, self.other_exchange_address(CHAIN_OF[asset]),
                              self.wallet.held(asset) * Decimal("0.6"))
        if self.wallet.jpy > 20000 and r() < (0.25 if active else 0.06):
            s.withdraw_fiat(self.wallet.jpy * self.rng.uniform(0.3, 0.9), self.c.bank)
        if r() < 0.004:
            s.setting(self.rng.choice(("email", "phone", "password")), fingerprint=f"fp-{self.rng.getrandbits(40):x}")
        if r() < 0.6:
            s.logout()

    def inbound(self, start: float, day: int) -> None:
        """Crypto arriving from the customer's own wallet or other exchange (no session needed)."""
        active = self.typology == "benign_active_trader"
        p = (0.25 if active else 0.03)
        if (self.c.self_custody or self.c.other_exchange) and self.rng.random() < p:
            asset = self.rng.choice(self.c.assets)
            chain = CHAIN_OF[asset]
            if self.c.other_exchange is not None and (not self.c.self_custody or self.rng.random() < 0.5):
                source = self.ex.chain.wallet(self.c.other_exchange, chain)
            else:
                source = self.own_wallet(chain, fresh=active and self.rng.random() < 0.5)
            jpy = self.c.deposit_jpy * self.rng.uniform(0.3, 1.5)
            amount = quantise(jpy / self.ex.prices.price(asset, day), asset)
            if amount > 0:
                crypto_deposit(self.ex, start + self.rng.uniform(8, 22) * 3600, self.c.account, self.wallet, asset,
                               source, amount, self.label, self.rng)

    # -- benign look-alikes ----------------------------------------------------------------------------
    def lookalike_day(self, start: float, day: int) -> None:
        if self.typology == "benign_own_wallet" and day in self._own_wallet_days:
            self.deposit_buy_withdraw(start, self.c.deposit_jpy * self.rng.uniform(3, 10))
        elif self.typology == "benign_payday_buyer" and day % 14 == self.payday:
            self.deposit_buy_withdraw(start, self.c.deposit_jpy)
        elif self.typology == "benign_exchange_rebalance" and day % 6 == self.payday % 6:
            self.rebalance(start)

    @property
    def _own_wallet_days(self) -> tuple[int, ...]:
        return (self.payday + 3, self.payday + 17)

    def deposit_buy_withdraw(self, start: float, jpy: float) -> None:
        t = start + hour_of_day(self.rng, self.c.slots)
        fiat_deposit(self.ex, t - self.rng.uniform(300, 3600), self.c.account, self.wallet, jpy, self.c.bank,
                     self.label)
        s = Session(self.ex, self.rng, account=self.c.account, wallet=self.wallet, t=t,
                    client=own_client(self.rng, self.c), label=self.label)
        s.sign_in(self.c.factors)
        asset = self.c.assets[0]
        qty = s.buy(asset, jpy)
        if qty > 0:
            s.withdraw_crypto(asset, self.own_wallet(CHAIN_OF[asset]), qty)
        s.logout()

    def rebalance(self, start: float) -> None:
        """Five to fifteen million yen worth moved to the customer's account at another exchange, or back."""
        asset = "BTC" if "BTC" in self.c.assets else self.c.assets[0]
        chain = CHAIN_OF[asset]
        price = self.ex.prices.price(asset, self.ex.plan.day_of(start))
        amount = quantise(self.rng.uniform(5e6, 15e6) / price, asset)
        if self.rng.random() < 0.5 or self.wallet.held(asset) < amount:
            source = self.ex.chain.wallet(self.c.other_exchange or "exchange-jp-1", chain)
            crypto_deposit(self.ex, start + self.rng.uniform(9, 18) * 3600, self.c.account, self.wallet, asset,
                           source, amount, self.label, self.rng)
            return
        s = Session(self.ex, self.rng, account=self.c.account, wallet=self.wallet,
                    t=start + hour_of_day(self.rng, self.c.slots), client=own_client(self.rng, self.c),
                    label=self.label)
        s.sign_in(self.c.factors)
        s.withdraw_crypto(asset, self.other_exchange_address(chain), amount)
        s.logout()


