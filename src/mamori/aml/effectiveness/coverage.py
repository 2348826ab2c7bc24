"""Coverage: every FSA reference case and every risk of the firm's own risk assessment against the
scenarios that are live in the active rule set (FSA 「マネロン・テロ資金供与対策に関するガイドライン」
II-2 リスクの特定・評価・低減, and the 2025 effectiveness papers: each 参考事例 and each assessed
risk has a live scenario, or a documented reason why not).

A scenario is *live* when at least one of its rules is active in the rule set (rules in shadow or
disabled mode, or missing, do not mitigate anything yet), or is a detector that runs outside the
engine (:func:`mamori.aml.effectiveness.sources.non_engine_detectors`: the funds tracer re-checks open
traces on every chain-data import).

The risk assessment is a YAML file the firm keeps (``docs/aml-risk-assessment.example.yaml``)::

    firm: 例示暗号資産交換業株式会社
    version: "2026-04"
    assessed_at: 2026-04-01
    risks:
      - id: R-01
        title_ja: SNS型投資詐欺の被害者による送付
        title_en: Scam victims sending their funds out
        rating: high                 # low | medium | high (inherent risk)
        residual: medium             # optional
        scenarios: [AML-EXPOSURE-DIRECT, AML-FIRST-WITHDRAWAL]
        reference_cases: [F1]        # optional
    not_covered:                     # reference cases without a scenario, and why
      C3: 現金を取り扱わないため / we do not accept cash

Every problem is reported with its line (unknown scenario or reference case ids, bad ratings,
duplicate risk ids, missing fields), all at once.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from mamori.aml.effectiveness.sources import ScenarioLike, non_engine_detectors
from mamori.aml.reference_cases import BY_ID, CATEGORIES, REFERENCE_CASES
from mamori.kit.errors import InvalidRequest, RuleCompileError
from mamori.risk.rules.model import Ruleset
from mamori.risk.rules.yamlpos import Located, load_located

RATINGS: Final = ("low", "medium", "high")
MAX_FILE_BYTES: Final = 1_000_000
MAX_RISKS: Final = 2_000
RISK_KEYS: Final = {"id", "title_ja", "title_en", "rating", "residual", "scenarios", "reference_cases", "owner",
                    "notes"}
TOP_KEYS: Final = {"firm", "version", "assessed_at", "risks", "not_covered"}
_RISK_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")


def live_scenarios(scenarios: Sequence[ScenarioLike], ruleset: Ruleset) -> dict[str, tuple[str, ...]]:
    """Scenario id -> its rules that are active in ``ruleset`` (empty: not live)."""
    active = {r.id for r in ruleset.rules if r.mode == "active"} | set(non_engine_detectors())
    return {s.id: tuple(r for r in s.rule_ids if r in active) for s in scenarios}


@dataclass(frozen=True, slots=True)
class Risk:
    id: str
    title_ja: str
    title_en: str
    rating: str
    residual: str | None
    scenarios: tuple[str, ...]
    reference_cases: tuple[str, ...]
    line: int


@dataclass
class RiskAssessment:
    firm: str
    version: str
    assessed_at: str
    risks: list[Risk] = field(default_factory=list)
    not_covered: dict[str, str] = field(default_factory=dict)
    origin: str = ""


@dataclass
class _Problems:
    origin: str
    items: list[dict[str, Any]] = field(default_factory=list)

    def add(self, line: int, message: str) -> None:
        self.items.append({"file": self.origin, "line": line, "field": f"line {line}",
                           "message": message, "kind": "value_error"})


def _item_line(lines: list[str], start: int, item: str) -> int:
    """The line (1-based) at or after ``start`` where a list item is written."""
    pattern = re.compile(rf"(^|[\s\[,\-'\"]){re.escape(item)}($|[\s\],'\"#])")
    for number in range(start, min(len(lines), start + 200) + 1):
        if pattern.search(lines[number - 1]):
            return number
    return start


def _text_list(value: Any, key: str, line: int, problems: _Problems) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        problems.add(line, f"'{key}' must be a list of ids")
        return []
    return list(value)


def parse_risk_assessment(text: str, scenarios: Sequence[ScenarioLike], *,
                          origin: str = "risk-assessment.yaml") -> RiskAssessment:
    """Read and validate the firm's risk assessment; :class:`InvalidRequest` lists every problem."""
    if len(text.encode()) > MAX_FILE_BYTES:
        raise InvalidRequest(f"{origin}: the risk assessment is larger than {MAX_FILE_BYTES} bytes")
    try:
        doc = load_located(text, origin)
    except RuleCompileError as exc:
        raise InvalidRequest(exc.message, details=[{"file": origin, **(exc.details or {}),
                                                    "kind": "yaml_syntax"}]) from None
    problems = _Problems(origin)
    if not isinstance(doc, Located):
        problems.add(1, "the risk assessment must be a mapping with 'risks'")
        _raise(problems)
    assert isinstance(doc, Located)
    lines = text.splitlines()
    known = {s.id for s in scenarios}
    for key in doc:
        if key not in TOP_KEYS:
            problems.add(doc.pos(key)[0], f"unknown key {key!r}; expected {sorted(TOP_KEYS)}")
    out = RiskAssessment(str(doc.get("firm", "")), str(doc.get("version", "")), str(doc.get("assessed_at", "")),
                         origin=origin)
    raw_risks = doc.get("risks")
    if not isinstance(raw_risks, list) or not raw_risks:
        problems.add(doc.pos("risks")[0], "'risks' must be a non-empty list")
        raw_risks = []
    if len(raw_risks) > MAX_RISKS:
        problems.add(doc.pos("risks")[0], f"at most {MAX_RISKS} risks")
        raw_risks = raw_risks[:MAX_RISKS]
    seen: set[str] = set()
    for entry in raw_risks:
        risk = _risk(entry, lines, known, seen, problems, doc.pos("risks")[0])
        if risk is not None:
            out.risks.append(risk)
    raw_reasons = doc.get("not_covered")
    if raw_reasons is None:
        pass
    elif not isinstance(raw_reasons, Located):
        problems.add(doc.pos("not_covered")[0], "'not_covered' must map reference case ids to reasons")
    else:
        for case_id, reason in raw_reasons.items():
            line = raw_reasons.pos(case_id)[0]
            if case_id not in BY_ID:
                problems.add(line, f"unknown reference case {case_id!r}; known: {', '.join(BY_ID)}")
            elif not isinstance(reason, str) or not reason.strip():
                problems.add(line, f"the reason for {case_id} must be text")
            else:
                out.not_covered[case_id] = reason.strip()
    _raise(problems)
    return out


def _risk(entry: Any, lines: list[str], known: set[str], seen: set[str], problems: _Problems,
          list_line: int) -> Risk | None:
    if not isinstance(entry, Located):
        problems.add(list_line, "each risk must be a mapping with id, title_ja, rating and scenarios")
        return None
    line = entry.line
    for key in entry:
        if key not in RISK_KEYS:
            problems.add(entry.pos(key)[0], f"unknown key {key!r} in a risk; expected {sorted(RISK_KEYS)}")
    risk_id = entry.get("id")
    if not isinstance(risk_id, str) or not _RISK_ID.match(risk_id):
        problems.add(line, "each risk needs an 'id' (letters, digits, '.', '-', '_')")
        return None
    if risk_id in seen:
        problems.add(entry.pos("id")[0], f"risk id {risk_id!r} is used twice")
    seen.add(risk_id)
    title_ja, title_en = entry.get("title_ja"), entry.get("title_en")
    if not isinstance(title_ja, str) or not title_ja.strip():
        problems.add(line, f"risk {risk_id}: 'title_ja' is required")
    rating = entry.get("rating")
    if rating not in RATINGS:
        problems.add(entry.pos("rating")[0], f"risk {risk_id}: 'rating' must be one of {', '.join(RATINGS)}")
    residual = entry.get("residual")
    if residual is not None and residual not in RATINGS:
        problems.add(entry.pos("residual")[0], f"risk {risk_id}: 'residual' must be one of {', '.join(RATINGS)}")
    scenario_line = entry.pos("scenarios")[0]
    scenario_ids = _text_list(entry.get("scenarios"), "scenarios", scenario_line, problems)
    for scenario_id in scenario_ids:
        if scenario_id not in known:
            known_ids = ", ".join(sorted(known)) or "none"
            problems.add(_item_line(lines, scenario_line, scenario_id),
                         f"risk {risk_id}: unknown scenario {scenario_id!r}; known: {known_ids}")
    case_line = entry.pos("reference_cases")[0]
    case_ids = _text_list(entry.get("reference_cases"), "reference_cases", case_line, problems)
    for case_id in case_ids:
        if case_id not in BY_ID:
            problems.add(_item_line(lines, case_line, case_id), f"risk {risk_id}: unknown reference case {case_id!r}")
    return Risk(risk_id, str(title_ja or ""), str(title_en or title_ja or ""), str(rating), residual,
                tuple(scenario_ids), tuple(case_ids), line)


def _raise(problems: _Problems) -> None:
    if problems.items:
        first = problems.items[0]
        more = f" (and {len(problems.items) - 1} more)" if len(problems.items) > 1 else ""
        raise InvalidRequest(f"{first['file']}:{first['line']}: {first['message']}{more}", details=problems.items)


def reference_coverage(scenarios: Sequence[ScenarioLike], ruleset: Ruleset,
                       assessment: RiskAssessment | None = None) -> list[dict[str, Any]]:
    """Every reference case with its live scenarios, or ``not covered`` and the firm's reason."""
    live = live_scenarios(scenarios, ruleset)
    reasons = assessment.not_covered if assessment is not None else {}
    rows = []
    for case in REFERENCE_CASES:
        mapped = [s.id for s in scenarios if case.id in s.reference_cases]
        covering = [s for s in mapped if live.get(s)]
        rows.append({"id": case.id, "category": case.category, "category_ja": CATEGORIES[case.category][0],
                     "category_en": CATEGORIES[case.category][1], "title_ja": case.title_ja,
                     "title_en": case.title_en, "non_face_to_face": case.non_face_to_face,
                     "fsa_listed": case.fsa_listed, "scenarios": covering,
                     "not_live": [s for s in mapped if not live.get(s)],
                     "covered": bool(covering), "reason": None if covering else reasons.get(case.id)})
    return rows


def risk_coverage(assessment: RiskAssessment, scenarios: Sequence[ScenarioLike],
                  ruleset: Ruleset) -> list[dict[str, Any]]:
    """Every assessed risk with the scenarios that mitigate it and whether they are live (a gap: none is)."""
    live = live_scenarios(scenarios, ruleset)
    rows = []
    for risk in assessment.risks:
        live_ids = [s for s in risk.scenarios if live.get(s)]
        rows.append({"id": risk.id, "title_ja": risk.title_ja, "title_en": risk.title_en, "rating": risk.rating,
                     "residual": risk.residual, "scenarios": list(risk.scenarios), "live_scenarios": live_ids,
                     "not_live": [s for s in risk.scenarios if not live.get(s)],
                     "reference_cases": list(risk.reference_cases), "gap": not live_ids})
    return rows
