"""The crypto exchange's customers: who they are, how they sign in, what they hold and move.

Networks, carriers and browsers come from :mod:`mamori.sim.population` (prefixes chosen for what the
IP database shipped with mamori says about them). Each customer draws an age band (the FSA's
reference cases single out elderly first-time buyers sending everything to a scammer), experience,
typical yen amounts, the assets they like, their own self-custody wallets and their accounts at
other exchanges (the usual destinations of their withdrawals).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field

from mamori.sim.population import CARRIER_SHARE, HOME_ISPS, UA_PC, carrier_ip, hex_id, host_in, weighted

UA_APP = ("CoinApp/4.8 (iPhone; iOS 18.2)", "CoinApp/4.8 (iPhone; iOS 17.6)", "CoinApp/4.8 (Android 15; Pixel 8)",
          "CoinApp/4.8 (Android 14; SO-51D)", "CoinApp/4.8 (Android 14; SC-52D)")
AGE_BANDS = (("20s", 0.24), ("30s", 0.27), ("40s", 0.22), ("50s", 0.15), ("60s", 0.08), ("70+", 0.04))
AUTH_PROFILES = (("totp", 0.45), ("sms_otp", 0.30), ("passkey", 0.20), ("email_otp", 0.05))
OTHER_EXCHANGES = ("exchange-jp-1", "exchange-jp-2", "exchange-global-1")
TENURE = {"new": (40, 365), "some": (180, 1500), "experienced": (365, 3000)}
SLOTS = (7, 8, 12, 13, 19, 20, 21, 22, 23)


@dataclass
class CryptoCustomer:
    index: int
    account: str
    age_band: str
    experience: str                 # new | some | experienced
    auth: str                       # second factor: totp | sms_otp | passkey | email_otp
    home_ip: str
    carrier: str
    pc_device: str | None
    phone_device: str
    pc_ua: str
    phone_ua: str
    phone_share: float
    sessions_per_day: float
    slots: tuple[int, ...]
    assets: tuple[str, ...]         # what they buy, favourite first
    deposit_jpy: float              # a typical fiat deposit
    bank: str                       # fingerprint of the registered bank account
    self_custody: bool              # keeps a wallet of their own
    other_exchange: str | None      # holds an account at this other exchange too
    tenure_days: int                # the account was opened this many days before the simulation starts
    tags: list[str] = field(default_factory=list)

    @property
    def factors(self) -> tuple[str, ...]:
        return ("passkey",) if self.auth == "passkey" else ("password", self.auth)


def draw_customer(rng: random.Random, index: int, prefix: str = "") -> CryptoCustomer:
    account = f"{prefix}x{index:06d}"
    isp = rng.choice(sorted(HOME_ISPS))
    carrier = weighted(rng, list(CARRIER_SHARE.items()))
    has_pc = rng.random() < 0.45
    age = weighted(rng, AGE_BANDS)
    experience = weighted(rng, (("new", 0.25), ("some", 0.45), ("experienced", 0.30)))
    kind = rng.random()
    if kind < 0.10:
        per_day = rng.uniform(1.0, 2.5)
    elif kind < 0.55:
        per_day = rng.uniform(0.2, 0.8)
    else:
        per_day = rng.uniform(0.03, 0.15)
    assets = tuple(rng.sample(("BTC", "BTC", "ETH", "XRP"), 2)) if rng.random() < 0.6 else ("BTC",)
    assets = tuple(dict.fromkeys(assets))
    deposit = min(3e6, max(10e3, round(rng.lognormvariate(math.log(80e3), 0.9), -3)))
    return CryptoCustomer(
        index=index, account=account, age_band=age, experience=experience, auth=weighted(rng, AUTH_PROFILES),
        home_ip=host_in(rng, rng.choice(HOME_ISPS[isp])), carrier=carrier,
        pc_device=f"{account}-pc-{hex_id(rng, 32)}" if has_pc else None,
        phone_device=f"{account}-ph-{hex_id(rng, 32)}", pc_ua=rng.choice(UA_PC), phone_ua=rng.choice(UA_APP),
        phone_share=rng.uniform(0.5, 0.95) if has_pc else 1.0, sessions_per_day=per_day,
        slots=tuple(rng.sample(SLOTS, 2)), assets=assets, deposit_jpy=deposit, bank=f"bank-{hex_id(rng)}",
        self_custody=experience != "new" and rng.random() < 0.35,
        other_exchange=rng.choice(OTHER_EXCHANGES) if experience != "new" and rng.random() < 0.3 else None,
        tenure_days=rng.randint(*TENURE[experience]))


def phone_ip(rng: random.Random, customer: CryptoCustomer) -> str:
    """A phone session: home Wi-Fi most of the time, otherwise the carrier's CGNAT pool."""
    return customer.home_ip if rng.random() < 0.55 else carrier_ip(rng, customer.carrier)
