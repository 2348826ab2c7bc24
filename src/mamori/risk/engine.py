"""The in-process risk engine: one event in, one explained decision out.

For each event: enrich the IP, let every feature plugin fold the event into its state, evaluate the
rule set's rules for the event type over a lazy feature environment, combine the fired rules into a
verdict (the strongest action wins; the summed score can raise it through the rule set's thresholds;
a rule that fails applies its failure verdict), then let plugins learn from the decision. The
decision records the rule set identity, every fired rule with the feature values it read, and the
errors, so it can be explained and replayed.

The engine holds feature state in memory and is not thread-safe: one engine per process (or per
worker), fed events one at a time.
"""

from __future__ import annotations

import pickle
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from mamori.risk.features.aggregates import Aggregates
from mamori.risk.features.base import Compute, EvalEnv, FeaturePlugin
from mamori.risk.features.registry import builtin_plugins, computes_of
from mamori.risk.rules.model import DEFAULT_FAILURE_VERDICT, Rule, Ruleset, Verdict

if TYPE_CHECKING:
    from mamori.adapters.geo import GeoProvider
    from mamori.events.models import EventBase
    from mamori.risk.features.screening import ScreeningPort


SNAPSHOT_FORMAT = 1


@dataclass(frozen=True, slots=True)
class FiredRule:
    id: str
    version: int
    score: int
    action: Verdict | None
    description: str
    tags: tuple[str, ...]
    values: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "version": self.version, "score": self.score,
                "action": None if self.action is None else self.action.name,
                "description": self.description, "tags": list(self.tags),
                "values": {k: jsonable(v) for k, v in self.values.items()}}


@dataclass(frozen=True, slots=True)
class RuleFailure:
    rule_id: str
    error: str
    verdict: Verdict

    def to_dict(self) -> dict[str, Any]:
        return {"rule": self.rule_id, "error": self.error, "failure_verdict": self.verdict.name}


@dataclass(frozen=True, slots=True)
class Decision:
    event_id: str
    event_type: str
    account_id: str
    occurred_at: datetime
    verdict: Verdict
    score: int
    ruleset: str
    rules: tuple[FiredRule, ...] = ()
    errors: tuple[RuleFailure, ...] = ()
    shadow_rules: tuple[FiredRule, ...] = ()
    shadow_verdict: Verdict | None = None
    shadow_ruleset: str | None = None
    alert: bool = False
    features: dict[str, Any] = field(default_factory=dict)  # every value computed for this event

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "event_id": self.event_id, "event_type": self.event_type, "account_id": self.account_id,
            "occurred_at": self.occurred_at.isoformat(), "decision": self.verdict.name,
            "score": self.score, "rules": [r.to_dict() for r in self.rules],
            "ruleset": self.ruleset, "alert": self.alert,
        }
        if self.errors:
            out["errors"] = [e.to_dict() for e in self.errors]
        if self.shadow_rules or self.shadow_ruleset:
            out["shadow"] = {"rules": [r.to_dict() for r in self.shadow_rules],
                             "decision": self.shadow_verdict.name if self.shadow_verdict is not None else None,
                             "ruleset": self.shadow_ruleset}
        out["features"] = {k: jsonable(v) for k, v in self.features.items() if not k.startswith("event.")}
        return out


def jsonable(value: Any) -> Any:
    """Decimal as text (exact), floats rounded for reading, everything else as JSON knows it."""
    if isinstance(value, Decimal):
        return str(int(value)) if value == value.to_integral_value() else format(value.normalize(), "f")
    if isinstance(value, str):
        return str(value)  # plain text for StrEnum members
    if isinstance(value, float):
        return round(value, 6)
    if isinstance(value, (frozenset, set, tuple)):
        return sorted(value, key=str)
    if isinstance(value, datetime):
        return value.isoformat()
    return value


@dataclass(frozen=True, slots=True)
class _Outcome:
    verdict: Verdict
    score: int
    fired: tuple[FiredRule, ...]
    failures: tuple[RuleFailure, ...]
    alert: bool


def evaluate(env: EvalEnv, rules: tuple[Rule, ...], ruleset: Ruleset, event_type: str) -> _Outcome:
    """Run ``rules`` over ``env`` (pure apart from the lazy feature cache) and combine the result."""
    fired: list[FiredRule] = []
    failures: list[RuleFailure] = []
    score = 0
    verdict = Verdict.allow
    alert = False
    for rule in rules:
        try:
            hit = rule.when.evaluate(env)
        except Exception as exc:  # a failing rule is data on the decision, never a crash
            fail = rule.on_error or DEFAULT_FAILURE_VERDICT.get(event_type, Verdict.allow)
            failures.append(RuleFailure(rule.id, f"{type(exc).__name__}: {exc}", fail))
            if fail > verdict:
                verdict = fail
            continue
        if not hit:
            continue
        values = {n: env[n] for n in rule.when.names if n in env}
        fired.append(FiredRule(rule.id, rule.version, rule.score, rule.action, rule.description, rule.tags,
                               values))
        score += rule.score
        if rule.action is not None and rule.action > verdict:
            verdict = rule.action
        alert = alert or rule.alert
    by_score = ruleset.verdict_for_score(score, event_type)
    if by_score > verdict:
        verdict = by_score
    return _Outcome(verdict, score, tuple(fired), tuple(failures), alert or verdict >= Verdict.hold)


class Engine:
    """Feature state plus the active (and optional shadow) rule set."""

    def __init__(self, ruleset: Ruleset, *, geo: GeoProvider | None = None, shadow: Ruleset | None = None,
                 home_country: str = "JP", screening: ScreeningPort | None = None) -> None:
        self.geo = geo
        self.home_country = home_country
        self.screening = screening  # address screening (mamori.aml.screening.Screener); None: no list features
        self.plugins: list[FeaturePlugin] = builtin_plugins(home_country=home_country, screening=screening)
        self._builtin_computes = computes_of(self.plugins)
        self._stateful = [p for p in self.plugins if not getattr(p, "stateless", False)]
        self.aggregates = Aggregates(())
        self.ruleset = ruleset
        self.shadow: Ruleset | None = None
        self._install(ruleset, shadow)

    def _install(self, ruleset: Ruleset, shadow: Ruleset | None) -> None:
        defs = {d.name: d for d in ruleset.aggregates}
        if shadow is not None:
            for d in shadow.aggregates:
                if d.name in defs and defs[d.name].stream_key != d.stream_key:
                    raise ValueError(f"shadow rule set redefines feature {d.name!r} differently")
                defs.setdefault(d.name, d)
        aggregates = Aggregates(defs.values(), allowed_lateness_s=ruleset.allowed_lateness_s)
        self._fresh_streams = aggregates.adopt(self.aggregates)
        self.aggregates = aggregates
        self.computes: dict[str, Compute] = {**self._builtin_computes, **computes_of([aggregates])}
        for plugin in self.plugins:
            configure = getattr(plugin, "configure", None)
            if configure is not None:
                configure(ruleset.lists)  # e.g. lockout thresholds from the rule set's constants
        self.ruleset, self.shadow = ruleset, shadow
        self._active = _by_type(ruleset, "active")
        self._shadow_mode = _by_type(ruleset, "shadow")
        self._shadow_set = _by_type(shadow, "active") if shadow is not None else {}

    def set_ruleset(self, ruleset: Ruleset, *, shadow: Ruleset | None = None) -> list[str]:
        """Hot-swap rule sets, keeping feature state. Returns the names of aggregates that are new
        (their windows start empty unless the caller backfills them with :meth:`backfill`)."""
        self._install(ruleset, shadow)
        return [d.name for d in self.aggregates.definitions if d.stream_key in self._fresh_streams]

    def backfill(self, events: list[EventBase], names: list[str]) -> None:
        """Feed past events into the windows of newly added aggregates ``names`` only."""
        wanted = {d.stream_key for d in self.aggregates.definitions if d.name in names}
        for event in events:
            env = self._env(event)
            self.aggregates.observe(env, only=wanted)

    def restore(self, event: EventBase, verdict: str) -> None:
        """Fold a past event and its recorded verdict into the state without evaluating rules
        (used at start-up to rebuild state from the durable store)."""
        env = self._env(event)
        for plugin in self.plugins:
            plugin.observe(env)
        self.aggregates.observe(env)
        for plugin in self.plugins:
            plugin.commit(env, verdict)

    # -- snapshots ------------------------------------------------------------------------------
    def snapshot(self) -> bytes:
        """All feature state, serialised, so a restart need not replay the whole history.

        The snapshot is a pickle of mamori's own in-memory structures, written and read only by
        mamori in its data directory (whoever can write there can already change the database).
        """
        state = {
            "format": SNAPSHOT_FORMAT,
            "plugins": {p.name: {a: getattr(p, a) for a in getattr(p, "state_attributes", ())}
                        for p in self._stateful},
            "streams": {s.key: (s.retention, s.series) for s in self.aggregates.streams},
        }
        return pickle.dumps(state, protocol=5)

    def load_snapshot(self, data: bytes) -> list[str]:
        """Restore state saved by :meth:`snapshot`. Returns the names of window features the
        snapshot could not provide (new in the current rule set, or with a longer retention), which
        the caller backfills from stored events."""
        state = pickle.loads(data)  # noqa: S301 - our own file, see snapshot()
        if not isinstance(state, dict) or state.get("format") != SNAPSHOT_FORMAT:
            raise ValueError("not a mamori engine snapshot of this format")
        for plugin in self._stateful:
            for attribute, value in state["plugins"].get(plugin.name, {}).items():
                if attribute in getattr(plugin, "state_attributes", ()):
                    setattr(plugin, attribute, value)
        saved = state["streams"]
        missing = set()
        for stream in self.aggregates.streams:
            entry = saved.get(stream.key)
            if entry is not None and entry[0] >= stream.retention:
                stream.retention, stream.series = entry
            else:
                missing.add(stream.key)
        return [d.name for d in self.aggregates.definitions if d.stream_key in missing]

    def _env(self, event: EventBase) -> EvalEnv:
        ip = event.ip
        info = self.geo.lookup(ip) if (ip is not None and self.geo is not None) else None
        return EvalEnv(event, event.occurred_at.timestamp(), info, self.computes)

    def peek(self, event: EventBase) -> EvalEnv:
        """The features of ``event`` against the current state, without recording it: the login
        service asks whether a factor is locked before it spends a password hash on the attempt."""
        return self._env(event)

    def process(self, event: EventBase) -> Decision:
        env = self._env(event)
        stateful = self._stateful
        for plugin in stateful:
            plugin.observe(env)
        self.aggregates.observe(env)
        event_type: str = event.type  # type: ignore[attr-defined]
        ruleset = self.ruleset
        outcome = evaluate(env, self._active.get(event_type, ()), ruleset, event_type)
        shadow_rules: tuple[FiredRule, ...] = ()
        shadow_verdict = shadow_identity = None
        shadow_mode = self._shadow_mode.get(event_type)
        if shadow_mode:
            shadow_rules = evaluate(env, shadow_mode, ruleset, event_type).fired
        if self.shadow is not None:
            shadow_outcome = evaluate(env, self._shadow_set.get(event_type, ()), self.shadow, event_type)
            shadow_rules += shadow_outcome.fired
            shadow_verdict, shadow_identity = shadow_outcome.verdict, self.shadow.identity
        verdict_name = outcome.verdict.name
        for plugin in stateful:
            plugin.commit(env, verdict_name)
        return Decision(event_id=event.id, event_type=event_type, account_id=event.account_id,
                        occurred_at=event.occurred_at, verdict=outcome.verdict, score=outcome.score,
                        ruleset=ruleset.identity, rules=outcome.fired, errors=outcome.failures,
                        shadow_rules=shadow_rules, shadow_verdict=shadow_verdict,
                        shadow_ruleset=shadow_identity, alert=outcome.alert, features=env)


def _by_type(ruleset: Ruleset | None, mode: str) -> dict[str, tuple[Rule, ...]]:
    if ruleset is None:
        return {}
    types = {t for r in ruleset.rules for t in r.events}
    return {t: ruleset.rules_for(t, mode) for t in types}
