"""Rule management end to end against the real ``mamori serve`` on loopback (issue 5 item 8).

One server, one story: a small rule set blocks the logins of watched accounts; closed cases say
one watched account was a real takeover and another a legitimate customer; an analyst drafts a
change that stops blocking the legitimate one, backtests it on stored history (labels from the
cases), runs it in shadow, asks for publication; the same person cannot approve it, a second one
does; new decisions use it, a restart keeps it, a rollback (also approved) restores the old one, and
a publication based on an outdated rule set is refused.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from mamori.adapters.sql.store import SqlStore
from server import RunningServer, start_server

RULESET = """\
ruleset:
  name: test-rules
  version: 1
  thresholds: {challenge: 40, hold: 70, block: 100}
lists:
  watch: [acct-a1, acct-a2, acct-a3]
"""
RULES = """\
rules:
  # Watched accounts are blocked at login.
  - id: WATCH-001
    description: Logins of watched accounts are blocked
    events: [login]
    when: event.account_id in watch
    action: block
    alert: true

  - id: NOISE-001
    description: A failed login scores a little
    events: [login]
    when: event.result == "failure"
    score: 10
"""
EDITED = """\
id: WATCH-001
description: Logins of watched accounts are blocked, except the account cleared by the fraud desk
events: [login]
when: event.account_id in watch and event.account_id != "acct-a3"
action: block
alert: true
"""


@dataclass
class World:
    srv: RunningServer
    root: Path
    store: SqlStore
    keys: dict[str, str]

    def client(self, who: str) -> httpx.Client:
        return self.srv.client(self.keys[who])


_counter = iter(range(1, 10_000))


def _login(c: httpx.Client, account: str, *, minute: int | None = None) -> dict[str, Any]:
    n = next(_counter)
    m = n if minute is None else minute
    r = c.post("/v1/decisions", json={
        "id": f"ev-{account}-{n}", "type": "login", "account_id": account, "result": "success",
        "method": "passkey", "ip": f"198.51.100.{10 + int(account[-1])}", "device_id": f"dev-{account}",
        "occurred_at": f"2026-03-0{1 + m // 1440}T{(m // 60) % 24:02d}:{m % 60:02d}:00+00:00"})
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def _close(c: httpx.Client, account: str, disposition: str) -> None:
    assert c.post("/v1/cases/refresh").status_code == 200
    cases = c.get("/v1/cases", params={"account_id": account, "kind": "account"}).json()["cases"]
    assert cases, account
    body: dict[str, Any] = {"state": "closed", "disposition": disposition}
    if disposition == "confirmed_takeover":
        body["next_contact_due_at"] = "2030-01-01T00:00:00+09:00"
    r = c.post(f"/v1/cases/{cases[0]['id']}/state", json=body)
    assert r.status_code == 200, r.text


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    root = tmp_path_factory.mktemp("rulesadmin")
    rules = root / "rules"
    rules.mkdir()
    (rules / "ruleset.yaml").write_text(RULESET, encoding="utf-8")
    (rules / "watch.yaml").write_text(RULES, encoding="utf-8")
    data = root / "data"
    srv = start_server(data, rules=rules)
    store = SqlStore(f"sqlite:///{(data / 'mamori.db').resolve()}")
    keys = {}
    for name, scopes in {"alice": {"rules:draft", "decisions:read"}, "bob": {"rules:draft", "decisions:read"},
                         "carol": {"rules:approve", "decisions:read"},
                         "desk": {"events:write", "cases:read", "cases:write"}}.items():
        keys[name] = store.create_api_key(name=name, scopes=frozenset(scopes))[1]
    world = World(srv, root, store, keys)
    try:
        yield world
    finally:
        world.srv.stop()
        store.close()


def _wait_backtest(c: httpx.Client, backtest_id: int) -> dict[str, Any]:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        body = c.get(f"/v1/rules/backtests/{backtest_id}").json()
        if body["status"] != "running":
            return body  # type: ignore[no-any-return]
        time.sleep(0.1)
    raise AssertionError("backtest did not finish")


def test_the_whole_story(world: World) -> None:
    desk, alice, bob, carol = (world.client(n) for n in ("desk", "alice", "bob", "carol"))
    # Given history: watched accounts a1 and a3 log in (blocked), a2 twice, others are allowed.
    for account in ("acct-a1", "acct-a1", "acct-a2", "acct-a3", "acct-a3", "acct-a3", "acct-b9"):
        _login(desk, account)
    # and the fraud desk closed a1's case as a takeover and a3's as legitimate.
    _close(desk, "acct-a1", "confirmed_takeover")
    _close(desk, "acct-a3", "legitimate")

    # Statistics: hits over 24 h and precision from the two closed cases.
    listing = alice.get("/v1/rules").json()
    watch = next(r for r in listing["rules"] if r["id"] == "WATCH-001")
    assert watch["hits"] == {"24h": 6, "7d": 6, "30d": 6}
    assert watch["precision"] == {"true_positive": 1, "false_positive": 1, "closed_cases": 2, "precision": 0.5}
    assert listing["behind"] == 0

    # A draft with a mistake is saved with the error at its line and column in the draft text.
    bad = alice.post("/v1/rules/drafts", json={"rule_id": "WATCH-001", "text": EDITED.replace('"acct-a3"', "acct_a3")})
    assert bad.status_code == 201, bad.text
    errors = bad.json()["errors"]
    assert errors and errors[0]["file"] == "draft" and errors[0]["line"] == 4, errors
    assert errors[0]["column"] == len('when: event.account_id in watch and event.account_id != ') + 1
    draft_id = bad.json()["id"]
    not_compiling = alice.post(f"/v1/rules/drafts/{draft_id}/backtests", json={})
    assert not_compiling.status_code == 422
    assert not_compiling.json()["error"]["code"] == "mamori.rules.compile_error"

    # Fixed: a second revision compiles; the diff shows the changed condition.
    fixed = alice.put(f"/v1/rules/drafts/{draft_id}", json={"text": EDITED, "note": "a3 cleared"}).json()
    assert fixed["compiles"] and fixed["revision"] == 2 and fixed["errors"] == []
    assert '+when: event.account_id in watch and event.account_id != "acct-a3"' in fixed["diff"]

    # Not backtested: a publication request is refused unless it gives an override reason.
    refused = alice.post(f"/v1/rules/drafts/{draft_id}/publication", json={"reason": "stop blocking acct-a3"})
    assert refused.status_code == 409 and refused.json()["error"]["details"]["reason"] == "not_backtested"

    # Backtest on stored history with labels from the cases: a3's three logins change block -> allow,
    # per event (a1: 2 fraud, a3: 3 legitimate) precision goes from 0.4 to 1.0 and recall stays 1.0.
    started = alice.post(f"/v1/rules/drafts/{draft_id}/backtests", json={"max_events": 1000})
    assert started.status_code == 202, started.text
    result = _wait_backtest(alice, started.json()["id"])
    assert result["status"] == "done", result
    report = result["result"]
    assert report["events"] == 7 and report["changed"] == 3
    assert report["transitions"] == [{"from": "block", "to": "allow", "count": 3}]
    assert {e["account_id"] for e in report["changed_events"]} == {"acct-a3"}
    eff = report["effectiveness"]
    assert eff["baseline"]["precision"] == 0.4 and eff["candidate"]["precision"] == 1.0
    assert eff["candidate"]["recall"] == 1.0
    assert {"id": "WATCH-001", "baseline": 6, "candidate": 3} in report["rules"]

    # Shadow on live traffic: a3 is still blocked, the candidate would allow it.
    run = alice.post(f"/v1/rules/drafts/{draft_id}/shadow")
    assert run.status_code == 200, run.text
    assert _login(desk, "acct-a3")["decision"] == "block"
    _login(desk, "acct-a1")
    shadow = alice.get("/v1/rules/shadow").json()
    assert shadow["running"] and shadow["report"]["events"] == 2 and shadow["report"]["changed"] == 1
    assert shadow["report"]["transitions"] == [{"from": "block", "to": "allow", "count": 1}]
    assert shadow["report"]["changed_events"][0]["account_id"] == "acct-a3"

    # A second draft (bob) based on the same active rule set, requested with an override reason.
    other = bob.post("/v1/rules/drafts", json={"rule_id": "NOISE-001", "text": (
        "id: NOISE-001\ndescription: A failed login scores more\nevents: [login]\n"
        "when: event.result == \"failure\"\nscore: 20\n")}).json()
    assert other["compiles"], other
    bob_request = bob.post(f"/v1/rules/drafts/{other['id']}/publication", json={
        "reason": "failures matter more", "override_reason": "score change only, no verdict at stake"})
    assert bob_request.status_code == 201, bob_request.text

    # Publication: alice asks; alice cannot approve (no scope), nor can bob approve his own.
    request = alice.post(f"/v1/rules/drafts/{draft_id}/publication", json={"reason": "stop blocking acct-a3"})
    assert request.status_code == 201, request.text
    pub_id = request.json()["id"]
    assert alice.post(f"/v1/rules/publications/{pub_id}/approve").status_code == 403
    approved = carol.post(f"/v1/rules/publications/{pub_id}/approve")
    assert approved.status_code == 200, approved.text
    assert approved.json()["status"] == "published"
    new_identity = approved.json()["new_identity"]
    assert new_identity.startswith("test-rules@2:")

    # The new rule set decides: a3 is allowed now; the built-in directory was not edited.
    assert _login(desk, "acct-a3")["decision"] == "allow"
    assert (world.root / "rules" / "watch.yaml").read_text(encoding="utf-8") == RULES
    published = sorted((world.root / "data" / "ruleset-versions").glob("v0002-*"))
    assert len(published) == 1 and "version: 2" in (published[0] / "ruleset.yaml").read_text(encoding="utf-8")
    assert world.srv.client().get("/healthz").json()["ruleset"] == new_identity

    # Bob's request was based on the old rule set: refused with Conflict.
    conflict = carol.post(f"/v1/rules/publications/{bob_request.json()['id']}/approve")
    assert conflict.status_code == 409, conflict.text

    # A restart keeps the published version.
    world.srv.stop()
    world.srv = start_server(world.root / "data", port=world.srv.port, rules=world.root / "rules")
    assert world.srv.client().get("/healthz").json()["ruleset"] == new_identity
    desk, alice, carol = (world.client(n) for n in ("desk", "alice", "carol"))
    assert _login(desk, "acct-a3")["decision"] == "allow"

    # Rollback needs approval too, by someone else; then a3 is blocked again.
    rollback = alice.post("/v1/rules/rollback", json={"reason": "the fraud desk changed its mind"})
    assert rollback.status_code == 201, rollback.text
    back = carol.post(f"/v1/rules/publications/{rollback.json()['id']}/approve")
    assert back.status_code == 200, back.text
    assert _login(desk, "acct-a3")["decision"] == "block"
    assert world.srv.client().get("/healthz").json()["ruleset"].startswith("test-rules@1:")

    # Every step is in the audit log.
    actions = {a for (a,) in world.store.engine.connect().exec_driver_sql("SELECT action FROM audit_log")}
    assert {"rules.draft.create", "rules.draft.update", "rules.backtest.start", "rules.shadow.start",
            "rules.publication.request", "rules.publish.approve", "rules.publish.refused",
            "rules.rollback.request", "rules.rollback.approve", "ruleset.activate"} <= actions
    assert world.store.verify_audit_chain() > 0


def test_the_requester_cannot_approve_their_own_publication(world: World) -> None:
    """An operator holding both scopes still needs a second person (FourEyesRequired)."""
    _, both = world.store.create_api_key(name="dual", scopes=frozenset({"rules:draft", "rules:approve"}))
    with world.srv.client(both) as dual:
        draft = dual.post("/v1/rules/drafts", json={"rule_id": "NOISE-001", "text": (
            "id: NOISE-001\ndescription: four eyes\nevents: [login]\nwhen: event.result == \"failure\"\n"
            "score: 11\n")}).json()
        request = dual.post(f"/v1/rules/drafts/{draft['id']}/publication", json={
            "reason": "four-eyes test", "override_reason": "test of the approval rule only"})
        assert request.status_code == 201, request.text
        own = dual.post(f"/v1/rules/publications/{request.json()['id']}/approve")
        assert own.status_code == 403 and own.json()["error"]["code"] == "mamori.actions.four_eyes"
