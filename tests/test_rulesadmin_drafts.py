"""Drafts as text applied to the active rule files: byte-exact round trip, compile errors at the
draft's own line and column, new rules, version bump; backtests run in the background and cancel."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from mamori.events.parse import parse_event
from mamori.kit.errors import Conflict, RuleCompileError
from mamori.kit.settings import Settings
from mamori.risk.rules.loader import builtin_ruleset, ruleset_from_sources
from mamori.risk.service import RiskService
from mamori.rulesadmin import backtests
from mamori.rulesadmin.drafts import apply_draft, bump_version, rule_spans, rule_text, sources_diff
from mamori.rulesadmin.service import RulesAdmin
from mamori.rulesadmin.tables import rule_backtests

BUILTIN = builtin_ruleset()


def test_every_builtin_rule_round_trips_byte_for_byte() -> None:
    spans = rule_spans(BUILTIN.sources)
    assert set(spans) == {r.id for r in BUILTIN.rules}
    for rule in BUILTIN.rules[:12]:
        text = rule_text(BUILTIN.sources, rule.id)
        assert text is not None
        candidate = apply_draft(BUILTIN.sources, rule.id, text, is_new=False)
        assert candidate.errors == [] and candidate.sources == BUILTIN.sources, rule.id


@pytest.mark.parametrize(("edit", "line", "column", "fragment"), [
    (("score: 0", "score: lots"), 8, 8, "'score' must be an integer"),
    (("login_locked", "login_lockedd"), 6, 62, "did you mean 'login_locked'"),
    (("tags: [", "tags: [[,"), 9, 9, "YAML syntax error"),
    (("id: LOGIN-LOCK-001", "id: OTHER-1"), 1, 5, "must be 'LOGIN-LOCK-001'"),
])
def test_compile_errors_name_the_line_and_column_of_the_draft(edit: tuple[str, str], line: int, column: int,
                                                               fragment: str) -> None:
    text = rule_text(BUILTIN.sources, "LOGIN-LOCK-001")
    assert text is not None and edit[0] in text
    candidate = apply_draft(BUILTIN.sources, "LOGIN-LOCK-001", text.replace(edit[0], edit[1], 1), is_new=False)
    assert candidate.ruleset is None
    first = candidate.errors[0]
    assert (first["file"], first["line"], first["column"]) == ("draft", line, column), first
    assert fragment in first["message"]


def test_a_new_rule_goes_to_local_yaml_and_an_existing_id_is_refused() -> None:
    new = "id: LOCAL-001\ndescription: test\nevents: [login]\nwhen: event.result == \"failure\"\nscore: 5\n"
    candidate = apply_draft(BUILTIN.sources, "LOCAL-001", new, is_new=True)
    assert candidate.ruleset is not None and "LOCAL-001" in {r.id for r in candidate.ruleset.rules}
    assert sources_diff(BUILTIN.sources, candidate.sources).startswith("--- active/local.yaml")
    clash = apply_draft(BUILTIN.sources, "LOGIN-LOCK-001", rule_text(BUILTIN.sources, "LOGIN-LOCK-001") or "",
                        is_new=True)
    assert "exists already" in clash.errors[0]["message"]


def test_publication_bumps_only_the_version() -> None:
    bumped, version = bump_version(BUILTIN.sources)
    assert version == BUILTIN.version + 1
    assert ruleset_from_sources(bumped).version == version
    changed = [n for n in bumped if bumped[n] != BUILTIN.sources[n]]
    assert changed == ["ruleset.yaml"]


RULES = """\
ruleset: {name: t, version: 1, thresholds: {challenge: 40, hold: 70, block: 100}}
rules:
  - id: FAIL-1
    description: failed logins are challenged
    events: [login]
    when: event.result == "failure"
    action: challenge
"""


def _admin(tmp_path: Path, events: int) -> RulesAdmin:
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "r.yaml").write_text(RULES, encoding="utf-8")
    settings = Settings(data_dir=tmp_path / "data", rules_path=rules)
    risk = RiskService.open(settings)
    batch = [parse_event({"id": f"e{i}", "type": "login", "account_id": f"a{i % 7}", "method": "password",
                          "result": "failure" if i % 3 == 0 else "success",
                          "occurred_at": f"2026-03-01T{i // 3600:02d}:{i // 60 % 60:02d}:{i % 60:02d}+00:00"})
             for i in range(events)]
    asyncio.run(risk.ingest(batch))
    return RulesAdmin(risk, settings.data_dir, configured_rules=rules)


def test_a_backtest_reports_progress_and_a_cancelled_one_stops(tmp_path: Path) -> None:
    admin = _admin(tmp_path, 3000)
    try:
        draft = admin.create_draft("api-key:a", rule_id="FAIL-1", text=(
            "id: FAIL-1\ndescription: failed logins are blocked\nevents: [login]\n"
            "when: event.result == \"failure\"\naction: block\n"))
        started = admin.start_backtest("api-key:a", draft["id"], since_us=None, until_us=None, max_events=2500)
        assert started["total"] == 2500
        admin.wait_backtest(started["id"], 60)
        done = admin.get_backtest("api-key:a", started["id"])
        assert done["status"] == "done" and done["processed"] == 2500
        assert done["result"]["events"] == 2500
        assert done["result"]["transitions"] == [{"from": "challenge", "to": "block", "count": 834}]
        # A cancelled run: the flag is set before the first event, so it stops at once.
        job = backtests.Job(999)
        job.cancel.set()
        with admin.engine.begin() as conn:
            conn.execute(rule_backtests.insert().values(
                id=999, draft_id=draft["id"], revision=1, status="running", requested_by="t", max_events=10,
                processed=0, total=10, started_at_us=0))
        active = admin.risk.engine.ruleset
        backtests.run(admin.store, job, baseline=active, candidate=active, geo=None, since_us=None,
                      until_us=None, max_events=10)
        assert admin.get_backtest("t", 999)["status"] == "cancelled"
        with pytest.raises(Conflict):
            admin.cancel_backtest("t", 999)  # not running any more
        broken = admin.update_draft("api-key:a", draft["id"], text="id: FAIL-1\nwhen: [\n")
        assert broken["errors"] and not broken["compiles"]
        with pytest.raises(RuleCompileError):
            admin.start_backtest("api-key:a", draft["id"], since_us=None, until_us=None, max_events=10)
    finally:
        admin.risk.close()
