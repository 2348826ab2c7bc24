"""Benchmark of rule statistics on a large store (``mamori.rulesadmin.stats``).

Plain script: ``.venv/bin/python bench/bench_rulesadmin_stats.py [DECISIONS] [DIR]`` (default one
million decisions in a temporary SQLite store). Prints the one-off catch-up of the hourly counts,
the cost of a ``GET /v1/rules`` read (hit counts for 24 h / 7 d / 30 d and precision) once counted,
an incremental round after 1,000 new decisions, and, for comparison, one full scan of the decision
bodies (what each request would cost without the counts table).
"""

from __future__ import annotations

import random
import sys
import tempfile
import time
from pathlib import Path

import orjson
from sqlalchemy import delete, select

from mamori.adapters.sql.schema import decisions
from mamori.adapters.sql.store import AcceptedRecord, SqlStore
from mamori.cases import store as cases_store
from mamori.rulesadmin.stats import HOUR_US, RuleCounter, hit_counts, precision
from mamori.rulesadmin.tables import create_tables, rule_hit_counts, rulesadmin_cursor

RULES = [f"RULE-{i:03d}" for i in range(40)]
NOW = 1_780_000_000_000_000


def _records(start: int, n: int, rng: random.Random) -> list[AcceptedRecord]:
    out = []
    for i in range(start, start + n):
        at = NOW - rng.randrange(0, 40 * 24) * HOUR_US
        fired = rng.sample(RULES, rng.choice((0, 0, 1, 2)))
        body = {"event_id": f"e{i}", "event_type": "login", "account_id": f"a{i % 50000}", "decision": "allow",
                "score": 0, "rules": [{"id": r, "values": {"x": 1}} for r in fired], "ruleset": "bench@1:0",
                "alert": False, "features": {"new_device": False, "ip_country": "JP", "acct_login_fail_10m": 0}}
        out.append(AcceptedRecord(f"e{i}", "login", f"a{i % 50000}", at, at, '{"type": "login"}', "allow", 0,
                                  "bench@1:0", False, tuple(fired), orjson.dumps(body).decode(), at))
    return out


def main() -> None:
    total = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    root = Path(sys.argv[2]) if len(sys.argv) > 2 else Path(tempfile.mkdtemp(prefix="mamori-bench-rules-"))
    store = SqlStore(f"sqlite:///{root / 'bench.db'}", synchronous="OFF")
    create_tables(store.engine)
    cases_store.create_tables(store.engine)
    rng = random.Random(7)
    t = time.perf_counter()
    if store.count_events() >= total:  # a store left by an earlier run in DIR: count it again from scratch
        with store.engine.begin() as conn:
            conn.execute(delete(rule_hit_counts))
            conn.execute(delete(rulesadmin_cursor))
        total = store.count_events()
        print(f"store: reusing {total:,} decisions in {root}")
    else:
        for start in range(0, total, 20_000):
            store.write_accepted(_records(start, min(20_000, total - start), rng))
        print(f"store: {total:,} decisions written in {time.perf_counter() - t:.1f} s ({root})")
    counter = RuleCounter(store.engine, shadow_rule_ids=lambda _i: frozenset())
    t = time.perf_counter()
    counted = counter.catch_up(now_us=NOW)
    print(f"catch-up (once): {counted:,} decisions counted in {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    for _ in range(10):
        hit_counts(store.engine, now_us=NOW)
        precision(store.engine)
    print(f"read per request (hit counts 24h/7d/30d + precision): {(time.perf_counter() - t) * 100:.1f} ms")
    store.write_accepted(_records(total + rng.randrange(10**9), 1000, rng))
    t = time.perf_counter()
    counter.catch_up(now_us=NOW)
    print(f"incremental round after 1,000 new decisions: {(time.perf_counter() - t) * 1000:.1f} ms")
    t = time.perf_counter()
    with store.engine.connect() as conn:
        n = sum(len(orjson.loads(b)["rules"]) for (b,) in conn.execute(select(decisions.c.body)))
    print(f"for comparison, one full scan of every decision body: {time.perf_counter() - t:.1f} s ({n:,} fires)")
    store.close()


if __name__ == "__main__":
    main()
