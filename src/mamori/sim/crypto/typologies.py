"""The labelled money-laundering and fraud typologies (attack side), with their on-chain aftermath.

Names are the shared contract (:data:`mamori.sim.crypto.world.ATTACK_TYPOLOGIES`, mirrored by
:data:`mamori.aml.scenarios.TYPOLOGIES`). Each maps to FSA reference cases for crypto-asset exchange
service providers (:mod:`mamori.aml.reference_cases`) and the FSA 2025 request 5 on crypto transfers:

* ``investment_scam_victim`` / ``romance_scam_victim`` - mostly older first-time buyers who open an
  account, deposit yen on a scammer's instructions, buy and send everything to a collection address
  that several victims of the same ring share; the ring consolidates and cashes out through a mixer
  or an unregistered offshore exchange. Investment scams send few large payments, romance scams more
  and smaller ones over weeks.
* ``online_casino`` - repeated round-amount sends to a casino deposit address, late at night or at the
  weekend, with small "winnings" coming back from the casino's hot wallet.
* ``mule`` - an account receiving crypto from many unrelated addresses (fraud proceeds) and sending it
  on within hours to the herder.
* ``takeover_withdrawal`` - an attacker with a phished password and one-time code signs in from a new
  device on a hosting, VPN or foreign network, changes the email and adds a withdrawal address, and
  withdraws everything (some wait a day to slip past cooling-off rules).
* ``layering`` - crypto in from fresh addresses funded by a darknet market or a hack, converted to
  another asset (chain-hopping inside the exchange) and out to fresh addresses within hours, then
  through peel chains to an offshore exchange.
"""

from __future__ import annotations

import random
from decimal import Decimal

from mamori.sim.crypto.activity import Client, Exchange, Session, Wallet, crypto_deposit, fiat_deposit
from mamori.sim.crypto.landscape import (
    CASINOS,
    DARKNET,
    FRAUD_SOURCES,
    HACK,
    MIXERS,
    MULE_HERDER,
    OFFSHORE,
    Landscape,
)
from mamori.sim.crypto.life import hour_of_day, own_client
from mamori.sim.crypto.population import CryptoCustomer
from mamori.sim.crypto.world import CHAIN_OF, Label, quantise
from mamori.sim.population import ABROAD, HOSTING, UA_PC, VPN_JP, host_in

CASINO_ORDER = (CASINOS[1], CASINOS[0], CASINOS[2])


class Typologies:
    """Writes one labelled episode at a time; ``rng`` is the episode's own generator."""

    def __init__(self, ex: Exchange, land: Landscape, days: int) -> None:
        self.ex, self.land, self.days = ex, land, days
        self.wave_size = 3
        self.gamblers = 0

    # -- scams -------------------------------------------------------------------------------------------
    def scam_victim(self, rng: random.Random, c: CryptoCustomer, wallet: Wallet, label: Label, ring: str,
                    first_day: int) -> None:
        romance = label.typology == "romance_scam_victim"
        victim_no = self.land.ring_victims.get(ring, 0)
        self.land.ring_victims[ring] = victim_no + 1
        wave = victim_no // self.wave_size
        payments = rng.randint(3, 6) if romance else rng.randint(2, 4)
        amount = rng.uniform(50e3, 300e3) if romance else rng.uniform(300e3, 1.5e6)
        asset = rng.choice(("BTC", "ETH", "XRP")) if romance else "BTC"
        chain = CHAIN_OF[asset]
        collector = self.land.collector(ring, chain, wave)
        day = first_day
        client = own_client(rng, c)
        for k in range(payments):
            if day >= self.days:
                break
            t = self.ex.plan.day_start(day) + hour_of_day(rng, (10, 13, 14, 19, 20))
            fiat_deposit(self.ex, t - rng.uniform(600, 5400), c.account, wallet, amount, c.bank, label)
            s = Session(self.ex, rng, account=c.account, wallet=wallet, t=t, client=client, label=label)
            s.sign_in(c.factors, typo=0.15)
            qty = s.buy(asset, wallet.jpy)
            done = s.withdraw_crypto(asset, collector, qty) if qty > 0 else None
            s.logout()
            if done is not None:
                self._cash_out_ring(s.t, ring, chain, collector, qty, k)
            amount *= rng.uniform(1.2, 2.0) if not romance else rng.uniform(0.9, 1.4)
            day += rng.randint(1, 4) if romance else rng.randint(2, 6)

    def _cash_out_ring(self, t: float, ring: str, chain: str, collector: str, amount: Decimal, k: int) -> None:
        rng = self.ex.chain.rng
        consolidation = self.land.chain.address(ring, chain, "consolidation")
        exit_ = (self.land.chain.wallet(MIXERS[0], chain) if rng.random() < 0.5
                 else self.land.exchange_deposit(OFFSHORE, chain, f"{ring}-{k % 3}"))
        self.ex.chain.forward(t + 1800, chain, collector, amount, [consolidation, exit_], delay=(1800, 36000))

    # -- online casino ------------------------------------------------------------------------------------
    def next_casino(self) -> str:
        """Gamblers go to the casinos in turn: per-player deposit addresses, a shared address, unlisted."""
        self.gamblers += 1
        return CASINO_ORDER[(self.gamblers - 1) % len(CASINO_ORDER)]

    def casino(self, rng: random.Random, c: CryptoCustomer, wallet: Wallet, label: Label, first_day: int,
               casino: str) -> None:
        asset = c.assets[0]
        chain = CHAIN_OF[asset]
        unit = {"BTC": Decimal("0.005"), "ETH": Decimal("0.1"), "XRP": Decimal("500")}[asset]
        dest = self.land.casino_deposit(casino, chain, c.account)
        hot = self.land.chain.wallet(casino, chain)
        for day in range(first_day, self.days):
            weekend = self.ex.plan.weekday(day) >= 5
            if day > first_day and rng.random() > (0.75 if weekend else 0.35):  # the episode starts with a send
                continue
            hour = rng.choice((22, 23, 0, 1, 2)) if not weekend or rng.random() < 0.6 else rng.choice((14, 16, 21))
            t = self.ex.plan.day_start(day) + hour * 3600 + rng.uniform(0, 3599) + (86400 if hour < 5 else 0)
            if t >= self.ex.plan.end:  # after midnight on the last day: that evening instead
                t = self.ex.plan.day_start(day) + 22 * 3600 + rng.uniform(0, 3599)
            amount = unit * rng.choice((1, 2, 2, 4, 10))
            price = self.ex.price(asset, t, None)
            need = float(amount) * price * 1.01 - wallet.jpy
            if need > 0:
                fiat_deposit(self.ex, t - rng.uniform(300, 1800), c.account, wallet, need + 1000, c.bank, label)
            s = Session(self.ex, rng, account=c.account, wallet=wallet, t=t, client=own_client(rng, c), label=label)
            s.sign_in(c.factors)
            if wallet.held(asset) < amount:
                s.buy(asset, float(amount - wallet.held(asset)) * price * 1.01)
            done = s.withdraw_crypto(asset, dest, amount)
            s.logout()
            if done is not None and dest != hot:
                self.ex.chain.forward(s.t, chain, dest, amount, [hot], delay=(1800, 7200))
            if done is not None and rng.random() < 0.3:  # "winnings" paid from the hot wallet
                win = quantise(amount * Decimal(str(rng.uniform(0.2, 0.8))), asset)
                crypto_deposit(self.ex, s.t + rng.uniform(3600, 30000), c.account, wallet, asset, hot, win, label, rng)

    # -- mule ---------------------------------------------------------------------------------------------
    def mule(self, rng: random.Random, c: CryptoCustomer, wallet: Wallet, label: Label, first_day: int) -> None:
        asset = rng.choice(("BTC", "ETH"))
        chain = CHAIN_OF[asset]
        herder = self.land.chain.wallet(MULE_HERDER, chain)
        n = rng.randint(10, 22)
        span = min(8, max(1, self.days - first_day)) * 86400
        t0 = self.ex.plan.day_start(first_day)
        arrivals = sorted(t0 + rng.uniform(0, span) for _ in range(n))
        rings = ("scam-invest-2", "scam-invest-3", "scam-romance-2")
        batch = 0
        for i, t in enumerate(arrivals):
            # fraud proceeds: a ring's wallet funds a fresh address, which pays the mule
            source = self.land.fresh(FRAUD_SOURCES, chain, f"{c.account}/{i}")
            jpy = rng.uniform(30e3, 300e3)
            amount = quantise(jpy / self.ex.price(asset, t, None), asset)
            ring_wallet = self.land.chain.address(rng.choice(rings), chain, "consolidation")
            self.ex.chain.send(t - rng.uniform(3600, 20000), chain, ring_wallet, source, amount + amount / 50)
            crypto_deposit(self.ex, t, c.account, wallet, asset, source, amount, label, rng)
            batch += 1
            if batch >= rng.randint(2, 4) or i == n - 1:
                batch = 0
                s = Session(self.ex, rng, account=c.account, wallet=wallet, t=t + rng.uniform(2400, 14400),
                            client=own_client(rng, c), label=label)
                s.sign_in(c.factors)
                held = wallet.held(asset)
                if rng.random() < 0.75:
                    if s.withdraw_crypto(asset, herder, held) is not None:
                        self.ex.chain.forward(s.t, chain, herder, held,
                                              [self.land.exchange_deposit(OFFSHORE, chain, "mule-herder")])
                else:
                    s.sell(asset, held)
                    s.withdraw_fiat(wallet.jpy, c.bank)
                s.logout()

    # -- takeover -------------------------------------------------------------------------------------------
    def takeover(self, rng: random.Random, c: CryptoCustomer, wallet: Wallet, label: Label, day: int) -> None:
        t = self.ex.plan.day_start(day) + rng.uniform(1, 23) * 3600
        r = rng.random()
        if r < 0.4:
            ip = host_in(rng, rng.choice(rng.choice(list(HOSTING.values()))))
        elif r < 0.7:
            ip = host_in(rng, rng.choice(VPN_JP))
        else:
            ip = host_in(rng, rng.choice(rng.choice(ABROAD)[2]))
        client = Client(ip, f"atk-{rng.getrandbits(48):012x}", UA_PC[0], "web")
        s = Session(self.ex, rng, account=c.account, wallet=wallet, t=t, client=client, label=label)
        s.sign_in(c.factors, typo=0.0)
        attacker = f"attacker-{c.account}"
        self.ex.chain.entity(attacker, "stolen_funds")
        s.setting("email", fingerprint=f"fp-{rng.getrandbits(40):x}")
        patient = rng.random() < 0.3
        s.setting("withdrawal_account", "added", fingerprint=f"fp-{rng.getrandbits(40):x}")
        if patient:  # come back after the cooling-off period
            s.logout()
            s = Session(self.ex, rng, account=c.account, wallet=wallet, t=s.t + rng.uniform(26, 40) * 3600,
                        client=client, label=label)
            s.sign_in(c.factors, typo=0.0)
        if wallet.jpy > 10000:
            s.buy("BTC", wallet.jpy * 0.98)
        for asset in sorted(wallet.assets):
            if wallet.held(asset) <= 0:
                continue
            chain = CHAIN_OF[asset]
            dest = self.land.chain.address(attacker, chain, "receive")
            held = wallet.held(asset)
            if s.withdraw_crypto(asset, dest, held) is not None:
                hop = self.land.chain.address(attacker, chain, "hop1")
                self.ex.chain.forward(s.t, chain, dest, held, [hop, self.land.chain.wallet(MIXERS[0], chain)])
        s.logout()

    # -- layering -------------------------------------------------------------------------------------------
    def layering(self, rng: random.Random, c: CryptoCustomer, wallet: Wallet, label: Label, first_day: int) -> None:
        launderer = f"launderer-{c.account}"
        self.ex.chain.entity(launderer, "other")
        day = first_day
        for k in range(rng.randint(3, 5)):
            if day >= self.days:
                break
            src_asset, dst_asset = rng.choice((("BTC", "ETH"), ("ETH", "BTC"), ("BTC", "XRP"), ("ETH", "XRP")))
            in_chain, out_chain = CHAIN_OF[src_asset], CHAIN_OF[dst_asset]
            t = self.ex.plan.day_start(day) + rng.uniform(0, 23) * 3600
            jpy = rng.uniform(1e6, 5e6)
            amount = quantise(jpy / self.ex.price(src_asset, t, None), src_asset)
            origin = self.land.chain.wallet(rng.choice((DARKNET, HACK)), in_chain)
            hop = self.land.fresh(launderer, in_chain, f"in{k}a")
            source = self.land.fresh(launderer, in_chain, f"in{k}b")
            self.ex.chain.send(t - 7200, in_chain, origin, hop, amount * 2)
            self.ex.chain.send(t - 3600, in_chain, hop, source, amount)
            crypto_deposit(self.ex, t, c.account, wallet, src_asset, source, amount, label, rng)
            s = Session(self.ex, rng, account=c.account, wallet=wallet, t=t + rng.uniform(2400, 9000),
                        client=own_client(rng, c), label=label)
            s.sign_in(c.factors)
            s.sell(src_asset, wallet.held(src_asset))
            qty = s.buy(dst_asset, wallet.jpy * 0.995)
            out = self.land.fresh(launderer, out_chain, f"out{k}")
            if qty > 0 and s.withdraw_crypto(dst_asset, out, qty) is not None:
                peels = [self.land.exchange_deposit(OFFSHORE, out_chain, f"{launderer}-{i}") for i in range(3)]
                t_end, last, left = self.ex.chain.peel(s.t + 1800, out_chain, out, qty, launderer, rng.randint(3, 6),
                                                       peels, f"L{k}")
                self.ex.chain.forward(t_end, out_chain, last, left, [peels[0]])
            s.logout()
            day += rng.randint(1, 3)

