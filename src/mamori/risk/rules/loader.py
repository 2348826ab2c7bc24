"""Reading rule sets from YAML files and compiling them once.

A rule set is a directory (or one file). Every ``*.yaml`` file in it (except ``*.test.yaml``, which
hold rule tests) may contain these sections; ``docs/rules.md`` is the full reference::

    ruleset:   {name, version, description, thresholds: {challenge: 40, hold: 70, block: 100}}
    lists:     {high_risk_countries: [KP, IR]}            # named constants for expressions
    features:  {acct_pw_fail_10m: {aggregate: count, events: [login], by: account, window: 10m,
                                   where: 'event.result == "failure"'}}
    rules:     [{id, version, description, events, when, score, action, tags, reference, mode}]

Every problem is reported with file, line and column; :func:`check_ruleset` returns all of them,
:func:`load_ruleset` raises :class:`RuleCompileError` listing all of them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from mamori.events.models import EVENT_TYPES
from mamori.kit.errors import RuleCompileError
from mamori.risk.features.aggregates import AggregateDef
from mamori.risk.features.base import KEY_DIMENSIONS, FeatureDef
from mamori.risk.features.registry import builtin_feature_defs
from mamori.risk.rules.expr import CompiledExpr, compile_expr
from mamori.risk.rules.model import RULE_MODES, Rule, Ruleset, Verdict
from mamori.risk.rules.yamlpos import Located, load_located

_ID = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]{0,63}$")
_FEATURE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)\s*(s|m|h|d)?$")
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, None: 1}
ALL_TYPES = frozenset(EVENT_TYPES)
RULE_KEYS = {"id", "version", "description", "description_ja", "events", "when", "score", "action",
             "tags", "reference", "mode", "on_error", "alert"}
FEATURE_KEYS = {"aggregate", "events", "by", "window", "field", "where", "description"}


@dataclass
class _Problems:
    items: list[RuleCompileError] = field(default_factory=list)

    def add(self, origin: str, pos: tuple[int, int], message: str) -> None:
        line, column = pos
        self.items.append(RuleCompileError(f"{origin}:{line}:{column}: {message}",
                                           details={"file": origin, "line": line, "column": column}))

    def add_error(self, exc: RuleCompileError) -> None:
        d = exc.details or {}
        prefix = f"{d.get('file')}:{d.get('line')}:{d.get('column')}: "
        message = exc.message if exc.message.startswith(str(d.get("file"))) else prefix + exc.message
        self.items.append(RuleCompileError(message, details=d))


def parse_duration(value: Any) -> float | None:
    """``30s``, ``10m``, ``1h``, ``7d`` or a number of seconds; None if not a positive duration."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if value > 0 else None
    m = _DURATION.match(str(value).strip())
    if not m:
        return None
    seconds = float(m.group(1)) * _UNITS[m.group(2)]
    return seconds if seconds > 0 else None


def _event_types(value: Any, problems: _Problems, origin: str, pos: tuple[int, int]) -> frozenset[str] | None:
    if value is None:
        return ALL_TYPES
    items = [value] if isinstance(value, str) else value
    if not isinstance(items, list) or not items:
        problems.add(origin, pos, "'events' must be an event type or a list of them")
        return None
    unknown = [t for t in items if t not in ALL_TYPES]
    if unknown:
        problems.add(origin, pos, f"unknown event type {unknown[0]!r}; expected one of {sorted(ALL_TYPES)}")
        return None
    return frozenset(items)


def any_contains(text: str | None, needles: Iterable[str]) -> bool:
    """True when ``text`` contains any of ``needles`` (e.g. a user agent against automation markers)."""
    return text is not None and any(n in text for n in needles)


RULE_FUNCTIONS: dict[str, Callable[..., Any]] = {"any_contains": any_contains}


class _Compiler:
    def __init__(self) -> None:
        self.builtin = builtin_feature_defs()
        self.lists: dict[str, Any] = {}
        self.aggregates: dict[str, AggregateDef] = {}
        self.problems = _Problems()

    def names_for(self, types: frozenset[str]) -> Callable[[str], bool]:
        def allowed(name: str) -> bool:
            if name in self.aggregates:
                return True
            feature: FeatureDef | None = self.builtin.get(name)
            if feature is None:
                return False
            return feature.event_types is None or types <= feature.event_types

        return allowed

    def expr(self, source: Any, types: frozenset[str], origin: str, pos: tuple[int, int],
             what: str) -> CompiledExpr | None:
        if not isinstance(source, str) or not source.strip():
            self.problems.add(origin, pos, f"'{what}' must be a non-empty expression")
            return None
        try:
            return compile_expr(source, allowed_names=self.names_for(types), constants=self.lists,
                                functions=RULE_FUNCTIONS, origin=origin, line=pos[0], column=pos[1],
                                known_names=[*self.builtin, *self.aggregates])
        except RuleCompileError as exc:
            d = exc.details if isinstance(exc.details, dict) else {}
            if isinstance(d.get("line"), int) and d["line"] > pos[0]:
                # Later lines of a YAML block scalar are indented like its first line.
                d["column"] = int(d.get("column") or 1) + pos[1] - 1
            self._explain_unavailable(exc, types)
            self.problems.add_error(exc)
            return None

    def _explain_unavailable(self, exc: RuleCompileError, types: frozenset[str]) -> None:
        m = re.search(r"unknown name '([^']+)'", exc.message)
        feature = self.builtin.get(m.group(1)) if m else None
        if feature is not None and feature.event_types is not None:
            missing = sorted(types - feature.event_types)
            exc.message = (f"'{feature.name}' is not available for event type(s) {missing} "
                           f"(only for {sorted(feature.event_types)}); narrow the rule's 'events'")

    def lists_section(self, section: Any, origin: str, pos: tuple[int, int]) -> None:
        if not isinstance(section, dict):
            self.problems.add(origin, pos, "'lists' must be a mapping of name to list")
            return
        for name, items in section.items():
            p = section.pos(name) if isinstance(section, Located) else pos
            if name in self.builtin:
                self.problems.add(origin, p, f"list {name!r} has the name of a feature; rules could not read "
                                  "the feature any more: choose another name")
                continue
            scalar = isinstance(items, (str, int, float)) and not isinstance(items, bool)
            if isinstance(items, dict):  # a table of numbers, e.g. limits by customer segment
                if not _FEATURE_NAME.match(name) or not all(
                        isinstance(v, (int, float)) and not isinstance(v, bool) for v in items.values()):
                    self.problems.add(origin, p, f"table {name!r} must map names to numbers")
                else:
                    self.lists[name] = {str(k): v for k, v in items.items()}
                continue
            if not _FEATURE_NAME.match(name) or not (isinstance(items, list) or scalar):
                self.problems.add(origin, p, f"list {name!r} must have a lower_case name and a list, a table "
                                  "of numbers, or a single number or text")
                continue
            if isinstance(items, list) and not all(isinstance(i, (str, int, float)) for i in items):
                self.problems.add(origin, p, f"list {name!r} may only hold numbers and text")
                continue
            self.lists[name] = frozenset(items) if isinstance(items, list) else items

    def features_section(self, section: Any, origin: str, pos: tuple[int, int]) -> None:
        if not isinstance(section, Located):
            self.problems.add(origin, pos, "'features' must be a mapping of name to definition")
            return
        for name, spec in section.items():
            self.feature(name, spec, origin, section.pos(name))

    def feature(self, name: str, spec: Any, origin: str, pos: tuple[int, int]) -> None:
        if not _FEATURE_NAME.match(name):
            self.problems.add(origin, pos, f"feature name {name!r} must be lower_case letters, digits, _")
            return
        if name in self.builtin or name in self.aggregates:
            self.problems.add(origin, pos, f"feature {name!r} is already defined")
            return
        if not isinstance(spec, Located):
            self.problems.add(origin, pos, f"feature {name!r} must be a mapping")
            return
        for key in spec:
            if key not in FEATURE_KEYS:
                self.problems.add(origin, spec.pos(key), f"unknown key {key!r} in feature {name!r}; "
                                  f"expected {sorted(FEATURE_KEYS)}")
        aggregate = spec.get("aggregate")
        if aggregate not in ("count", "sum", "distinct"):
            self.problems.add(origin, spec.pos("aggregate"), "'aggregate' must be count, sum or distinct")
            return
        types = _event_types(spec.get("events"), self.problems, origin, spec.pos("events"))
        by = spec.get("by")
        if by not in KEY_DIMENSIONS:
            self.problems.add(origin, spec.pos("by"), f"'by' must be one of {list(KEY_DIMENSIONS)}")
            return
        window = parse_duration(spec.get("window"))
        if window is None:
            self.problems.add(origin, spec.pos("window"), "'window' must be a duration like 30s, 10m, 1h, 7d")
            return
        field_name = spec.get("field")
        if aggregate == "count" and field_name is not None:
            self.problems.add(origin, spec.pos("field"), "'field' is only for sum and distinct")
            return
        if aggregate != "count":
            if types is None:
                return
            if not isinstance(field_name, str) or not self.names_for(types)(field_name):
                self.problems.add(origin, spec.pos("field"), f"'field' must name an event field or feature "
                                  f"available for {sorted(types)} (got {field_name!r})")
                return
        if types is None:
            return
        where = None
        if "where" in spec:
            where = self.expr(spec["where"], types, origin, spec.pos("where"), "where")
            if where is None:
                return
        self.aggregates[name] = AggregateDef(
            name=name, description=str(spec.get("description") or f"{aggregate} by {by} over {window:g}s"),
            aggregate=aggregate, events=types, by=by, window_s=window, field=field_name, where=where)

    def rule(self, spec: Any, origin: str, pos: tuple[int, int], seen: dict[str, str]) -> Rule | None:
        if not isinstance(spec, Located):
            self.problems.add(origin, pos, "each rule must be a mapping")
            return None
        before = len(self.problems.items)
        for key in spec:
            if key not in RULE_KEYS:
                self.problems.add(origin, spec.pos(key), f"unknown key {key!r} in rule; expected {sorted(RULE_KEYS)}")
        rule_id = spec.get("id")
        if not isinstance(rule_id, str) or not _ID.match(rule_id):
            self.problems.add(origin, spec.pos("id") if "id" in spec else (spec.line, 1),
                              "rule 'id' is required: letters, digits, '.', '-', '_'")
            return None
        if rule_id in seen:
            self.problems.add(origin, spec.pos("id"), f"rule id {rule_id!r} already used in {seen[rule_id]}")
        seen[rule_id] = origin
        version = spec.get("version", 1)
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            self.problems.add(origin, spec.pos("version"), "'version' must be a positive integer")
        description = spec.get("description")
        if not isinstance(description, str) or not description.strip():
            self.problems.add(origin, spec.pos("description") if "description" in spec else spec.pos("id"),
                              f"rule {rule_id}: 'description' is required")
        score = spec.get("score", 0)
        if not isinstance(score, int) or isinstance(score, bool) or not -1000 <= score <= 1000:
            self.problems.add(origin, spec.pos("score"), "'score' must be an integer between -1000 and 1000")
        action = self._verdict(spec, "action", origin)
        on_error = self._verdict(spec, "on_error", origin)
        if "score" not in spec and action is None:
            self.problems.add(origin, spec.pos("id"), f"rule {rule_id}: give a 'score', an 'action' or both")
        mode = spec.get("mode", "active")
        if mode not in RULE_MODES:
            self.problems.add(origin, spec.pos("mode"), f"'mode' must be one of {list(RULE_MODES)}")
        tags = spec.get("tags", [])
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            self.problems.add(origin, spec.pos("tags"), "'tags' must be a list of text")
            tags = []
        types = _event_types(spec.get("events"), self.problems, origin, spec.pos("events"))
        when = self.expr(spec.get("when"), types, origin, spec.pos("when"), "when") if types else None
        if when is None or types is None or len(self.problems.items) > before:
            return None
        alert = spec.get("alert", action is not None and action >= Verdict.hold)
        return Rule(id=rule_id, version=version, description=str(description).strip(), when=when, events=types,
                    score=score, action=action, tags=tuple(tags), reference=spec.get("reference"),
                    mode=mode, on_error=on_error, alert=bool(alert),
                    description_ja=spec.get("description_ja"), origin=f"{origin}:{spec.line}")

    def _verdict(self, spec: Located, key: str, origin: str) -> Verdict | None:
        value = spec.get(key)
        if value is None:
            return None
        try:
            return Verdict[value]
        except (KeyError, TypeError):
            self.problems.add(origin, spec.pos(key), f"'{key}' must be one of allow, challenge, hold, block")
            return None


def _sources(path: Path) -> dict[str, str]:
    if path.is_file():
        return {path.name: path.read_text(encoding="utf-8")}
    if not path.is_dir():
        raise RuleCompileError(f"rule set not found: {path}", details={"file": str(path)})
    files = sorted(p for p in path.glob("*.yaml") if not p.name.endswith(".test.yaml"))
    if not files:
        raise RuleCompileError(f"no *.yaml rule files in {path}", details={"file": str(path)})
    return {p.name: p.read_text(encoding="utf-8") for p in files}


def compile_sources(sources: dict[str, str]) -> tuple[Ruleset | None, list[RuleCompileError]]:
    """Compile rule files given as ``{file name: text}``; returns the rule set or the problems."""
    compiler = _Compiler()
    problems = compiler.problems
    docs: list[tuple[str, Located]] = []
    for origin, text in sources.items():
        try:
            doc = load_located(text, origin)
        except RuleCompileError as exc:
            problems.add_error(exc)
            continue
        if doc is None:
            continue
        if not isinstance(doc, Located):
            problems.add(origin, (1, 1), "a rule file must be a mapping with ruleset/lists/features/rules")
            continue
        for key in doc:
            if key not in ("ruleset", "lists", "features", "rules"):
                problems.add(origin, doc.pos(key), f"unknown section {key!r}; expected ruleset, lists, "
                             "features, rules")
        docs.append((origin, doc))
    meta: Located | None = None
    for origin, doc in docs:
        if "ruleset" in doc:
            if meta is not None:
                problems.add(origin, doc.pos("ruleset"), "'ruleset' is declared in more than one file")
            meta = doc["ruleset"] if isinstance(doc["ruleset"], Located) else None
            meta_origin = origin
        if "lists" in doc:
            compiler.lists_section(doc["lists"], origin, doc.pos("lists"))
    for origin, doc in docs:
        if "features" in doc:
            compiler.features_section(doc["features"], origin, doc.pos("features"))
    rules: list[Rule] = []
    seen: dict[str, str] = {}
    for origin, doc in docs:
        section = doc.get("rules")
        if section is None:
            continue
        if not isinstance(section, list):
            problems.add(origin, doc.pos("rules"), "'rules' must be a list")
            continue
        for spec in section:
            rule = compiler.rule(spec, origin, doc.pos("rules"), seen)
            if rule is not None:
                rules.append(rule)
    name, version, description = "rules", 1, ""
    allowed_lateness = 900.0
    thresholds: dict[Verdict, int] = {}
    thresholds_by_event: dict[str, dict[Verdict, int]] = {}
    if meta is None:
        problems.add(next(iter(sources), "<rules>"), (1, 1), "no 'ruleset:' section (name, version) found")
    else:
        name = str(meta.get("name", "rules"))
        version = meta.get("version", 1)
        if not isinstance(version, int) or version < 1:
            problems.add(meta_origin, meta.pos("version"), "ruleset 'version' must be a positive integer")
        description = str(meta.get("description", ""))
        if "allowed_lateness" in meta:
            lateness = parse_duration(meta["allowed_lateness"])
            if lateness is None:
                problems.add(meta_origin, meta.pos("allowed_lateness"), "'allowed_lateness' must be a duration")
            else:
                allowed_lateness = lateness
        raw = meta.get("thresholds") or {}
        by_event_raw = raw.pop("by_event", {}) if isinstance(raw, dict) else {}
        thresholds = _thresholds(raw, meta_origin, meta.pos("thresholds"), problems)
        if not isinstance(by_event_raw, dict):
            problems.add(meta_origin, meta.pos("thresholds"), "'by_event' must map event types to thresholds")
            by_event_raw = {}
        for event_type, spec in by_event_raw.items():
            if event_type not in ALL_TYPES:
                problems.add(meta_origin, meta.pos("thresholds"), f"unknown event type {event_type!r} in by_event")
                continue
            thresholds_by_event[event_type] = _thresholds(spec, meta_origin, meta.pos("thresholds"), problems)
    if problems.items:
        return None, problems.items
    digest = hashlib.sha256(b"".join(f"{k}\0{v}\0".encode() for k, v in sorted(sources.items()))).hexdigest()
    return Ruleset(name=name, version=version, digest=digest, rules=tuple(rules),
                   aggregates=tuple(compiler.aggregates.values()), thresholds=thresholds,
                   thresholds_by_event=thresholds_by_event, allowed_lateness_s=allowed_lateness,
                   lists=dict(compiler.lists), description=description, sources=dict(sources)), []


def _thresholds(raw: Any, origin: str, pos: tuple[int, int], problems: _Problems) -> dict[Verdict, int]:
    out: dict[Verdict, int] = {}
    if not isinstance(raw, dict):
        problems.add(origin, pos, "thresholds must map challenge/hold/block to integer scores")
        return out
    for key, value in raw.items():
        if key not in ("challenge", "hold", "block") or not isinstance(value, int) or isinstance(value, bool):
            where = raw.pos(key) if isinstance(raw, Located) else pos
            problems.add(origin, where, f"threshold {key!r} must be challenge, hold or block with an integer score")
        else:
            out[Verdict[key]] = value
    return out


def _raise(problems: Iterable[RuleCompileError]) -> None:
    items = list(problems)
    if items:
        more = f" (and {len(items) - 1} more)" if len(items) > 1 else ""
        raise RuleCompileError(items[0].message + more, details=[p.details for p in items])


def check_ruleset(path: str | Path) -> list[RuleCompileError]:
    """Every problem of the rule set at ``path`` (empty when it compiles)."""
    try:
        return compile_sources(_sources(Path(path)))[1]
    except RuleCompileError as exc:
        return [exc]


def load_ruleset(path: str | Path) -> Ruleset:
    return ruleset_from_sources(_sources(Path(path)))


def ruleset_from_sources(sources: dict[str, str]) -> Ruleset:
    ruleset, problems = compile_sources(sources)
    _raise(problems)
    assert ruleset is not None
    return ruleset


def builtin_rules_path() -> Path:
    return Path(str(resources.files("mamori.risk") / "builtin_rules"))


def builtin_ruleset() -> Ruleset:
    """The rule set shipped with mamori (``src/mamori/risk/builtin_rules``)."""
    return load_ruleset(builtin_rules_path())
