"""The mamori command as a user runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from mamori.cli.main import main
from mamori.risk.rules.loader import builtin_rules_path

GOOD = [
    {"id": "e1", "type": "login", "occurred_at": "2026-01-05T10:00:00+09:00", "account_id": "a1",
     "result": "success", "method": "passkey", "ip": "153.156.1.1", "device_id": "d1"},
    {"id": "e2", "type": "crypto_withdrawal", "occurred_at": "2026-01-05T10:05:00+09:00", "account_id": "a1",
     "transfer_id": "t1", "asset": "BTC", "chain": "bitcoin", "address": "bc1qabc", "amount": "0.5",
     "amount_jpy": "7500000", "ip": "3.112.5.5"},
]


def run(*args: str, input: str | None = None):
    return CliRunner().invoke(main, list(args), input=input, catch_exceptions=False)


def test_given_an_events_file_with_bad_lines_when_replayed_then_good_lines_are_decided_and_bad_ones_named(tmp_path: Path):
    lines = [json.dumps(GOOD[0]), "{not json", json.dumps({**GOOD[0], "id": "e3", "method": "carrier_pigeon"}),
             "", json.dumps(GOOD[1]), json.dumps(GOOD[0]), "[1, 2]"]
    path = tmp_path / "events.jsonl"
    path.write_text("\n".join(lines) + "\n")
    proc = subprocess.run([sys.executable, "-m", "mamori.cli.main", "replay", str(path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 1
    out = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [o["event_id"] for o in out] == ["e1", "e2"]  # e1 twice: processed once
    assert set(out[0]) == {"event_id", "decision", "score", "rules"}
    assert out[1]["decision"] in ("challenge", "hold", "block") and "XFER-LARGE-001" in out[1]["rules"]
    assert "line 2: (line): " in proc.stderr
    assert "line 3: method: Input should be 'password', 'passkey'" in proc.stderr
    assert "line 7: (line): expected a JSON object" in proc.stderr
    assert "event e1: duplicate id" in proc.stderr
    assert "3 bad line(s) skipped" in proc.stderr


def test_given_a_clean_file_when_replayed_with_full_then_decisions_carry_explanations(tmp_path: Path):
    path = tmp_path / "e.jsonl"
    path.write_text("\n".join(json.dumps(e) for e in GOOD))
    result = run("replay", str(path), "--full")
    assert result.exit_code == 0
    second = json.loads(result.output.splitlines()[1])
    assert second["ruleset"].startswith("builtin@")
    fired = {r["id"]: r for r in second["rules"]}
    assert fired["XFER-LARGE-001"]["values"] == {"notional_jpy": "7500000"}


def test_schema_prints_a_json_schema_covering_every_event_type():
    result = run("schema")
    schema = json.loads(result.output)
    assert schema["$schema"].endswith("2020-12/schema")
    text = result.output
    for t in ("login", "logout", "settings_change", "order", "order_cancel", "execution", "fiat_deposit",
              "fiat_withdrawal", "crypto_deposit", "crypto_withdrawal", "holdings_snapshot", "account_unlock", "account_profile", "account_freeze"):
        assert f'"{t}"' in text


def test_rules_check_reports_every_problem_with_position_and_fails(tmp_path: Path):
    (tmp_path / "r.yaml").write_text("ruleset: {name: x, version: 1}\nrules:\n"
                                     "  - {id: A, description: a, score: 1, when: 'new_devise'}\n")
    result = CliRunner().invoke(main, ["rules", "check", str(tmp_path)])
    assert result.exit_code == 1
    assert "r.yaml:3:" in result.output and "did you mean 'new_device'" in result.output
    ok = run("rules", "check")
    assert ok.exit_code == 0 and ok.output.startswith("ok: builtin@")


def test_rules_test_passes_on_the_builtin_rules_and_fails_on_a_wrong_expectation(tmp_path: Path):
    ok = run("rules", "test")
    assert ok.exit_code == 0 and " 0 failed" in ok.output
    (tmp_path / "r.yaml").write_text("ruleset: {name: x, version: 1}\nrules:\n"
                                     "  - {id: A, description: a, action: block, events: [login],"
                                     " when: 'event.method == \"password\"'}\n")
    (tmp_path / "r.test.yaml").write_text("tests:\n  - name: passkeys are fine\n    events:\n"
                                          "      - {type: login, result: success, method: passkey, at: +0s,"
                                          " expect: {decision: block}}\n")
    bad = CliRunner().invoke(main, ["rules", "test", str(tmp_path)])
    assert bad.exit_code == 1
    assert "FAIL r.test.yaml: passkeys are fine" in bad.output
    assert "expected decision block, got allow" in bad.output


def test_every_builtin_rule_is_shown_firing_by_a_rule_test():
    import yaml

    text = "".join(p.read_text() for p in builtin_rules_path().glob("*.test.yaml"))
    expected = set()
    for doc in (yaml.safe_load(p.read_text()) for p in builtin_rules_path().glob("*.test.yaml")):
        for t in doc["tests"]:
            for e in t["events"]:
                expected.update(e.get("expect", {}).get("fired", []))
    from mamori.risk.rules.loader import builtin_ruleset

    untested = sorted(r.id for r in builtin_ruleset().rules if r.id not in expected)
    assert untested == [], f"add a rule test that makes these fire: {untested}"
    assert "not_fired" in text


def test_backtest_from_a_file_with_labels_prints_changes_and_effectiveness(tmp_path: Path):
    cand = tmp_path / "cand"
    cand.mkdir()
    (cand / "r.yaml").write_text("ruleset: {name: cand, version: 1}\nrules:\n"
                                 "  - {id: NOTHING, description: never, score: 1, when: 'False'}\n")
    events = tmp_path / "e.jsonl"
    events.write_text("\n".join(json.dumps(e) for e in GOOD) + "\n")
    labels = tmp_path / "labels.jsonl"
    labels.write_text('{"event_id": "e2", "fraud": true}\n{"event_id": "e1", "fraud": false}\n')
    result = run("rules", "backtest", str(cand), "--events", str(events), "--labels", str(labels), "--json")
    report = json.loads(result.output)
    assert report["events"] == 2 and report["changed"] >= 1
    assert report["effectiveness"]["baseline"]["recall"] == 1.0
    assert report["effectiveness"]["candidate"]["recall"] == 0.0
    text = run("rules", "backtest", str(cand), "--events", str(events)).output
    assert text.strip().splitlines()[-1] == f"backtest events=2 changed={report['changed']}"


def test_keys_are_created_listed_revoked_and_audited(tmp_path: Path):
    created = CliRunner().invoke(main, ["keys", "create", "--name", "oms", "--scope", "events:write",
                                        "--data-dir", str(tmp_path)])
    assert created.exit_code == 0
    key = created.stdout.strip()
    assert key.startswith("mk_")
    key_id = key.split("_")[1]
    listed = run("keys", "list", "--data-dir", str(tmp_path)).output
    assert key_id in listed and "events:write" in listed and key.split("_", 2)[2] not in listed
    assert run("keys", "revoke", key_id, "--data-dir", str(tmp_path)).exit_code == 0
    assert "revoked" in run("keys", "list", "--data-dir", str(tmp_path)).output
    missing = CliRunner().invoke(main, ["keys", "revoke", "nope", "--data-dir", str(tmp_path)])
    assert missing.exit_code == 1 and "mamori.api.not_found" in missing.output
    verified = run("audit", "verify", "--data-dir", str(tmp_path))
    assert "ok: 2 audit records" in verified.output
    db = (tmp_path / "mamori.db").read_bytes()
    assert key.split("_", 2)[2].encode() not in db


@pytest.mark.parametrize("args", [["replay", "/nonexistent.jsonl"], ["rules", "check", "/nonexistent"]])
def test_missing_files_give_a_clear_error_not_a_traceback(args):
    result = CliRunner().invoke(main, args)
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert "/nonexistent" in result.output


def test_engine_benchmark_prints_its_figures_last():
    result = run("bench", "engine", "--events", "3000")
    last = result.output.strip().splitlines()[-1]
    assert last.startswith("engine events_per_s=")
    fields = dict(part.split("=") for part in last.split()[1:])
    assert float(fields["events_per_s"]) > 0 and float(fields["p99_ms"]) >= float(fields["p50_ms"])


def test_openapi_prints_the_api_document_without_a_server():
    doc = json.loads(run("openapi").output)
    assert doc["openapi"].startswith("3.")
    for path in ("/v1/decisions", "/v1/events", "/v1/alerts", "/v1/rulesets/reload"):
        assert path in doc["paths"]
    body = doc["paths"]["/v1/decisions"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert "oneOf" in body or "$ref" in body or "anyOf" in body


def test_market_adv_import_makes_a_rule_file_that_marks_thin_symbols(tmp_path: Path):
    import shutil

    rules = tmp_path / "rules"
    shutil.copytree(builtin_rules_path(), rules)
    for test_file in rules.glob("*.test.yaml"):
        test_file.unlink()
    csv_file = tmp_path / "daily.csv"
    csv_file.write_text("symbol,date,value_jpy\n"
                        "3777,2026-11-18,30000000\n3777,2026-11-19,50000000\n3777,2026-11-20,\"40,000,000\"\n"
                        "7203,2026-11-20,250000000000\n", encoding="utf-8")
    ok = run("market", "adv-import", str(csv_file), "--out", str(rules / "market.yaml"))
    assert ok.exit_code == 0 and "2 symbols" in ok.output
    assert "'3777': 40000000" in (rules / "market.yaml").read_text() or "3777': 40000000" in (
        rules / "market.yaml").read_text()
    (rules / "market.test.yaml").write_text(
        "tests:\n  - name: thin by ADV\n    events:\n"
        "      - {type: order, order_id: a, side: buy, symbol: '3777', market: TSE, quantity: '100', price: '300',"
        " order_type: limit, at: +0s, expect: {fired: [TRADE-THIN-001]}}\n"
        "      - {type: order, order_id: b, side: buy, symbol: '7203', market: TSE, quantity: '100', price: '3000',"
        " order_type: limit, at: +1m, expect: {not_fired: [TRADE-THIN-001]}}\n", encoding="utf-8")
    tested = run("rules", "test", str(rules))
    assert tested.exit_code == 0 and "1 passed, 0 failed" in tested.output, tested.output
    bad = tmp_path / "bad.csv"
    bad.write_text("symbol,date,value_jpy\n3777,yesterday,1\n!!,2026-11-20,1\n3777,2026-11-20,-5\n", encoding="utf-8")
    refused = run("market", "adv-import", str(bad), "--out", str(tmp_path / "x.yaml"))
    assert refused.exit_code == 1 and "bad.csv:2" in refused.output and "bad.csv:3" in refused.output
    assert "bad.csv:4" in refused.output and not (tmp_path / "x.yaml").exists()
