"""Rule tests an analyst writes next to the rules (``*.test.yaml``), run by ``mamori rules test``.

Each test is a short story of events for a fresh engine; any event may carry ``expect`` (decision,
rules that must fire, rules that must not). Events may omit ``id`` and ``account_id`` (defaults are
filled in) and give ``at: +90s`` (or ``+10m``, ``+2h``, ``+1d``, ``+1d5m``) relative to the test's
``start`` instead of ``occurred_at``. A test's ``defaults`` fill in fields of events of the same
``type`` (or of events without one); a test's ``lists`` replace the rule set's named lists; a test's
``risk_list`` (address or entity entries in the list import format, ``docs/aml.md``) and ``exposure``
(``{chain, address, category, hops}``) give the engine a screener for the address-screening rules::

    tests:
      - name: five password failures from an unknown device lock it
        start: 2026-01-05T10:00:00+09:00
        events:
          - {type: login, result: failure, method: password, ip: 153.156.1.1, device_id: d-x, at: +0s}
          ...
          - type: login
            result: success
            method: password
            ip: 153.156.1.1
            device_id: d-x
            at: +5m
            expect: {decision: block, fired: [LOGIN-LOCK-001]}
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import yaml

from mamori.adapters.geo import GeoProvider
from mamori.events.parse import parse_event
from mamori.kit.errors import InvalidEvent
from mamori.risk.engine import Engine
from mamori.risk.rules.loader import ruleset_from_sources
from mamori.risk.rules.model import Ruleset

DEFAULT_START = "2026-01-05T10:00:00+09:00"
_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


@dataclass
class TestResult:
    file: str
    name: str
    failures: list[str] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return not self.failures


def _event_dict(raw: dict[str, Any], start: datetime, index: int, test_index: int) -> dict[str, Any]:
    data = {k: v for k, v in raw.items() if k not in ("at", "expect")}
    data.setdefault("id", f"t{test_index}-e{index}")
    data.setdefault("account_id", "acct-test")
    if "at" in raw:
        data["occurred_at"] = (start + timedelta(seconds=_offset(str(raw["at"])))).isoformat()
    return data


def _offset(text: str) -> float:
    """``+90s``, ``+10m``, ``+1d5m``, ``+0s`` -> seconds after the test's start."""
    body = text.strip().removeprefix("+")
    parts = _PART.findall(body)
    if not parts or "".join(n + u for n, u in parts) != body:
        raise ValueError(f"'at' must look like +90s, +10m, +2h, +1d or +1d5m (got {text!r})")
    return sum(float(n) * _UNIT_SECONDS[u] for n, u in parts)


def _check(expect: dict[str, Any], decision: Any, index: int) -> list[str]:
    failures = []
    fired = {r.id for r in decision.rules}
    want = expect.get("decision")
    if want is not None and decision.verdict.name != want:
        failures.append(f"event {index}: expected decision {want}, got {decision.verdict.name} "
                        f"(fired: {sorted(fired) or 'none'})")
    for rule_id in expect.get("fired", []):
        if rule_id not in fired:
            failures.append(f"event {index}: expected {rule_id} to fire (fired: {sorted(fired) or 'none'})")
    for rule_id in expect.get("not_fired", []):
        if rule_id in fired:
            values = next(r.values for r in decision.rules if r.id == rule_id)
            failures.append(f"event {index}: {rule_id} fired but should not (values: {values})")
    return failures


def _with_lists(ruleset: Ruleset, lists: dict[str, Any] | None) -> Ruleset:
    """The rule set with some named lists replaced (e.g. a test's own ``thin_symbols``)."""
    if not lists:
        return ruleset
    override = yaml.safe_dump({"lists": lists}, allow_unicode=True)
    return ruleset_from_sources({**ruleset.sources, "~test-lists.yaml": override})


def _screening(test: dict[str, Any]) -> Any:
    """A screener over the test's ``risk_list`` (and ``exposure``) entries, or None (mamori.aml.screening)."""
    if not test.get("risk_list") and not test.get("exposure"):
        return None
    from mamori.aml.screening import static_screener

    return static_screener(test.get("risk_list") or (), test.get("exposure") or ())


def run_test_file(path: Path, ruleset: Ruleset, geo: GeoProvider | None) -> list[TestResult]:
    doc = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    results = []
    for t_index, test in enumerate(doc.get("tests", []), start=1):
        result = TestResult(path.name, str(test.get("name", f"test {t_index}")))
        results.append(result)
        try:
            screening = _screening(test)
        except ValueError as exc:
            result.failures.append(str(exc))
            continue
        engine = Engine(_with_lists(ruleset, test.get("lists")), geo=geo, screening=screening)
        start = datetime.fromisoformat(str(test.get("start", DEFAULT_START)))
        defaults = test.get("defaults", {})
        for e_index, raw in enumerate(test.get("events", []), start=1):
            applies = "type" not in raw or raw["type"] == defaults.get("type", raw["type"])
            merged = {**defaults, **raw} if applies else dict(raw)
            try:
                event = parse_event(_event_dict(merged, start, e_index, t_index))
            except (InvalidEvent, ValueError) as exc:
                result.failures.append(f"event {e_index}: {getattr(exc, 'message', exc)}")
                break
            decision = engine.process(event)
            if "expect" in raw:
                result.failures.extend(_check(raw["expect"], decision, e_index))
    return results


def run_tests(directory: Path, ruleset: Ruleset, geo: GeoProvider | None) -> list[TestResult]:
    files = sorted(directory.glob("*.test.yaml")) if directory.is_dir() else []
    return [r for f in files for r in run_test_file(f, ruleset, geo)]
