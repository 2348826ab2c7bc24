"""Streaming stored history through a :class:`~mamori.aml.effectiveness.runner.ScenarioRunner`, in
chunks, on one or more processes.

Events are read in acceptance order (``events.seq``: the order the live engine saw them) with the
verdict recorded for each, ``chunk`` rows per query, so memory stays flat however long the period.
Events before the period (the *warm-up*, by default everything stored before it) only build feature
state; events inside it are evaluated. When the scenario reads only per-account state (see
:attr:`FeaturePlan.per_account`), the accounts are split into ``workers`` ranges of about equal
event counts and each range runs in its own process (spawned, so it is safe inside the server);
otherwise one process reads everything. Variants whose features differ run as separate groups.
"""

from __future__ import annotations

import concurrent.futures
import multiprocessing
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any, Final

from sqlalchemy import Engine, and_, func, select

from mamori.adapters.geo import GeoProvider, open_geo_provider
from mamori.adapters.sql.schema import decisions, events
from mamori.adapters.sql.store import SqlStore
from mamori.aml.effectiveness import sources
from mamori.aml.effectiveness.period import Period
from mamori.aml.effectiveness.runner import (
    NeedsPlugin,
    RunSpec,
    ScenarioRunner,
    Tally,
    plan_features,
    reduced_rules,
    variant_ruleset,
)

CHUNK: Final = 10_000
MIN_EVENTS_PER_PROCESS: Final = 50_000
"""Below this many stored events per extra process, starting processes costs more than it saves."""
MAX_RESTARTS: Final = 16


@dataclass(frozen=True, slots=True)
class Part:
    """One process's share: variants ``variant_indexes`` of the spec, accounts in ``[low, high)``."""

    variant_indexes: tuple[int, ...]
    low: str | None = None
    high: str | None = None


def iter_history(engine: Engine, *, end_us: int, start_us: int | None, low: str | None, high: str | None,
                 chunk: int = CHUNK) -> Iterator[tuple[str, str | None, int]]:
    """(payload, recorded verdict, occurred_at_us) of stored events that occurred in
    ``[start_us, end_us)`` (``start_us`` None: from the first), in acceptance order, for accounts in
    ``[low, high)``."""
    last = 0
    while True:
        cond = [events.c.seq > last, events.c.occurred_at_us < end_us]
        if start_us is not None:
            cond.append(events.c.occurred_at_us >= start_us)
        if low is not None:
            cond.append(events.c.account_id >= low)
        if high is not None:
            cond.append(events.c.account_id < high)
        stmt = (select(events.c.seq, events.c.payload, decisions.c.decision, events.c.occurred_at_us)
                .outerjoin(decisions, decisions.c.event_id == events.c.event_id)
                .where(and_(*cond)).order_by(events.c.seq).limit(chunk))
        with engine.connect() as conn:
            rows = conn.execute(stmt).all()
        if not rows:
            return
        last = int(rows[-1][0])
        for _seq, payload, verdict, occurred in rows:
            yield payload, verdict, int(occurred)
        if len(rows) < chunk:
            return


def account_ranges(engine: Engine, end_us: int, parts: int) -> list[tuple[str | None, str | None]]:
    """Split the accounts into ``parts`` contiguous ranges of about equal event counts."""
    if parts <= 1:
        return [(None, None)]
    stmt = (select(events.c.account_id, func.count()).where(events.c.occurred_at_us < end_us)
            .group_by(events.c.account_id).order_by(events.c.account_id))
    with engine.connect() as conn:
        counts = [(str(a), int(n)) for a, n in conn.execute(stmt)]
    total = sum(n for _, n in counts)
    if len(counts) < parts or total == 0:
        return [(None, None)]
    bounds: list[str] = []
    running = 0
    for account, n in counts:
        if running >= total * (len(bounds) + 1) / parts and len(bounds) < parts - 1:
            bounds.append(account)
        running += n
    edges: list[str | None] = [None, *bounds, None]
    return [(edges[i], edges[i + 1]) for i in range(len(edges) - 1)]


def _geo(spec: RunSpec) -> GeoProvider | None:
    if spec.geo is None:
        return None
    paths = dict(spec.geo)
    return open_geo_provider(country_mmdb=paths.get("country_mmdb"), asn_mmdb=paths.get("asn_mmdb"),
                             network_classes=paths.get("network_classes"), tor_exits=paths.get("tor_exits"))


def run_part(spec: RunSpec, part: Part, url: str, period: Period, warmup_start_us: int | None,
             chunk: int = CHUNK) -> Tally:
    """Run one share of the work (in this process); restarts when a plugin turns out to be needed."""
    sub = RunSpec(spec.sources, spec.rule_ids, tuple(spec.variants[i] for i in part.variant_indexes),
                  spec.home_country, spec.geo, spec.truth,
                  tuple((part.variant_indexes.index(a), part.variant_indexes.index(b)) for a, b in spec.pairs
                        if a in part.variant_indexes and b in part.variant_indexes), spec.sample_size, spec.screening)
    store = SqlStore(url)
    geo = _geo(spec)
    screening = sources.screening_port(store) if spec.screening else None
    extra: frozenset[str] = frozenset()
    try:
        for _attempt in range(MAX_RESTARTS):
            runner = ScenarioRunner(sub, geo=geo, extra_plugins=extra, screening=screening)
            if (part.low is not None or part.high is not None) and not runner.plan.per_account:
                raise NeedsWholeHistory(runner.plan.plugins)
            try:
                for payload, verdict, occurred in iter_history(store.engine, end_us=period.end_us,
                                                               start_us=warmup_start_us, low=part.low,
                                                               high=part.high, chunk=chunk):
                    runner.feed(payload, verdict, occurred >= period.start_us)
            except NeedsPlugin as need:
                extra = extra | need.names
                continue
            tally = runner.tally
            # Map back to the spec's variant and pair numbering.
            full = Tally.empty([v.name for v in spec.variants], spec.pairs)
            for name in ("flagged", "true_positive", "false_positive", "unreviewed", "flagged_targets",
                         "rule_errors", "fires"):
                values = getattr(full, name)
                for local, index in enumerate(part.variant_indexes):
                    values[index] = getattr(tally, name)[local]
            full.events, full.evaluated, full.invalid, full.targets = (tally.events, tally.evaluated, tally.invalid,
                                                                      tally.targets)
            for a, b in spec.pairs:
                if a in part.variant_indexes and b in part.variant_indexes:
                    full.samples[(a, b)] = tally.samples[(part.variant_indexes.index(a),
                                                          part.variant_indexes.index(b))]
            full.plugins, full.per_account = tally.plugins, tally.per_account
            return full
        raise RuntimeError("feature plan did not settle")  # pragma: no cover - bounded by the plugin count
    finally:
        store.close()


class NeedsWholeHistory(Exception):
    """The scenario reads state shared between accounts: it cannot be split by account."""


@dataclass
class RunResult:
    tally: Tally
    seconds: float
    processes: int
    groups: int

    def to_dict(self) -> dict[str, Any]:
        return {"seconds": round(self.seconds, 3), "processes": self.processes, "groups": self.groups,
                "events_read": self.tally.events, "events_evaluated": self.tally.evaluated,
                "invalid_events": self.tally.invalid, "plugins": list(self.tally.plugins)}


def group_variants(spec: RunSpec) -> tuple[list[tuple[int, ...]], bool]:
    """Variants that can share feature state, and whether the scenario can be split by account."""
    sources = dict(spec.sources)
    groups: dict[tuple[Any, ...], list[int]] = {}
    per_account = True
    for i, variant in enumerate(spec.variants):
        ruleset = variant_ruleset(sources, variant.overrides)
        plan = plan_features(ruleset, reduced_rules(ruleset, spec.rule_ids), home_country=spec.home_country)
        per_account = per_account and plan.per_account
        groups.setdefault(plan.signature, []).append(i)
    return [tuple(g) for g in groups.values()], per_account


def run(spec: RunSpec, url: str, period: Period, *, warmup_start_us: int | None = None, workers: int = 2,
        chunk: int = CHUNK) -> RunResult:
    """Run every variant over the stored history of ``period`` and return the summed tally."""
    started = time.perf_counter()
    groups, per_account = group_variants(spec)
    store = SqlStore(url)
    try:
        with store.engine.connect() as conn:
            stored = int(conn.execute(select(func.count()).select_from(events)
                                      .where(events.c.occurred_at_us < period.end_us)).scalar_one())
        workers = max(1, min(workers, stored // MIN_EVENTS_PER_PROCESS))
        if spec.screening:
            sources.screening_port(store)  # creates the list tables once, before processes race to
        ranges = account_ranges(store.engine, period.end_us, max(1, workers // len(groups))) if per_account \
            else [(None, None)]
    finally:
        store.close()
    parts = [Part(g, low, high) for g in groups for low, high in ranges]
    tallies = _execute(spec, parts, url, period, warmup_start_us, workers, chunk)
    total = Tally.empty([v.name for v in spec.variants], spec.pairs)
    for tally in tallies:
        total.merge(tally, spec.sample_size)
    # Each group of variants reads every event once (over its account ranges): count events once.
    total.events //= len(groups)
    total.evaluated //= len(groups)
    total.invalid //= len(groups)
    total.targets //= len(groups)
    return RunResult(total, time.perf_counter() - started, min(workers, len(parts)), len(groups))


def _execute(spec: RunSpec, parts: list[Part], url: str, period: Period, warmup_start_us: int | None,
             workers: int, chunk: int) -> list[Tally]:
    results: list[Tally | None]
    if workers <= 1 or len(parts) == 1:
        results = [_run_or_whole(spec, part, url, period, warmup_start_us, chunk) for part in parts]
    else:
        context = multiprocessing.get_context("spawn")
        with concurrent.futures.ProcessPoolExecutor(max_workers=min(workers, len(parts)),
                                                    mp_context=context) as pool:
            futures = [pool.submit(_run_or_whole, spec, part, url, period, warmup_start_us, chunk)
                       for part in parts]
            results = [f.result() for f in futures]
    if any(r is None for r in results):  # a range found shared state after all: run unsplit
        whole = sorted({p.variant_indexes for p in parts})
        return [run_part(spec, Part(g), url, period, warmup_start_us, chunk) for g in whole]
    return [r for r in results if r is not None]


def _run_or_whole(spec: RunSpec, part: Part, url: str, period: Period, warmup_start_us: int | None,
                  chunk: int) -> Tally | None:
    try:
        return run_part(spec, part, url, period, warmup_start_us, chunk)
    except NeedsWholeHistory:
        if part.low is None and part.high is None:
            raise
        return None
