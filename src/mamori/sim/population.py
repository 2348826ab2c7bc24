"""The simulated firm's customers, the networks they (and attackers) come from, and the market.

Everything is drawn from a seeded ``random.Random``: a seed always gives the same population.

Networks are chosen for what the IP database shipped with mamori (:mod:`mamori.adapters.geo`) says
about them, so that the engine sees the network class the scenario intends:

* home broadband: NTT OCN, SoftBank BB, KDDI, IIJ, OPTAGE, So-net prefixes (class ``residential``);
* phones on the carrier network: NTT docomo and Rakuten Mobile prefixes (class ``mobile``), KDDI au
  and SoftBank mobile prefixes (``residential`` in the shipped data: those operators carry mobile
  and fixed lines in one AS). Carrier addresses come from a CGNAT pool and change every session.
  (``1.66.x`` is *not* used: the shipped data places it at HKT Limited, class residential.);
* attacker infrastructure: AWS Tokyo, Google Cloud, Vultr, DigitalOcean (``hosting``; the last three
  geolocate in several countries),
  Datacamp/CDN77 ranges geolocated in Japan that commercial VPN brands rent (``vpn``), and rented
  Japanese residential proxies (``residential``: indistinguishable by class from a customer's ISP);
* benign oddities: hotel and home networks abroad, foreign mobile carriers, iCloud Private Relay
  egress in Japan (Cloudflare, class ``hosting``).
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone

JST = timezone(timedelta(hours=9))
SIM_EPOCH = datetime(2026, 3, 2, tzinfo=JST)  # a Monday, 00:00 JST

# --- networks (first two or three octets; hosts are drawn below them) ------------------------------
HOME_ISPS: dict[str, tuple[str, ...]] = {
    "ntt-ocn": ("153.156", "153.220", "180.12", "114.165", "118.8", "122.26"),
    "softbank-bb": ("60.114", "126.15", "126.25", "114.48"),
    "kddi-au-hikari": ("106.133", "27.81", "111.239"),
    "iij": ("210.138", "210.130"),
    "optage": ("61.205",),
    "so-net": ("219.104",),
}
CARRIERS: dict[str, tuple[str, ...]] = {
    "docomo": ("1.72", "1.75", "1.79", "49.96", "49.98", "110.163"),   # class mobile
    "au": ("106.128", "182.251"),                                      # class residential (KDDI)
    "softbank": ("126.200", "126.254"),                                # class residential (SoftBank)
    "rakuten": ("133.106", "157.192"),                                 # class mobile
}
CARRIER_SHARE = {"docomo": 0.38, "au": 0.28, "softbank": 0.24, "rakuten": 0.10}
HOSTING: dict[str, tuple[str, ...]] = {
    "aws-tokyo": ("3.112", "13.230", "52.68"),
    "gcp": ("35.200",),
    "vultr": ("45.76",),
    "digitalocean": ("159.89",),
}
VPN_JP: tuple[str, ...] = ("89.187.160", "89.187.161", "143.244.40", "156.146.35", "212.102.51",
                           "138.199.21", "37.19.205")  # Datacamp (CDN77) ranges in Japan: class vpn
# iCloud Private Relay egress (Cloudflare) that the shipped data geolocates in Japan. Many neighbouring
# relay addresses geolocate abroad in that data, which would add foreign-country signals on top.
PRIVATE_RELAY_JP: tuple[str, ...] = (
    "104.28.149.11", "104.28.149.12", "104.28.149.34", "104.28.149.47", "104.28.149.54", "104.28.157.10",
    "104.28.157.15", "104.28.157.6", "104.28.157.9", "104.28.44.18", "104.28.44.227", "104.28.44.35",
    "104.28.44.5", "104.28.44.61", "104.28.44.62", "104.28.44.68")
# Destinations abroad: (name, JST offset of local time in hours, Wi-Fi prefixes, local mobile prefixes)
ABROAD: tuple[tuple[str, int, tuple[str, ...], tuple[str, ...]], ...] = (
    ("us", -17, ("24.1", "73.1"), ("172.58",)),
    ("kr", 0, ("211.234", "121.134"), ("211.234",)),
    ("tw", -1, ("1.160",), ("1.160",)),
    ("th", -2, ("1.46",), ("1.46",)),
    ("gb", -9, ("86.1",), ("86.1",)),
    ("vn", -2, ("58.186",), ("58.186",)),
)

UA_PC = ("Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/132.0 "
         "Safari/537.36",
         "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.1 "
         "Safari/605.1.15",
         "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:133.0) Gecko/20100101 Firefox/133.0")
UA_APP = ("BrokerApp/6.2 (iPhone; iOS 18.2)", "BrokerApp/6.2 (iPhone; iOS 17.6)",
          "BrokerApp/6.2 (Android 15; Pixel 8)", "BrokerApp/6.2 (Android 14; SO-51D)",
          "BrokerApp/6.2 (Android 14; SC-52D)")
UA_ATTACKER = UA_PC[0]
UA_HEADLESS = ("Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0 "
               "Safari/537.36")
UA_BOTS = ("python-requests/2.32.3", "Go-http-client/1.1", UA_HEADLESS, UA_PC[0], UA_PC[2])

# --- the market ------------------------------------------------------------------------------------
# Liquid large caps and ETFs (indicative prices, yen), and thinly traded small caps (fictional prices).
LARGE_CAPS: dict[str, int] = {
    "7203": 2800, "6758": 3300, "9984": 9000, "8306": 1900, "9432": 150, "4063": 5500, "8035": 25000,
    "6098": 9000, "4502": 4300, "7974": 10000, "8058": 2700, "6367": 18000, "2914": 4200, "8316": 3800,
    "4568": 3500, "6501": 3900, "7267": 1500, "3382": 2300, "6861": 65000, "9983": 48000,
    "1306": 2900, "1321": 40000, "9433": 4500, "8001": 7500,
}
THIN_SYMBOLS: dict[str, int] = {"3777": 120, "2338": 420, "6573": 980, "9425": 310, "3825": 660,
                                "2191": 240, "6659": 1450, "3350": 75}
MARKET = "TSE"


class Market:
    """Daily closing prices as a seeded random walk; intraday prices wobble around them."""

    def __init__(self, rng: random.Random, days: int) -> None:
        self.days = days
        self.close: dict[str, list[float]] = {}
        for symbol, base in {**LARGE_CAPS, **THIN_SYMBOLS}.items():
            vol = 0.035 if symbol in THIN_SYMBOLS else 0.015
            path = [float(base)]
            for _ in range(days + 2):
                path.append(path[-1] * math.exp(rng.gauss(0.0, vol)))
            self.close[symbol] = path

    def price(self, symbol: str, day: int, rng: random.Random | None = None) -> float:
        p = self.close[symbol][max(0, min(day, self.days + 1))]
        if rng is not None:
            p *= 1.0 + rng.uniform(-0.006, 0.006)
        return tick(p)


def tick(price: float) -> float:
    """Round to a plausible TSE tick (1 yen; 0.1 below 1,000 yen; 10 yen above 30,000)."""
    if price < 1000:
        return round(price, 1)
    if price >= 30000:
        return float(round(price / 10) * 10)
    return float(round(price))


def lots(value_jpy: float, price: float) -> int:
    """Shares for about ``value_jpy``: round lots of 100, or odd lots (単元未満株) for small values."""
    qty = max(1, round(value_jpy / price))
    return max(100, round(qty / 100) * 100) if qty >= 100 else qty


def money(x: float) -> str:
    """Exact decimal text for the wire format (integer yen, or up to one decimal place)."""
    r = round(x, 1)
    return str(int(r)) if r == int(r) else f"{r:.1f}"


# --- addresses -------------------------------------------------------------------------------------
def host_in(rng: random.Random, prefix: str) -> str:
    parts = prefix.split(".")
    while len(parts) < 3:
        parts.append(str(rng.randrange(256)))
    return ".".join(parts) + f".{rng.randrange(2, 254)}"


def carrier_ip(rng: random.Random, carrier: str) -> str:
    return host_in(rng, rng.choice(CARRIERS[carrier]))


def hex_id(rng: random.Random, bits: int = 48) -> str:
    return f"{rng.getrandbits(bits):0{bits // 4}x}"


# --- customers -------------------------------------------------------------------------------------
AUTH_PROFILES = (("passkey", 0.35), ("sms_otp", 0.45), ("totp", 0.15), ("password", 0.05))
SLOTS_RETAIL = (7, 8, 12, 19, 20, 21, 22, 23)
SLOTS_ACTIVE = (8, 9, 10, 11, 12, 13, 14, 20, 21)


def weighted(rng: random.Random, pairs: tuple[tuple[str, float], ...] | list[tuple[str, float]]) -> str:
    x = rng.random() * sum(w for _, w in pairs)
    for name, w in pairs:
        x -= w
        if x < 0:
            return name
    return pairs[-1][0]


@dataclass
class Customer:
    index: int
    account: str
    auth: str                      # passkey | sms_otp | totp | password (no second factor)
    isp: str
    home_ip: str
    carrier: str
    pc_device: str | None
    phone_device: str
    pc_ua: str
    phone_ua: str
    phone_share: float             # share of sessions on the phone (when both exist)
    logins_per_day: float
    slots: tuple[int, ...]         # usual login hours (JST)
    trade_prob: float              # chance that a session places orders
    usual_symbols: tuple[str, ...]
    usual_order_jpy: float
    holdings: dict[str, int]       # symbol -> shares, at the start
    cash_jpy: float
    bank: str                      # fingerprint of the registered withdrawal account
    email_fp: str
    phone_fp: str
    tags: list[str] = field(default_factory=list)

    @property
    def factors(self) -> tuple[str, ...]:
        """The login factors the customer normally presents, in order."""
        return {"passkey": ("passkey",), "sms_otp": ("password", "sms_otp"), "totp": ("password", "totp"),
                "password": ("password",)}[self.auth]


def draw_customer(rng: random.Random, index: int, market: Market, prefix: str) -> Customer:
    isp = rng.choice(sorted(HOME_ISPS))
    carrier = weighted(rng, list(CARRIER_SHARE.items()))
    has_pc = rng.random() < 0.65
    account = f"{prefix}c{index:06d}"
    kind = rng.random()
    if kind < 0.15:      # active trader
        per_day, slots, trade = rng.uniform(2.0, 4.0), tuple(rng.sample(SLOTS_ACTIVE, 3)), rng.uniform(0.45, 0.75)
    elif kind < 0.70:    # regular
        per_day, slots, trade = rng.uniform(0.4, 1.4), tuple(rng.sample(SLOTS_RETAIL, 2)), rng.uniform(0.2, 0.45)
    else:                # occasional (logs in every week or two)
        per_day, slots, trade = rng.uniform(0.06, 0.3), tuple(rng.sample(SLOTS_RETAIL, 1)), rng.uniform(0.25, 0.5)
    total = min(400e6, max(50e3, rng.lognormvariate(math.log(2.5e6), 1.1)))
    usual = tuple(rng.sample(sorted(LARGE_CAPS), rng.randint(3, 5)))
    k = rng.randint(1, min(6, len(usual) + 2))
    held = list(usual[:k]) if k <= len(usual) else [*usual, *rng.sample(sorted(set(LARGE_CAPS) - set(usual)),
                                                                      k - len(usual))]
    if rng.random() < 0.05:
        held.append(rng.choice(sorted(THIN_SYMBOLS)))  # a few retail speculators hold a small cap
    weights = [rng.random() + 0.2 for _ in held]
    holdings: dict[str, int] = {}
    for symbol, w in zip(held, weights, strict=True):
        qty = lots(total * w / sum(weights), market.price(symbol, 0))
        holdings[symbol] = holdings.get(symbol, 0) + qty
    return Customer(
        index=index, account=account, auth=weighted(rng, AUTH_PROFILES), isp=isp,
        home_ip=host_in(rng, rng.choice(HOME_ISPS[isp])), carrier=carrier,
        pc_device=f"{account}-pc-{hex_id(rng, 32)}" if has_pc else None,
        phone_device=f"{account}-ph-{hex_id(rng, 32)}", pc_ua=rng.choice(UA_PC), phone_ua=rng.choice(UA_APP),
        phone_share=rng.uniform(0.4, 0.9) if has_pc else 1.0, logins_per_day=per_day, slots=slots,
        trade_prob=trade, usual_symbols=usual,
        usual_order_jpy=min(20e6, max(30e3, total * rng.uniform(0.03, 0.15))),
        holdings=holdings, cash_jpy=round(total * rng.uniform(0.05, 0.5), -3),
        bank=f"bank-{hex_id(rng)}", email_fp=f"mail-{hex_id(rng)}", phone_fp=f"tel-{hex_id(rng)}")


def draw_population(rng: random.Random, n: int, market: Market, prefix: str = "") -> list[Customer]:
    return [draw_customer(rng, i, market, prefix) for i in range(n)]
