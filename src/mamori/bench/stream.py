"""A realistic, deterministic event stream for the benchmarks (not the attack simulator).

Customers of a Japanese online broker log in from home (consumer-ISP networks in Japan) and from
their phones, trade a handful of symbols, cancel some orders, get fills, move money; a small share of
traffic is hostile (credential stuffing from cloud networks, a takeover with new-device login,
sell-out and a withdrawal). About 2% of events arrive out of order (up to 5 minutes late).
Everything is drawn from ``random.Random(seed)``, so a seed always gives the same stream.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

# Prefixes whose addresses the shipped IP database places at Japanese consumer ISPs or carriers
# (NTT OCN, KDDI, SoftBank BB, NTT docomo, So-net, BIGLOBE) and at cloud providers.
HOME_PREFIXES = ["153.156", "153.220", "180.12", "60.114", "126.15", "126.25", "114.165", "118.8",
                 "220.100", "61.205", "1.72", "49.96", "122.26", "219.104"]
MOBILE_PREFIXES = ["1.66", "1.75", "110.163", "106.128", "106.133"]
CLOUD_PREFIXES = ["3.112", "13.230", "35.200", "52.68", "159.89", "45.76", "139.162"]
SYMBOLS = ["7203", "6758", "9984", "8306", "6861", "9432", "4063", "8035", "6098", "9983", "4502",
           "7974", "8058", "6367", "2914", "8316", "4568", "6501", "7267", "3382"]
THIN_SYMBOLS = ["3777", "2338", "6573", "9425", "3825"]
UA_DESKTOP = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/131.0 Safari/537.36"
UA_APP = "BrokerApp/5.12 (iPhone; iOS 18.1)"


class _Customer:
    __slots__ = ("account", "device", "home_ip", "hour", "mobile_device", "mobile_ip", "symbols")

    def __init__(self, rng: random.Random, index: int) -> None:
        self.account = f"acct-{index:07d}"
        self.device = f"dev-{index:07d}-pc"
        self.mobile_device = f"dev-{index:07d}-ph"
        self.home_ip = f"{rng.choice(HOME_PREFIXES)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        self.mobile_ip = f"{rng.choice(MOBILE_PREFIXES)}.{rng.randrange(256)}.{rng.randrange(1, 255)}"
        self.symbols = rng.sample(SYMBOLS, 4)
        self.hour = rng.choice([7, 8, 12, 19, 20, 21, 22])


def history(*, seed: int = 7, customers: int = 20_000, start: datetime | None = None) -> Iterator[dict[str, Any]]:
    """What a firm imports before going live: each customer's holdings and one earlier login from
    each of their devices, a day before the stream starts (so that the stream is not a cold start
    in which every device and every symbol is new)."""
    rng = random.Random(seed)
    people = [_Customer(rng, i) for i in range(customers)]
    t = (start or datetime(2026, 3, 2, 0, 0, tzinfo=UTC)) - timedelta(days=1)
    for c in people:
        yield {"id": f"hist-{seed}-{c.account}-h", "type": "holdings_snapshot", "account_id": c.account,
               "occurred_at": t.isoformat(),
               "positions": [{"symbol": s, "quantity": str(rng.choice([100, 200, 500, 1000])),
                              "market_value_jpy": str(rng.randrange(100, 5000) * 1000)} for s in c.symbols]}
        for device, ip, ua in ((c.device, c.home_ip, UA_DESKTOP), (c.mobile_device, c.mobile_ip, UA_APP)):
            yield {"id": f"hist-{seed}-{device}", "type": "login", "account_id": c.account,
                   "occurred_at": t.isoformat(), "ip": ip, "device_id": device, "user_agent": ua,
                   "result": "success", "method": "passkey"}


def generate(n_events: int, *, seed: int = 7, customers: int = 20_000,
             start: datetime | None = None, id_prefix: str | None = None) -> Iterator[dict[str, Any]]:
    """Yield ``n_events`` event dicts (the wire format) in roughly time order."""
    rng = random.Random(seed)
    people = [_Customer(rng, i) for i in range(customers)]
    t = start or datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
    step = 86400.0 / max(n_events, 1) * 3  # the stream spans about three days
    late: list[dict[str, Any]] = []
    seq = 0
    prefix = id_prefix or f"ev-{seed}"

    def base(c: _Customer, kind: str, mobile: bool) -> dict[str, Any]:
        nonlocal seq
        seq += 1
        return {"id": f"{prefix}-{seq}", "type": kind, "occurred_at": t.isoformat(), "account_id": c.account,
                "ip": c.mobile_ip if mobile else c.home_ip,
                "device_id": c.mobile_device if mobile else c.device,
                "user_agent": UA_APP if mobile else UA_DESKTOP}

    produced = 0
    while produced < n_events:
        t += timedelta(seconds=rng.expovariate(1.0 / step))
        if late and rng.random() < 0.3:
            produced += 1
            yield late.pop()
            continue
        c = people[rng.randrange(customers)]
        mobile = rng.random() < 0.45
        r = rng.random()
        if r < 0.28:
            ev = base(c, "login", mobile)
            failed = rng.random() < 0.04
            ev.update(result="failure" if failed else "success",
                      method="password" if failed or rng.random() < 0.3 else "passkey")
        elif r < 0.30:  # credential stuffing from cloud addresses against random accounts
            ev = base(c, "login", False)
            ev.update(ip=f"{rng.choice(CLOUD_PREFIXES)}.{rng.randrange(4)}.{rng.randrange(1, 20)}",
                      device_id=f"bot-{rng.randrange(50)}", user_agent="python-requests/2.32",
                      result="failure" if rng.random() < 0.97 else "success", method="password")
        elif r < 0.62:
            ev = base(c, "order", mobile)
            symbol = rng.choice(c.symbols) if rng.random() < 0.9 else rng.choice(SYMBOLS + THIN_SYMBOLS)
            price = rng.randrange(500, 20000)
            ev.update(order_id=f"o-{seq}", side=rng.choice(["buy", "sell"]), symbol=symbol, market="TSE",
                      quantity=str(rng.choice([100, 100, 200, 300, 500, 1000])), price=str(price),
                      order_type="limit")
        elif r < 0.82:
            ev = base(c, "execution", mobile)
            ev.update(execution_id=f"x-{seq}", order_id=f"o-{seq - rng.randrange(1, 50)}",
                      side=rng.choice(["buy", "sell"]), symbol=rng.choice(c.symbols), market="TSE",
                      quantity=str(rng.choice([100, 200, 300])), price=str(rng.randrange(500, 20000)))
            ev.pop("ip"), ev.pop("device_id"), ev.pop("user_agent")
        elif r < 0.86:
            ev = base(c, "order_cancel", mobile)
            ev.update(order_id=f"o-{seq - rng.randrange(1, 50)}")
        elif r < 0.90:
            ev = base(c, "logout", mobile)
        elif r < 0.92:
            ev = base(c, "settings_change", mobile)
            ev.update(setting=rng.choice(["email", "phone", "address", "password", "mfa_device"]),
                      change="updated")
        elif r < 0.95:
            ev = base(c, "fiat_deposit", False)
            ev.update(transfer_id=f"t-{seq}", amount=str(rng.randrange(10, 3000) * 1000))
            ev.pop("ip"), ev.pop("device_id"), ev.pop("user_agent")
        elif r < 0.97:
            ev = base(c, "fiat_withdrawal", mobile)
            ev.update(transfer_id=f"t-{seq}", amount=str(rng.randrange(10, 2000) * 1000),
                      bank_account_fingerprint=f"bank-{c.account}")
        elif r < 0.985:
            ev = base(c, "crypto_deposit", False)
            ev.update(transfer_id=f"t-{seq}", asset="BTC", chain="bitcoin",
                      address=f"bc1q{rng.getrandbits(120):030x}", amount="0.05", amount_jpy="750000")
            ev.pop("ip"), ev.pop("device_id"), ev.pop("user_agent")
        else:
            ev = base(c, "crypto_withdrawal", mobile)
            dest = f"bc1q{rng.getrandbits(120):030x}" if rng.random() < 0.3 else f"bc1q{c.account[-7:]}xyz"
            ev.update(transfer_id=f"t-{seq}", asset="BTC", chain="bitcoin", address=dest, amount="0.02",
                      amount_jpy="300000")
        if rng.random() < 0.02:
            ev["occurred_at"] = (t - timedelta(seconds=rng.uniform(1, 300))).isoformat()
            late.append(ev)
            continue
        produced += 1
        yield ev
    # Late events still held back are simply dropped: the stream has exactly n_events events.
