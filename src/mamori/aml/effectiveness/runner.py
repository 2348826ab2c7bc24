"""Re-running one scenario's rules over stored history, at several threshold values at once.

The scenario's rules are cut out of the rule set (a *reduced* rule set) and evaluated on each
stored event; only the feature plugins and window aggregates those rules read are run. Feature
state that depends on decisions (a destination becomes *known* only after an allowed withdrawal)
is fed the verdict that was recorded for the event in production, so the features are those the
live engine computed; only the scenario's conditions change between variants. Variants of the
rule set (other values of its ``lists:`` constants) share one feature state when the constants do
not change a feature (a window filter or a plugin setting); otherwise they run separately (the
planner in :mod:`mamori.aml.effectiveness.history` groups them).

A plugin the planner left out that a rule reads after all (a feature computed from another one)
is detected when it is first read; the run then restarts with it (bounded: once per plugin).
"""

from __future__ import annotations

import functools
import hashlib
import heapq
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any, Final

import orjson

from mamori.adapters.geo import GeoProvider
from mamori.events.parse import parse_event
from mamori.kit.errors import InvalidEvent, InvalidRequest
from mamori.risk.engine import jsonable
from mamori.risk.features.aggregates import AggregateDef, Aggregates
from mamori.risk.features.base import Compute, EvalEnv, FeaturePlugin
from mamori.risk.features.registry import builtin_plugins, computes_of
from mamori.risk.features.screening import ScreeningPort
from mamori.risk.rules.loader import ruleset_from_sources
from mamori.risk.rules.model import Rule, Ruleset

OVERRIDES_FILE: Final = "~effectiveness-overrides.yaml"
"""The extra rule file a variant adds (compiled last, so its ``lists:`` values win)."""
PER_ACCOUNT_PLUGINS: Final = frozenset({"event_fields", "enrichment", "first_seen", "since_last", "baselines",
                                        "lockout", "limits", "freeze", "travel", "market"})
"""Plugins whose state is kept per account (checked in their code): a scenario that reads only
these and ``by: account`` windows can be run on disjoint sets of accounts in parallel."""
SAMPLE_SIZE: Final = 20
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


@dataclass(frozen=True, slots=True)
class Variant:
    """One version of the scenario: the rule set with some ``lists:`` constants changed."""

    name: str
    overrides: tuple[tuple[str, int | float | str], ...] = ()


@dataclass(frozen=True, slots=True)
class Truth:
    """What is known about events: ``labels`` maps an event id to a typology (an attack; ``fraud`` for a
    case confirmed as fraud), ``benign_*`` or None (legitimate). ``complete`` (a simulation) means an
    event without a label is legitimate; otherwise (closed cases) it is unreviewed."""

    labels: Mapping[str, str | None]
    complete: bool
    targets: frozenset[str] | None = None
    """The typologies the scenario is meant to catch (None: any attack)."""

    def judge(self, event_id: str) -> tuple[bool | None, str | None]:
        """(attack?, typology): None when unknown."""
        if event_id not in self.labels:
            return (False, None) if self.complete else (None, None)
        typology = self.labels[event_id]
        return (typology is not None and not typology.startswith("benign_")), typology


@dataclass(frozen=True, slots=True)
class RunSpec:
    """Everything a worker process needs (picklable): the rule files, the scenario's rule ids, the
    variants, the geo settings, the labels, which pairs of variants to sample differences of."""

    sources: tuple[tuple[str, str], ...]
    rule_ids: tuple[str, ...]
    variants: tuple[Variant, ...]
    home_country: str = "JP"
    geo: tuple[tuple[str, str | None], ...] | None = ()
    """Keyword arguments of :func:`open_geo_provider` (``()``: the built-in data; None: no IP data)."""
    truth: Truth | None = None
    pairs: tuple[tuple[int, int], ...] = ()
    """(a, b): sample events flagged by variant ``a`` and not by ``b``."""
    sample_size: int = SAMPLE_SIZE
    screening: bool = True
    """Screen addresses against the store's risk lists as they are now (``mamori.aml``), as the live
    engine does; False: list features are None."""


def variant_ruleset(sources: Mapping[str, str], overrides: tuple[tuple[str, Any], ...]) -> Ruleset:
    """The rule set with ``overrides`` applied to its ``lists:`` constants (each must exist). Compiled
    rule sets are cached (a sweep compiles each variant once, not once per step)."""
    return _compiled(tuple(sources.items()), tuple(overrides))


@functools.lru_cache(maxsize=64)
def _compiled(sources: tuple[tuple[str, str], ...], overrides: tuple[tuple[str, Any], ...]) -> Ruleset:
    files = dict(sources)
    if overrides:
        base = _compiled(sources, ())
        for name, value in overrides:
            if name not in base.lists:
                raise InvalidRequest(f"the rule set has no constant {name!r} (lists:); known: "
                                     f"{', '.join(sorted(base.lists)) or 'none'}",
                                     details=[{"field": "threshold", "message": "unknown constant",
                                               "kind": "value_error"}])
            if isinstance(base.lists[name], (frozenset, dict)) or isinstance(value, bool):
                raise InvalidRequest(f"constant {name!r} is a list or table, not a single threshold value",
                                     details=[{"field": "threshold", "message": "not a number",
                                               "kind": "value_error"}])
        files[OVERRIDES_FILE] = "lists: " + orjson.dumps(dict(overrides)).decode() + "\n"
    return ruleset_from_sources(files)


def reduced_rules(ruleset: Ruleset, rule_ids: tuple[str, ...]) -> dict[str, tuple[Rule, ...]]:
    """The scenario's rules (active or shadow) by event type; unknown ids are an error naming them."""
    present = {r.id: r for r in ruleset.rules if r.mode != "disabled"}
    missing = [i for i in rule_ids if i not in present]
    if missing:
        raise InvalidRequest(f"rule(s) {', '.join(missing)} are not active in rule set {ruleset.identity}",
                             details=[{"field": "scenario", "message": "rules missing", "kind": "value_error"}])
    by_type: dict[str, list[Rule]] = {}
    for rule_id in rule_ids:
        for event_type in sorted(present[rule_id].events):
            by_type.setdefault(event_type, []).append(present[rule_id])
    return {t: tuple(rules) for t, rules in by_type.items()}


class _Recording(dict[str, Any]):
    """A mapping that remembers which keys a plugin's ``configure`` read."""

    def __init__(self, data: Mapping[str, Any]) -> None:
        super().__init__(data)
        self.read: set[str] = set()

    def get(self, key: str, default: Any = None) -> Any:
        self.read.add(key)
        return super().get(key, default)

    def __getitem__(self, key: str) -> Any:
        self.read.add(key)
        return super().__getitem__(key)

    def __contains__(self, key: object) -> bool:
        self.read.add(str(key))
        return super().__contains__(key)


def _constants_in(source: str, lists: Mapping[str, Any]) -> tuple[tuple[str, str], ...]:
    return tuple(sorted((n, repr(lists[n])) for n in set(_NAME.findall(source)) if n in lists))


@dataclass
class FeaturePlan:
    """Which plugins and window aggregates a variant's rules need."""

    names: set[str]
    aggregates: list[AggregateDef]
    plugins: set[str]
    signature: tuple[Any, ...]
    stateless: frozenset[str] = frozenset()

    @property
    def per_account(self) -> bool:
        """Whether every feature read depends on one account's events only (stateless plugins, such as
        the address screening, depend on none)."""
        return all(d.by == "account" for d in self.aggregates) and \
            self.plugins - self.stateless <= PER_ACCOUNT_PLUGINS


def plan_features(ruleset: Ruleset, rules: dict[str, tuple[Rule, ...]], *,
                  extra_plugins: frozenset[str] = frozenset(), home_country: str = "JP") -> FeaturePlan:
    names: set[str] = {n for group in rules.values() for r in group for n in r.when.names}
    defs = {d.name: d for d in ruleset.aggregates}
    chosen: dict[str, AggregateDef] = {}
    for _ in range(len(defs) + 1):  # aggregates may read other aggregates: to a fixed point
        new = [defs[n] for n in names if n in defs and n not in chosen]
        if not new:
            break
        for d in new:
            chosen[d.name] = d
            if d.field:
                names.add(d.field)
            if d.where is not None:
                names |= set(d.where.names)
    plugins = builtin_plugins(home_country=home_country)
    provider = {f.name: p.name for p in plugins for f in p.features()}
    needed = {provider[n] for n in names if n in provider} | set(extra_plugins)
    config: list[tuple[str, tuple[tuple[str, str], ...]]] = []
    for plugin in plugins:
        configure = getattr(plugin, "configure", None)
        if configure is not None and plugin.name in needed:
            recording = _Recording(ruleset.lists)
            configure(recording)
            config.append((plugin.name, tuple(sorted((k, repr(ruleset.lists.get(k))) for k in recording.read))))
    aggregates = sorted(chosen.values(), key=lambda d: d.name)
    signature = (tuple((d.name, d.aggregate, tuple(sorted(d.events)), d.by, d.window_s, d.field,
                        d.where.source if d.where else None,
                        _constants_in(d.where.source, ruleset.lists) if d.where else ()) for d in aggregates),
                 tuple(config), tuple(sorted(needed)))
    stateless = frozenset(p.name for p in plugins if getattr(p, "stateless", False))
    return FeaturePlan(names, aggregates, needed, signature, stateless)


class NeedsPlugin(Exception):
    """A rule read a feature of a plugin the plan left out: restart with it."""

    def __init__(self, names: set[str]) -> None:
        super().__init__(", ".join(sorted(names)))
        self.names = frozenset(names)


@dataclass
class Tally:
    """What one run counted (summable across partitions)."""

    variants: list[str]
    events: int = 0
    evaluated: int = 0
    invalid: int = 0
    flagged: list[int] = field(default_factory=list)
    true_positive: list[int] = field(default_factory=list)
    false_positive: list[int] = field(default_factory=list)
    unreviewed: list[int] = field(default_factory=list)
    flagged_targets: list[int] = field(default_factory=list)
    rule_errors: list[int] = field(default_factory=list)
    targets: int = 0
    fires: list[dict[str, int]] = field(default_factory=list)
    samples: dict[tuple[int, int], list[tuple[int, dict[str, Any]]]] = field(default_factory=dict)
    """(a, b) -> [(-hash, sample)]: a max-heap keeping the ``sample_size`` smallest hashes."""
    plugins: tuple[str, ...] = ()
    per_account: bool = False

    @classmethod
    def empty(cls, variants: list[str], pairs: tuple[tuple[int, int], ...]) -> Tally:
        n = len(variants)
        return cls(variants, flagged=[0] * n, true_positive=[0] * n, false_positive=[0] * n,
                   unreviewed=[0] * n, flagged_targets=[0] * n, rule_errors=[0] * n,
                   fires=[{} for _ in range(n)], samples={p: [] for p in pairs})

    def merge(self, other: Tally, sample_size: int) -> None:
        self.events += other.events
        self.evaluated += other.evaluated
        self.invalid += other.invalid
        self.targets += other.targets
        for name in ("flagged", "true_positive", "false_positive", "unreviewed", "flagged_targets",
                     "rule_errors"):
            mine, theirs = getattr(self, name), getattr(other, name)
            for i, value in enumerate(theirs):
                mine[i] += value
        for i, fires in enumerate(other.fires):
            for rule_id, n in fires.items():
                self.fires[i][rule_id] = self.fires[i].get(rule_id, 0) + n
        for pair, heap in other.samples.items():
            mine_heap = self.samples.setdefault(pair, [])
            for item in heap:
                _offer(mine_heap, item, sample_size)
        self.plugins = tuple(sorted(set(self.plugins) | set(other.plugins)))

    def sample_list(self, pair: tuple[int, int]) -> list[dict[str, Any]]:
        """The sampled events of a pair, in a stable order (by their hash)."""
        return [s for _, s in sorted(self.samples.get(pair, []), key=lambda item: -item[0])]


def _offer(heap: list[tuple[int, dict[str, Any]]], item: tuple[int, dict[str, Any]], size: int) -> None:
    if any(existing[1]["event_id"] == item[1]["event_id"] for existing in heap):
        return
    if len(heap) < size:
        heapq.heappush(heap, item)
    elif item[0] > heap[0][0]:
        heapq.heapreplace(heap, item)


def sample_key(event_id: str) -> int:
    """Deterministic sampling order: SHA-256 of the event id (independent of partitions and order)."""
    return int.from_bytes(hashlib.sha256(event_id.encode()).digest()[:8], "big")


class ScenarioRunner:
    """Feature state plus the compiled variants; :meth:`feed` one stored event at a time."""

    def __init__(self, spec: RunSpec, *, geo: GeoProvider | None, extra_plugins: frozenset[str] = frozenset(),
                 screening: ScreeningPort | None = None) -> None:
        self.spec = spec
        sources = dict(spec.sources)
        self.rulesets = [variant_ruleset(sources, v.overrides) for v in spec.variants]
        self.rules = [reduced_rules(r, spec.rule_ids) for r in self.rulesets]
        self.event_types = frozenset(t for by_type in self.rules for t in by_type)
        self.plan = plan_features(self.rulesets[0], self.rules[0], extra_plugins=extra_plugins,
                                  home_country=spec.home_country)
        self.geo = geo
        plugins: list[FeaturePlugin] = builtin_plugins(home_country=spec.home_country, screening=screening)
        for plugin in plugins:
            configure = getattr(plugin, "configure", None)
            if configure is not None:
                configure(self.rulesets[0].lists)
        self.missing: set[str] = set()
        computes: dict[str, Compute] = {}
        for plugin in plugins:
            own = computes_of([plugin])
            if plugin.name in self.plan.plugins or getattr(plugin, "stateless", False):
                computes.update(own)
            else:
                computes.update({n: self._guard(plugin.name, c) for n, c in own.items()})
        self.aggregates = Aggregates(self.plan.aggregates, allowed_lateness_s=self.rulesets[0].allowed_lateness_s)
        computes.update(computes_of([self.aggregates]))
        self.computes = computes
        self.stateful = [p for p in plugins if p.name in self.plan.plugins and not getattr(p, "stateless", False)]
        self.names = sorted(n for n in self.plan.names if not n.startswith("event."))
        self.tally = Tally.empty([v.name for v in spec.variants], spec.pairs)
        self.tally.plugins = tuple(sorted(self.plan.plugins))
        self.tally.per_account = self.plan.per_account

    def _guard(self, plugin: str, compute: Compute) -> Compute:
        def guarded(env: EvalEnv) -> Any:
            self.missing.add(plugin)
            return compute(env)

        return guarded

    def feed(self, payload: str | bytes, verdict: str | None, evaluate: bool) -> None:
        """Fold one stored event into the features; with ``evaluate``, run every variant on it."""
        try:
            event = parse_event(payload)
        except InvalidEvent:
            self.tally.invalid += 1
            return
        ip = event.ip
        info = self.geo.lookup(ip) if (ip is not None and self.geo is not None) else None
        env = EvalEnv(event, event.occurred_at.timestamp(), info, self.computes)
        for plugin in self.stateful:
            plugin.observe(env)
        self.aggregates.observe(env)
        tally = self.tally
        tally.events += 1
        event_type: str = event.type  # type: ignore[attr-defined]
        if evaluate and event_type in self.event_types:
            tally.evaluated += 1
            self._evaluate(env, event_type)
        for plugin in self.stateful:
            plugin.commit(env, verdict or "allow")
        if self.missing:
            raise NeedsPlugin(self.missing)

    def _evaluate(self, env: EvalEnv, event_type: str) -> None:
        tally = self.tally
        flags: list[bool] = []
        for i, by_type in enumerate(self.rules):
            hit = False
            for rule in by_type.get(event_type, ()):
                try:
                    fired = rule.when.evaluate(env)
                except Exception:  # a failing rule is counted, never a crash (as in the engine)
                    tally.rule_errors[i] += 1
                    continue
                if fired:
                    hit = True
                    tally.fires[i][rule.id] = tally.fires[i].get(rule.id, 0) + 1
            flags.append(hit)
        event_id = env.event.id
        truth = self.spec.truth
        attack, typology = truth.judge(event_id) if truth is not None else (None, None)
        target = bool(attack) and truth is not None and (truth.targets is None or typology in truth.targets)
        if target:
            tally.targets += 1
        for i, hit in enumerate(flags):
            if not hit:
                continue
            tally.flagged[i] += 1
            if attack is None:
                tally.unreviewed[i] += 1
            elif attack:
                tally.true_positive[i] += 1
            else:
                tally.false_positive[i] += 1
            if target:
                tally.flagged_targets[i] += 1
        for pair in self.spec.pairs:
            a, b = pair
            if flags[a] and not flags[b]:
                _offer(tally.samples[pair], (-sample_key(event_id), self._sample(env, typology)),
                       self.spec.sample_size)

    def _sample(self, env: EvalEnv, typology: str | None) -> dict[str, Any]:
        event: Any = env.event
        values: dict[str, Any] = {}
        for name in self.names:
            try:
                values[name] = jsonable(env[name])
            except Exception:  # noqa: S112 - a feature that does not apply to this event type
                continue
        amount = getattr(event, "amount_jpy", None)
        if amount is None and getattr(event, "currency", None) == "JPY":
            amount = event.amount
        return {"event_id": event.id, "account_id": event.account_id, "event_type": event.type,
                "occurred_at": event.occurred_at.isoformat(),
                "amount_jpy": str(amount) if isinstance(amount, Decimal) else amount,
                "values": values, "label": typology}


def parse_threshold_value(text: str) -> int | float:
    """``8`` → 8, ``0.5`` → 0.5, ``1e6`` → 1000000.0; anything else is an error naming the value."""
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        raise InvalidRequest(f"threshold value {text!r} is not a number",
                             details=[{"field": "values", "message": "not a number", "kind": "value_error"}]) from None
    if value != value or value in (float("inf"), float("-inf")):
        raise InvalidRequest(f"threshold value {text!r} is not a finite number",
                             details=[{"field": "values", "message": "not finite", "kind": "value_error"}])
    return value


def iter_pairs(n: int, current: int) -> Iterator[tuple[int, int]]:
    """The sampled pairs of a sweep: the current variant against its neighbours in value order."""
    for neighbour in (current - 1, current + 1):
        if 0 <= neighbour < n:
            yield (current, neighbour)
            yield (neighbour, current)
