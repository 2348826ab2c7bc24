"""Benchmark of the case builder: synthetic alerts written through the real store, then filed.

The alerts look like a busy day at a firm under attack: most come from single accounts on their
own device and home network, one in ten from attack campaigns (a shared hosting /24, several
accounts each), some pump buys of one symbol and withdrawals to a few mule bank accounts. They are
written with :meth:`SqlStore.write_accepted` (events, decisions and alerts, as the engine writes
them); only the filing is timed.
"""

from __future__ import annotations

import random
import tempfile
import time
from pathlib import Path
from typing import Any

import orjson

from mamori.adapters.sql.store import AcceptedRecord, SqlStore
from mamori.cases.grouping import CaseBuilder

_BASE_US = 1_767_225_600_000_000  # 2026-01-01T00:00:00Z


def synthetic_records(n: int, *, seed: int = 7) -> list[AcceptedRecord]:
    """``n`` alerting decisions with their events (deterministic for a seed)."""
    rng = random.Random(seed)
    accounts = max(1, n // 4)
    out: list[AcceptedRecord] = []
    for i in range(n):
        at = _BASE_US + i * 2_000_000  # one alert every 2 s of event time
        account = f"c{rng.randrange(accounts):07d}"
        campaign = rng.random() < 0.1
        payload: dict[str, Any] = {"id": f"bench-{seed}-{i}", "occurred_at": "", "account_id": account,
                                   "device_id": f"atk-{i // 50}" if campaign else f"{account}-ph",
                                   "ip": f"45.76.{(i // 500) % 250}.{rng.randrange(2, 250)}" if campaign
                                   else f"126.{rng.randrange(1, 250)}.{rng.randrange(250)}.{rng.randrange(250)}"}
        rules: list[dict[str, Any]] = [{"id": "TRADE-SELLOUT-001", "tags": ["takeover-trading"]}]
        kind = rng.random()
        if kind < 0.6:
            event_type = "order"
            side = "buy" if campaign or rng.random() < 0.3 else "sell"
            payload |= {"type": "order", "side": side, "symbol": f"{3000 + (i // 400) % 50}" if campaign
                        else f"{rng.randrange(1300, 9999)}", "quantity": "100", "price": "1000"}
            if campaign and side == "buy":
                rules = [{"id": "TRADE-PUMP-001", "tags": ["takeover-trading", "pump"]}]
        elif kind < 0.8:
            event_type = "fiat_withdrawal"
            bank = f"bank-mule-{rng.randrange(20)}" if campaign else f"bank-{account}"
            payload |= {"type": event_type, "transfer_id": f"t{i}", "amount": "300000",
                        "bank_account_fingerprint": bank}
        else:
            event_type = "login"
            payload |= {"type": "login", "result": "success", "method": "password"}
        body = {"event_id": payload["id"], "decision": "hold", "score": 60, "rules": rules, "features": {}}
        out.append(AcceptedRecord(
            event_id=payload["id"], event_type=event_type, account_id=account, occurred_at_us=at, received_at_us=at,
            payload=orjson.dumps(payload).decode(), decision="hold", score=60, ruleset="bench", alert=True,
            rule_ids=tuple(r["id"] for r in rules), body=orjson.dumps(body).decode(), decided_at_us=at))
    return out


def bench_grouping(n: int = 20_000, *, url: str | None = None) -> float:
    """Write ``n`` synthetic alerts to a fresh store (SQLite in a temporary directory unless ``url``
    names an empty database), file them all, and return the alerts filed per second."""
    with tempfile.TemporaryDirectory(prefix="mamori-cases-bench-") as tmp:
        store = SqlStore(url or f"sqlite:///{Path(tmp) / 'bench.db'}", synchronous="NORMAL")
        try:
            records = synthetic_records(n)
            for i in range(0, len(records), 5000):
                store.write_accepted(records[i:i + 5000])
            builder = CaseBuilder(store.engine)
            began = time.perf_counter()
            report = builder.run()
            elapsed = time.perf_counter() - began
        finally:
            store.close()
    if report.alerts_filed != n:
        raise RuntimeError(f"filed {report.alerts_filed} of {n} alerts")
    return n / elapsed if elapsed > 0 else float("inf")


if __name__ == "__main__":
    print(f"case grouping: {bench_grouping():,.0f} alerts/s")
