"""``mamori bench timeline``: the investigation view and the figures on a store of a million events.

A fresh SQLite store (WAL; ``synchronous=OFF`` while filling) gets ``n_events`` events with real
decisions: the benchmark stream (:mod:`mamori.bench.stream`: customers' history, then ~3 days of
logins, orders, fills, transfers and settings changes, with credential stuffing from cloud
networks) is decided by the engine with the built-in rule set and written with
``SqlStore.write_accepted`` in batches. One *hot* account gets ``hot_account_events`` of those events,
spread over the same days, including a takeover: a login from a new device on a hosting network,
a sell-out and a buy of a thin symbol, a mule account logging in from the attacker's device, then
the customer's "this was not me" freeze (its alerts labelled ``reported_takeover``, as the API does).

Then, each repeated and timed on its own (wall clock, server side, data assembled as the API
returns it): the hot account's first timeline page (500 events), its whole timeline paged (500 a
page), its overview, its links (after one build of the link index, timed separately), the monthly
figures for the months of the stream and the live counters. The query plan of a timeline page is
reported too. Last line:
``timeline events=<n> hot_account_p95_ms=<x> overview_p95_ms=<y>`` where ``hot_account_p95_ms`` is
the p95 of rendering the hot account's whole timeline (every page).
"""

from __future__ import annotations

import heapq
import platform
import tempfile
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
from sqlalchemy import text

from mamori.adapters.geo import open_geo_provider
from mamori.adapters.sql.store import AcceptedRecord, SqlStore, now_us
from mamori.bench.engine_bench import percentile
from mamori.bench.stream import generate, history
from mamori.events.parse import parse_event
from mamori.investigate.common import ensure_schema, to_us
from mamori.investigate.figures import live_counters, monthly_figures
from mamori.investigate.linkindex import refresh_link_index
from mamori.investigate.links import linked_accounts
from mamori.investigate.overview import account_overview
from mamori.investigate.timeline import account_timeline
from mamori.kit.runtime import tune_gc
from mamori.risk.engine import Engine
from mamori.risk.rules.loader import builtin_ruleset
from mamori.risk.service import to_record

HOT = "acct-hot"
MULE = "acct-mule"
ATTACKER_DEVICE = "dev-attacker-01"
ATTACKER_IP = "126.33.10.20"  # a residential proxy in Japan, as in the 2025 wave
START = datetime(2026, 3, 2, 0, 0, tzinfo=UTC)
STORY_AT = START + timedelta(days=1, hours=3)


def _hot_stream(n: int, seed: int) -> Iterator[dict[str, Any]]:
    """One customer's events over the stream's days, renamed to the hot account."""
    for ev in generate(n, seed=seed + 1, customers=1, start=START, id_prefix="hot"):
        ev["account_id"] = HOT
        if "device_id" in ev and str(ev["device_id"]).startswith("dev-"):
            ev["device_id"] = ev["device_id"].replace("dev-0000000", "dev-hot")
        yield ev


def _story(at: datetime) -> list[dict[str, Any]]:
    """The takeover of the hot account at ``at``, and a mule using the attacker's device."""
    def t(minutes: float) -> str:
        return (at + timedelta(minutes=minutes)).isoformat()

    client = {"ip": ATTACKER_IP, "device_id": ATTACKER_DEVICE, "user_agent": "Mozilla/5.0 (X11; Linux x86_64)"}
    out: list[dict[str, Any]] = [
        {"id": "story-login", "type": "login", "account_id": HOT, "occurred_at": t(0), "result": "success",
         "method": "password", **client},
        {"id": "story-login-otp", "type": "login", "account_id": HOT, "occurred_at": t(1), "result": "success",
         "method": "sms_otp", **client},
    ]
    for i, symbol in enumerate(("7203", "6758", "9984")):
        out.append({"id": f"story-sell-{i}", "type": "order", "account_id": HOT, "occurred_at": t(3 + i),
                    "order_id": f"story-o-sell-{i}", "side": "sell", "symbol": symbol, "market": "TSE",
                    "quantity": "500", "price": "3000", "order_type": "limit", **client})
        out.append({"id": f"story-exec-sell-{i}", "type": "execution", "account_id": HOT, "occurred_at": t(4 + i),
                    "execution_id": f"story-x-sell-{i}", "order_id": f"story-o-sell-{i}", "side": "sell",
                    "symbol": symbol, "market": "TSE", "quantity": "500", "price": "3000"})
    out.append({"id": "story-buy", "type": "order", "account_id": HOT, "occurred_at": t(10), "order_id": "story-o-buy",
                "side": "buy", "symbol": "3777", "market": "TSE", "quantity": "20000", "price": "200",
                "order_type": "limit", **client})
    out.append({"id": "story-mule-login", "type": "login", "account_id": MULE, "occurred_at": t(30),
                "result": "success", "method": "password", **client})
    out.append({"id": "story-freeze", "type": "account_freeze", "account_id": HOT, "occurred_at": t(120),
                "reason": "customer_reported_not_me", "reference": "notice-1"})
    return out


def _events(n_events: int, hot_events: int, seed: int) -> Iterator[dict[str, Any]]:
    customers = max(1_000, n_events // 50)
    past = list(history(seed=seed, customers=customers, start=START))
    hot_past = [{**e, "id": f"hot-{e['id']}", "account_id": HOT,
                 **({"device_id": str(e["device_id"]).replace("dev-0000000", "dev-hot")} if "device_id" in e else {})}
                for e in history(seed=seed + 1, customers=1, start=START)]
    story = _story(STORY_AT)
    main = max(0, n_events - len(past) - len(hot_past) - hot_events)
    hot = sorted([*_hot_stream(max(0, hot_events - len(story)), seed), *story], key=lambda e: str(e["occurred_at"]))
    yield from past
    yield from hot_past
    yield from heapq.merge(generate(main, seed=seed, customers=customers, start=START), hot,
                           key=lambda e: str(e["occurred_at"]))


def fill(store: SqlStore, n_events: int, hot_events: int, seed: int, batch: int = 20_000) -> dict[str, Any]:
    """Decide and store the events; returns counts and timings."""
    engine = Engine(builtin_ruleset(), geo=open_geo_provider())
    records: list[AcceptedRecord] = []
    written = 0
    verdicts: dict[str, int] = {}
    started = time.perf_counter()
    for data in _events(n_events, hot_events, seed):
        event = parse_event(data)
        decision = engine.process(event)
        verdicts[decision.verdict.name] = verdicts.get(decision.verdict.name, 0) + 1
        records.append(to_record(event, decision, orjson.dumps(decision.to_dict()), now_us()))
        if len(records) >= batch:
            store.write_accepted(records)
            written += len(records)
            records = []
    store.write_accepted(records)
    written += len(records)
    labelled = _label_takeover_alerts(store)
    return {"events": written, "verdicts": verdicts, "labelled_alerts": labelled,
            "fill_s": time.perf_counter() - started}


def _label_takeover_alerts(store: SqlStore) -> int:
    """What "this was not me" does to the alerts of the takeover (their events' times: the bench
    writes every decision at once, so the alerts' creation times cannot tell them apart)."""
    story_start = to_us(STORY_AT)
    with store.engine.begin() as conn:
        result = conn.execute(text(
            "UPDATE alerts SET status = 'reported_takeover' WHERE account_id = :a AND status = 'open' AND event_id IN "
            "(SELECT event_id FROM decisions WHERE account_id = :a AND occurred_at_us >= :s AND occurred_at_us < :e)"),
            {"a": HOT, "s": story_start, "e": story_start + 2 * 3600 * 1_000_000})
    return int(result.rowcount)


def _timed(fn: Callable[[], Any], repeats: int) -> tuple[float, float, Any]:
    samples: list[int] = []
    result: Any = None
    for _ in range(repeats):
        t0 = time.perf_counter_ns()
        result = fn()
        samples.append(time.perf_counter_ns() - t0)
    samples.sort()
    return percentile(samples, 0.50) / 1e6, percentile(samples, 0.95) / 1e6, result


def _whole_timeline(store: SqlStore, limit: int = 500) -> int:
    cursor: str | None = None
    items = 0
    while True:
        page = account_timeline(store.engine, HOT, limit=limit, cursor=cursor)
        items += len(page["items"])
        cursor = page["next_cursor"]
        if cursor is None:
            return items


def run(n_events: int = 1_000_000, hot_account_events: int = 10_000, *, seed: int = 7, repeats: int = 20,
        directory: Path | None = None) -> dict[str, Any]:
    """Fill a fresh store and time the investigation reads; see the module docstring."""
    tune_gc()
    with tempfile.TemporaryDirectory(prefix="mamori-timeline-bench-", dir=directory) as tmp:
        url = f"sqlite:///{Path(tmp) / 'bench.db'}"
        store = SqlStore(url, synchronous="OFF")
        try:
            out: dict[str, Any] = fill(store, n_events, hot_account_events, seed)
            t0 = time.perf_counter()
            ensure_schema(store.engine)
            out["decision_index_s"] = time.perf_counter() - t0
            t0 = time.perf_counter()
            out["link_index"] = refresh_link_index(store.engine, settle_s=0)
            out["link_index_build_s"] = time.perf_counter() - t0
            with store.engine.connect() as conn:
                out["hot_events"] = int(conn.execute(text("SELECT count(*) FROM events WHERE account_id = :a"),
                                                     {"a": HOT}).scalar_one())
                out["timeline_plan"] = [str(r[-1]) for r in conn.execute(text(
                    "EXPLAIN QUERY PLAN SELECT e.seq, e.payload, d.body FROM events e LEFT JOIN decisions d "
                    "ON d.event_id = e.event_id WHERE e.account_id = :a AND e.occurred_at_us >= 0 "
                    "ORDER BY e.occurred_at_us, e.seq LIMIT 501"), {"a": HOT}).all()]
            engine = store.engine
            now = to_us(START + timedelta(days=4))
            heavy = max(3, repeats // 4)
            p50, p95, page = _timed(lambda: account_timeline(engine, HOT, limit=500), repeats)
            out.update(first_page_p50_ms=p50, first_page_p95_ms=p95, first_page_items=len(page["items"]))
            p50, p95, items = _timed(lambda: _whole_timeline(store), heavy)
            out.update(hot_account_p50_ms=p50, hot_account_p95_ms=p95, hot_account_items=items)
            p50, p95, view = _timed(lambda: account_overview(engine, HOT), heavy)
            out.update(overview_p50_ms=p50, overview_p95_ms=p95, overview_devices=view["devices_total"])
            p50, p95, links = _timed(lambda: linked_accounts(engine, HOT, now_us=now), repeats)
            out.update(links_p50_ms=p50, links_p95_ms=p95, linked_total=links["linked_total"],
                       crowded_values=len(links["crowded_values"]),
                       mule_linked=any(lk["account_id"] == MULE for lk in links["linked"]))
            p50, p95, figures = _timed(lambda: monthly_figures(engine, start_month="2026-01", end_month="2026-03",
                                                               now_us=now), repeats)
            out.update(figures_p50_ms=p50, figures_p95_ms=p95, figures_march=figures["months"][-1])
            p50, p95, _live = _timed(lambda: live_counters(engine, now_us=now), repeats)
            out.update(live_p50_ms=p50, live_p95_ms=p95)
            out["db_mb"] = (Path(tmp) / "bench.db").stat().st_size / 1e6
        finally:
            store.close()
    out["machine"] = f"{platform.machine()} {platform.processor() or ''} python {platform.python_version()}"
    return out


def report(r: dict[str, Any]) -> list[str]:
    """The lines ``mamori bench timeline`` prints; the last is the one the lead collects."""
    march = r["figures_march"]
    return [
        f"machine: {r['machine']}; store: {r['events']} events ({r['db_mb']:.0f} MB SQLite), filled in "
        f"{r['fill_s']:.0f} s; decision index {r['decision_index_s']:.1f} s, "
        f"link index {r['link_index_build_s']:.1f} s",
        f"hot account: {r['hot_events']} events; first page {r['first_page_p50_ms']:.1f} / "
        f"{r['first_page_p95_ms']:.1f} ms (p50/p95), whole timeline ({r['hot_account_items']} items, pages of 500) "
        f"{r['hot_account_p50_ms']:.0f} / {r['hot_account_p95_ms']:.0f} ms; plan: {'; '.join(r['timeline_plan'])}",
        f"overview {r['overview_p50_ms']:.0f} / {r['overview_p95_ms']:.0f} ms; links {r['links_p50_ms']:.1f} / "
        f"{r['links_p95_ms']:.1f} ms ({r['linked_total']} linked, {r['crowded_values']} crowded values, mule found: "
        f"{r['mule_linked']}); monthly figures {r['figures_p50_ms']:.1f} / {r['figures_p95_ms']:.1f} ms "
        f"(March: {march['unauthorised_accesses']} access, {march['fraudulent_trades']} trade, sell "
        f"¥{march['sell_yen']:,}, buy ¥{march['buy_yen']:,}); live counters {r['live_p50_ms']:.1f} / "
        f"{r['live_p95_ms']:.1f} ms",
        f"timeline events={r['events']} hot_account_p95_ms={r['hot_account_p95_ms']:.1f} "
        f"overview_p95_ms={r['overview_p95_ms']:.1f}",
    ]


if __name__ == "__main__":
    import sys

    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000
    for line in report(run(n)):
        print(line)
