"""Rule management pages in the console, against a real ``mamori serve`` on loopback: operators signed in
with a (software) passkey see rules with hit counts, edit a rule into a draft (compile errors shown),
backtest it, run it in shadow, and publish it only with a second person's approval; the server checks
every permission and the CSRF token whatever the page shows."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from console_client import Operator, signed_in_operator
from server import RunningServer, start_server

RULES = """\
ruleset: {name: console-rules, version: 1, thresholds: {challenge: 40, hold: 70, block: 100}}
lists:
  watch: [acct-w1, acct-w2]
rules:
  - id: WATCH-001
    description: Logins of watched accounts are blocked
    description_ja: 監視対象口座のログインを拒否
    events: [login]
    when: event.account_id in watch
    action: block
"""
EDIT = ('id: WATCH-001\ndescription: Only w1 is blocked\nevents: [login]\n'
        'when: event.account_id in watch and event.account_id != "acct-w2"\naction: block\n')


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    root: Path = tmp_path_factory.mktemp("rules-console")
    (root / "rules").mkdir()
    (root / "rules" / "r.yaml").write_text(RULES, encoding="utf-8")
    with start_server(root / "data", rules=root / "rules") as running:
        with running.client() as admin:
            for i, account in enumerate(("acct-w1", "acct-w2", "acct-w2", "acct-x")):
                r = admin.post("/v1/decisions", json={
                    "id": f"c-{i}", "type": "login", "account_id": account, "result": "success",
                    "method": "passkey", "occurred_at": f"2026-03-01T10:0{i}:00+00:00"})
                assert r.status_code == 200, r.text
        yield running


@pytest.fixture(scope="module")
def ops(server: RunningServer) -> Iterator[dict[str, Operator]]:
    made = {role: signed_in_operator(server, f"rules-{role}", role) for role in ("analyst", "supervisor", "auditor")}
    yield made
    for op in made.values():
        op.close()


def test_rule_list_and_detail_show_hit_counts_in_both_languages(ops: dict[str, Operator]) -> None:
    analyst = ops["analyst"]
    page = analyst.http.get("/console/rules")
    assert page.status_code == 200 and "WATCH-001" in page.text
    assert '<td class="num">3</td>' in page.text  # three watched logins in the last 24 h
    analyst.http.cookies.set("mamori_lang", "ja")
    detail = analyst.http.get("/console/rules/WATCH-001")
    assert detail.status_code == 200
    assert ("監視対象口座のログインを拒否" in detail.text) or ("Logins of watched accounts" in detail.text)
    assert "when: event.account_id in watch" in detail.text
    assert analyst.http.get("/console/rules/NO-SUCH").status_code == 404


def test_draft_backtest_shadow_and_four_eyes_publication(server: RunningServer, ops: dict[str, Operator]) -> None:
    analyst, supervisor, auditor = ops["analyst"], ops["supervisor"], ops["auditor"]
    # Without the CSRF token a session cannot write.
    assert analyst.post_json("/v1/rules/drafts", {"rule_id": "WATCH-001", "text": EDIT}, csrf="").status_code == 403
    bad = analyst.post_json("/v1/rules/drafts", {"rule_id": "WATCH-001", "text": EDIT.replace('"acct-w2"', "w2")})
    assert bad.status_code == 201, bad.text
    draft_id = bad.json()["id"]
    page = analyst.http.get(f"/console/rules/drafts/{draft_id}")
    assert page.status_code == 200 and "draft:4:" in page.text and 'id="compile-errors"' in page.text
    assert analyst.post_json(f"/v1/rules/drafts/{draft_id}", {"text": EDIT}, method="PUT").status_code == 200
    # The auditor reads rules but may not open drafts.
    assert auditor.http.get("/console/rules").status_code == 200
    assert auditor.http.get(f"/console/rules/drafts/{draft_id}").status_code == 403
    assert auditor.post_json("/v1/rules/drafts", {"rule_id": "WATCH-001", "text": EDIT}).status_code == 403

    started = analyst.post_json(f"/v1/rules/drafts/{draft_id}/backtests", {"max_events": 100})
    assert started.status_code == 202, started.text
    backtest_id = started.json()["id"]
    deadline = time.monotonic() + 60
    while analyst.http.get(f"/v1/rules/backtests/{backtest_id}").json()["status"] == "running":
        assert time.monotonic() < deadline
        time.sleep(0.1)
    result = analyst.http.get(f"/console/rules/backtests/{backtest_id}")
    assert result.status_code == 200 and '<dd id="bt-changed">2</dd>' in result.text

    idle = analyst.http.get("/console/rules/shadow")  # linked from the rules list before any shadow run
    assert idle.status_code == 200 and 'id="shadow-none"' in idle.text and 'id="shadow-changed"' not in idle.text
    assert analyst.post_json(f"/v1/rules/drafts/{draft_id}/shadow", {}).status_code == 200
    shadow = analyst.http.get("/console/rules/shadow")
    assert shadow.status_code == 200 and 'id="shadow-changed"' in shadow.text

    request = analyst.post_json(f"/v1/rules/drafts/{draft_id}/publication", {"reason": "w2 was cleared"})
    assert request.status_code == 201, request.text
    pub = request.json()["id"]
    assert analyst.post_json(f"/v1/rules/publications/{pub}/approve", {}).status_code == 403  # no rules:approve
    listing = supervisor.http.get("/console/rules/publications")
    assert listing.status_code == 200 and f"/v1/rules/publications/{pub}/approve" in listing.text
    approved = supervisor.post_json(f"/v1/rules/publications/{pub}/approve", {})
    assert approved.status_code == 200, approved.text
    assert approved.json()["new_identity"] in supervisor.http.get("/console/rules").text

    # A supervisor cannot approve their own request.
    own = supervisor.post_json("/v1/rules/drafts", {"rule_id": "WATCH-001", "text": EDIT.replace("Only", "Just")})
    req = supervisor.post_json(f"/v1/rules/drafts/{own.json()['id']}/publication",
                               {"reason": "wording only", "override_reason": "description text only, no logic"})
    assert req.status_code == 201, req.text
    refused = supervisor.post_json(f"/v1/rules/publications/{req.json()['id']}/approve", {})
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "mamori.actions.four_eyes"
