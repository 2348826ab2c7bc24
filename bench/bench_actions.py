"""Benchmark of held items on a large store (``mamori.actions.held``).

Plain script: ``.venv/bin/python bench/bench_actions.py [DECISIONS] [DIR]`` (default 1,000,000
decisions in a temporary SQLite store; 5 % of them alert, a third of those are held orders or
withdrawals). Prints the one-off catch-up that files every held item, the cost of an idle refresh
(what the worker and every ``GET /v1/held`` pay when nothing is new), a refresh after 1,000 new
decisions, and the ``GET /v1/held`` queries (pending items, one account's items).
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from pathlib import Path

import orjson

from mamori.actions import held
from mamori.actions.tables import create_tables
from mamori.adapters.sql.store import AcceptedRecord, SqlStore

NOW = 1_780_000_000_000_000
KINDS = ("order", "fiat_withdrawal", "crypto_withdrawal", "login")


def records(start: int, n: int, rng: random.Random) -> list[AcceptedRecord]:
    out = []
    for i in range(start, start + n):
        alert = rng.random() < 0.05
        kind = rng.choice(KINDS) if alert else "login"
        verdict = "hold" if alert and kind != "login" and rng.random() < 0.5 else ("block" if alert else "allow")
        account = f"c{rng.randrange(200_000):06d}"
        payload = {"id": f"e{i}", "type": kind, "account_id": account, "order_id": f"o{i}", "symbol": "7203",
                   "side": "sell", "quantity": "100", "price": "2500"} if kind == "order" else \
            {"id": f"e{i}", "type": kind, "account_id": account, "transfer_id": f"t{i}", "amount": "3000000"}
        at = NOW + i * 1000
        out.append(AcceptedRecord(event_id=f"e{i}", event_type=kind, account_id=account, occurred_at_us=at,
                                  received_at_us=at, payload=orjson.dumps(payload).decode(), decision=verdict,
                                  score=80 if alert else 0, ruleset="bench@1", alert=alert,
                                  rule_ids=("XFER-LIMIT-001",) if alert else (), body="{}", decided_at_us=at))
    return out


def timed(label: str, fn: object, repeat: int = 1) -> object:
    start = time.perf_counter()
    for _ in range(repeat):
        result = fn()  # type: ignore[operator]
    ms = (time.perf_counter() - start) * 1000 / repeat
    print(f"{label:<58} {ms:10.2f} ms")
    return result


def main() -> None:
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    directory = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(tempfile.mkdtemp(prefix="mamori-bench-actions-"))
    store = SqlStore(f"sqlite:///{directory / 'bench.db'}", synchronous="OFF")
    create_tables(store.engine)
    rng = random.Random(5)
    start = time.perf_counter()
    for offset in range(0, total, 20_000):
        store.write_accepted(records(offset, min(20_000, total - offset), rng))
    print(f"wrote {total:,} decisions in {time.perf_counter() - start:.1f} s ({directory})")
    filed = timed("catch-up: file every held item", lambda: held.refresh(store.engine))
    print(f"  held items filed: {filed:,}")
    timed("idle refresh (nothing new), mean of 100", lambda: held.refresh(store.engine), repeat=100)
    store.write_accepted(records(total, 1000, rng))
    added = timed("refresh after 1,000 new decisions", lambda: held.refresh(store.engine))
    print(f"  new held items: {added}")
    timed("GET /v1/held?state=pending (100 rows), mean of 100",
          lambda: held.query(store.engine, state="pending", limit=100), repeat=100)
    timed("GET /v1/held?account_id=... , mean of 100",
          lambda: held.query(store.engine, account_id="c000123", limit=100), repeat=100)
    store.close()


if __name__ == "__main__":
    main()
