"""``mamori bench aml`` (backtest part): a scenario backtest over a million stored crypto and fiat events.

A SQLite store is filled with ``n_events`` decided events of ``customers`` simulated exchange
customers (logins, fiat deposits, crypto deposits, crypto and fiat withdrawals; a few customers
structure withdrawals or move money straight through), then the scenario made of ``XFER-STRUCT-001``
(five withdrawals in 24 h adding up above ``large_withdrawal_jpy``) and ``XFER-RAPID-001`` (a
withdrawal to a new address within 24 h of a fiat deposit) is backtested with the current line
and a candidate at half of it, on ``workers`` processes (its features are per account). Figures:
events/s of the backtest (stored events read / seconds) and the seconds it took; filling the store
is not timed. The issue's target: 1 million events in <= 60 s on 2 cores.
"""

from __future__ import annotations

import platform
import random
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson

from mamori.adapters.sql.store import AcceptedRecord, SqlStore
from mamori.aml.effectiveness.history import run
from mamori.aml.effectiveness.period import Period
from mamori.aml.effectiveness.runner import RunSpec, Variant
from mamori.risk.rules.loader import builtin_ruleset

SCENARIO_RULES = ("XFER-STRUCT-001", "XFER-RAPID-001")
START = datetime(2026, 5, 1, tzinfo=UTC)


def _address(rng: random.Random) -> str:
    return f"bc1q{rng.getrandbits(152):038x}"


def generate(n_events: int, *, customers: int = 20_000, days: int = 30, seed: int = 11) -> Iterator[dict[str, Any]]:
    """``n_events`` wire-format events in time order (deterministic for a seed)."""
    rng = random.Random(seed)
    span = days * 86400
    step = span / max(1, n_events)
    own = [_address(rng) for _ in range(customers)]
    for seq in range(n_events):
        at = START + timedelta(seconds=seq * step)
        c = rng.randrange(customers)
        account = f"acct-{c:06d}"
        base: dict[str, Any] = {"id": f"e{seq}", "occurred_at": at.isoformat(), "account_id": account}
        r = rng.random()
        structurer = c % 500 == 0
        if r < 0.30:
            base.update(type="login", result="success", method="passkey", ip=f"203.0.{c % 250}.{c % 200 + 1}",
                        device_id=f"dev-{c}", user_agent="Mozilla/5.0")
        elif r < 0.50:
            base.update(type="fiat_deposit", transfer_id=f"t{seq}", amount=str(rng.randrange(10, 500) * 1000))
        elif r < 0.70:
            base.update(type="crypto_deposit", transfer_id=f"t{seq}", asset="BTC", chain="bitcoin",
                        address=_address(rng), amount="0.01", amount_jpy=str(rng.randrange(50, 900) * 1000))
        elif r < 0.92 or structurer:
            amount = 1_200_000 if structurer else rng.randrange(10, 900) * 1000
            dest = own[c] if rng.random() < 0.8 else _address(rng)
            base.update(type="crypto_withdrawal", transfer_id=f"t{seq}", asset="BTC", chain="bitcoin",
                        address=dest, amount="0.01", amount_jpy=str(amount), ip=f"203.0.{c % 250}.{c % 200 + 1}")
        else:
            base.update(type="fiat_withdrawal", transfer_id=f"t{seq}", amount=str(rng.randrange(10, 900) * 1000),
                        bank_account_fingerprint=f"bank-{c}")
        yield base


def fill(url: str, n_events: int, *, customers: int = 20_000, seed: int = 11, batch: int = 20_000) -> int:
    """Write the events with an ``allow`` decision each; returns how many were written."""
    store = SqlStore(url, synchronous="OFF")
    written = 0
    try:
        records: list[AcceptedRecord] = []
        for event in generate(n_events, customers=customers, seed=seed):
            at_us = int(datetime.fromisoformat(event["occurred_at"]).timestamp() * 1_000_000)
            records.append(AcceptedRecord(
                event_id=event["id"], event_type=event["type"], account_id=event["account_id"],
                occurred_at_us=at_us, received_at_us=at_us, payload=orjson.dumps(event).decode(),
                decision="allow", score=0, ruleset="bench", alert=False, rule_ids=(), body="{}",
                decided_at_us=at_us))
            if len(records) >= batch:
                store.write_accepted(records)
                written += len(records)
                records = []
        if records:
            store.write_accepted(records)
            written += len(records)
    finally:
        store.close()
    return written


def run_backtest(url: str, *, workers: int = 2) -> dict[str, Any]:
    """Backtest the scenario (current line vs half of it) over everything stored."""
    ruleset = builtin_ruleset()
    line = int(ruleset.lists["large_withdrawal_jpy"])
    spec = RunSpec(tuple(ruleset.sources.items()), SCENARIO_RULES,
                   (Variant("current"), Variant("candidate", (("large_withdrawal_jpy", line // 2),))),
                   pairs=((1, 0),), sample_size=5)
    period = Period(int(START.timestamp() * 1_000_000), int((START + timedelta(days=400)).timestamp() * 1_000_000))
    result = run(spec, url, period, workers=workers)
    return {"events": result.tally.events, "seconds": result.seconds, "processes": result.processes,
            "events_per_s": result.tally.events / result.seconds if result.seconds else 0.0,
            "flagged": dict(zip(result.tally.variants, result.tally.flagged, strict=True)),
            "plugins": list(result.tally.plugins)}


def run_bench(n_events: int = 1_000_000, *, workers: int = 2, db: Path | None = None,
              customers: int = 20_000) -> dict[str, Any]:
    """Fill a store (or reuse ``db`` when it already holds ``n_events``), then time the backtest."""
    import tempfile

    with tempfile.TemporaryDirectory(prefix="mamori-aml-bench-") as tmp:
        path = db or Path(tmp) / "bench.db"
        url = f"sqlite:///{path}"
        store = SqlStore(url)
        stored = store.count_events()
        store.close()
        fill_s = 0.0
        if stored != n_events:
            if stored:
                path.unlink()
                for suffix in ("-wal", "-shm"):
                    Path(f"{path}{suffix}").unlink(missing_ok=True)
            t0 = time.perf_counter()
            fill(url, n_events, customers=customers)
            fill_s = time.perf_counter() - t0
        result = run_backtest(url, workers=workers)
    result["fill_seconds"] = fill_s
    result["machine"] = f"{platform.machine()} python {platform.python_version()}"
    return result
