"""Rule files: compile errors name file, line and column; valid files compile into a rule set."""

from __future__ import annotations

from pathlib import Path

import pytest

from mamori.kit.errors import RuleCompileError
from mamori.risk.rules.loader import builtin_rules_path, check_ruleset, load_ruleset, ruleset_from_sources
from mamori.risk.rules.model import Verdict

HEADER = "ruleset:\n  name: t\n  version: 2\n  thresholds: {challenge: 10, hold: 20, block: 30}\n"




def compile_error(text: str) -> RuleCompileError:
    with pytest.raises(RuleCompileError) as info:
        ruleset_from_sources({"r.yaml": text})
    return info.value


def first_detail(exc: RuleCompileError) -> dict:
    details = exc.details
    return details[0] if isinstance(details, list) else details


def test_given_the_builtin_rules_when_checked_then_they_compile_with_every_rule_described():
    assert check_ruleset(builtin_rules_path()) == []
    ruleset = load_ruleset(builtin_rules_path())
    assert ruleset.name == "builtin" and len(ruleset.rules) >= 30
    assert all(r.description and r.events for r in ruleset.rules)
    assert ruleset.thresholds_by_event["login"][Verdict.block] > ruleset.thresholds[Verdict.block]


@pytest.mark.parametrize(
    ("rule_line", "message_part", "line", "column"),
    [
        ("    when: new_devcie and event.result == 'success'", "did you mean 'new_device'", 10, 11),
        ("    when: event.result ==", "syntax error", 10, 11),
        ("    when: holding_qty > 0", "not available for event type", 10, 11),
        ("    when: event.amount > 5", "'event.amount' is not available", 10, 11),
        ("    when: __import__('os')", "not allowed", 10, 11),
        ("    when: open('x')", "not allowed", 10, 11),
        ("    when: event.result.__class__", "not allowed", 10, 11),
    ],
)
def test_given_a_bad_condition_when_compiled_then_the_error_names_file_line_and_column(
        rule_line: str, message_part: str, line: int, column: int):
    text = HEADER + "rules:\n  - id: R1\n    description: d\n    events: [login]\n    score: 5\n" + rule_line + "\n"
    exc = compile_error(text)
    detail = first_detail(exc)
    assert message_part in exc.message
    assert (detail["file"], detail["line"]) == ("r.yaml", line)
    assert detail["column"] >= column
    assert exc.message.startswith(f"r.yaml:{line}:")


def test_given_a_multi_line_block_condition_when_the_error_is_on_line_two_then_the_position_is_exact():
    text = HEADER + ("rules:\n  - id: R1\n    description: d\n    events: [login]\n    score: 5\n"
                     "    when: |\n      event.result == 'success'\n      and new_devcie\n")
    detail = first_detail(compile_error(text))
    assert detail["line"] == 12
    assert detail["column"] == 11


@pytest.mark.parametrize(
    ("body", "message_part"),
    [
        ("rules:\n  - id: R1\n    description: d\n    events: [signup]\n    when: 'True'\n    score: 1\n",
         "unknown event type 'signup'"),
        ("rules:\n  - id: R1\n    description: d\n    when: 'True'\n    score: 1\n    action: freeze\n",
         "'action' must be one of"),
        ("rules:\n  - id: R1\n    description: d\n    when: 'True'\n", "give a 'score', an 'action' or both"),
        ("rules:\n  - id: R1\n    when: 'True'\n    score: 1\n", "'description' is required"),
        ("rules:\n  - id: R1\n    description: d\n    when: 'True'\n    score: 1\n    colour: red\n",
         "unknown key 'colour'"),
        ("rules:\n  - id: R1\n    description: d\n    when: 'True'\n    score: 1\n"
         "  - id: R1\n    description: d\n    when: 'True'\n    score: 1\n", "already used"),
        ("features:\n  f1: {aggregate: count, events: [login], by: planet, window: 1h}\n", "'by' must be one of"),
        ("features:\n  f1: {aggregate: count, events: [login], by: ip, window: soon}\n", "'window' must be a duration"),
        ("features:\n  f1: {aggregate: median, events: [login], by: ip, window: 1h}\n", "count, sum or distinct"),
        ("features:\n  f1: {aggregate: sum, events: [login], by: ip, window: 1h, field: event.amount}\n",
         "'field' must name"),
        ("features:\n  new_device: {aggregate: count, events: [login], by: ip, window: 1h}\n", "already defined"),
        ("lists:\n  bad: [{a: 1}]\n", "may only hold numbers and text"),
        ("rules: [\n", "YAML syntax error"),
        ("surprise: 1\n", "unknown section 'surprise'"),
    ],
)
def test_given_a_malformed_rule_file_when_compiled_then_the_problem_is_named(body: str, message_part: str):
    exc = compile_error(HEADER + body)
    assert message_part in exc.message
    detail = first_detail(exc)
    assert detail["file"] == "r.yaml" and detail["line"] >= 1


def test_given_several_mistakes_when_checked_then_every_one_is_reported(tmp_path: Path):
    (tmp_path / "r.yaml").write_text(HEADER + "rules:\n"
                                     "  - {id: A, description: d, score: 1, when: 'nope_a'}\n"
                                     "  - {id: B, description: d, score: 1, when: 'nope_b'}\n")
    found = check_ruleset(tmp_path)
    assert len(found) == 2
    assert [p.details["line"] for p in found] == [6, 7]


def test_given_no_ruleset_section_when_compiled_then_it_is_an_error():
    exc = compile_error("rules:\n  - {id: A, description: d, score: 1, when: 'True'}\n")
    assert "no 'ruleset:' section" in exc.message


def test_given_valid_files_when_compiled_then_rules_features_lists_and_thresholds_are_built(tmp_path: Path):
    (tmp_path / "a.yaml").write_text(HEADER + "lists:\n  risky: [KP, IR]\n  limit: 5\n")
    (tmp_path / "b.yaml").write_text(
        "features:\n  ip_fail_1h:\n    aggregate: count\n    events: [login]\n    by: ip\n    window: 1h\n"
        "    where: event.result == 'failure'\n"
        "rules:\n  - id: X-1\n    description: many failures\n    events: [login]\n"
        "    when: ip_fail_1h >= limit and ip_country in risky\n    score: 15\n    tags: [t]\n"
        "    mode: shadow\n")
    (tmp_path / "b.test.yaml").write_text("tests: []\n")  # test files are not rule files
    rs = load_ruleset(tmp_path)
    assert rs.identity.startswith("t@2:")
    assert [a.name for a in rs.aggregates] == ["ip_fail_1h"]
    assert rs.aggregates[0].window_s == 3600
    rule = rs.rules[0]
    assert (rule.id, rule.mode, rule.score, rule.tags) == ("X-1", "shadow", 15, ("t",))
    assert rule.when.names == {"ip_fail_1h", "ip_country"}
    assert rs.verdict_for_score(15, "login") == Verdict.challenge
    assert rs.verdict_for_score(35, "order") == Verdict.block


def test_given_changed_rule_text_when_compiled_then_the_identity_changes():
    a = ruleset_from_sources({"r.yaml": HEADER + "rules:\n  - {id: A, description: d, score: 1, when: 'True'}\n"})
    b = ruleset_from_sources({"r.yaml": HEADER + "rules:\n  - {id: A, description: d, score: 2, when: 'True'}\n"})
    assert a.identity != b.identity and a.version == b.version


def test_given_a_list_named_like_a_feature_when_compiled_then_it_is_refused():
    exc = compile_error(HEADER + "lists:\n  new_device: [a]\n")
    assert "has the name of a feature" in exc.message
