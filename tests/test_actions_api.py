"""Actions end to end through the real ``mamori serve`` on 127.0.0.1: held items from the engine's
decisions, four-eyes and permission refusals over HTTP, the signed webhook received by a loopback
receiver, a firm-wide network block refusing a login, and the audit trail of every step.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from mamori.adapters.sql.schema import audit_log
from mamori.adapters.sql.store import SqlStore
from server import RunningServer, free_port, start_server
from test_actions_webhook import SECRET, Receiver
from test_auth_flows import new_customer


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    data_dir = tmp_path_factory.mktemp("actions-e2e")
    port, api_port = free_port(), free_port()
    receiver = Receiver(port)
    srv = start_server(data_dir, port=api_port, env={"MAMORI_AUTH_ORIGIN": f"http://localhost:{api_port}",
                                      "MAMORI_ACTIONS_WEBHOOK_URL": f"http://127.0.0.1:{port}/hook",
                                      "MAMORI_ACTIONS_WEBHOOK_SECRET": SECRET,
                                      "MAMORI_ACTIONS_WEBHOOK_RETRY_S": "0.1",
                                      "MAMORI_ACTIONS_WORKER_INTERVAL_S": "0.1"})
    store = SqlStore(f"sqlite:///{data_dir / 'mamori.db'}")
    keys = {name: store.create_api_key(name=name, scopes=frozenset(scopes))[1] for name, scopes in {
        "oms": {"events:write"},
        "analyst": {"actions:propose", "decisions:read"},
        "supervisor": {"actions:approve", "decisions:read"},
        "reader": {"decisions:read"},
    }.items()}
    try:
        yield {"srv": srv, "keys": keys, "receiver": receiver, "store": store}
    finally:
        srv.stop()
        receiver.close()
        store.close()


def client(world: dict[str, Any], who: str) -> httpx.Client:
    srv: RunningServer = world["srv"]
    return srv.client(world["keys"][who])


def send(world: dict[str, Any], event: dict[str, Any]) -> dict[str, Any]:
    with client(world, "oms") as api:
        r = api.post("/v1/decisions", json={"occurred_at": datetime.now(UTC).isoformat(), "account_id": "C77", **event})
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


def wait_state(world: dict[str, Any], action_id: str, state: str) -> dict[str, Any]:
    with client(world, "reader") as api:
        for _ in range(200):
            current = api.get(f"/v1/actions/{action_id}").json()
            if current["state"] == state:
                return current  # type: ignore[no-any-return]
            time.sleep(0.05)
    raise AssertionError(f"action stayed {current['state']}: {current}")


def test_release_of_a_held_withdrawal_with_four_eyes_over_http(world: dict[str, Any]) -> None:
    decision = send(world, {"id": "wd-77", "type": "fiat_withdrawal", "transfer_id": "WD-77", "amount": "25000000",
                            "ip": "153.156.10.20"})
    assert decision["decision"] == "hold"
    with client(world, "analyst") as analyst, client(world, "supervisor") as supervisor, \
            client(world, "reader") as reader:
        held = reader.get("/v1/held", params={"state": "pending", "kind": "withdrawal"}).json()["held"]
        item = next(h for h in held if h["reference"] == "WD-77")
        body = {"kind": "release_withdrawal", "reason": "customer confirmed by call-back", "params": {
            "held_id": item["id"]}}
        assert reader.post("/v1/actions", json=body).json()["error"]["code"] == "mamori.auth.forbidden"
        proposed = analyst.post("/v1/actions", json=body)
        assert proposed.status_code == 201, proposed.text
        action_id = proposed.json()["id"]
        own = analyst.post(f"/v1/actions/{action_id}/approve", json={})
        assert own.status_code == 403 and own.json()["error"]["code"] == "mamori.auth.forbidden"  # lacks the scope
        assert reader.post(f"/v1/actions/{action_id}/approve").status_code == 403
        bad = analyst.post("/v1/actions", json={**body, "params": {"held_id": "x"}})
        assert bad.status_code == 422 and bad.json()["error"]["details"][0]["field"] == "params.held_id"
        assert reader.get("/v1/actions/not-an-id").status_code == 422
        assert reader.get(f"/v1/actions/{'0' * 32}").status_code == 404
        approved = supervisor.post(f"/v1/actions/{action_id}/approve", json={"note": "ok"})
        assert approved.status_code == 200, approved.text
        again = supervisor.post(f"/v1/actions/{action_id}/approve")
        assert again.status_code == 409 and again.json()["error"]["code"] == "mamori.api.conflict"
        assert reader.get("/v1/held", params={"state": "released"}).json()["held"][0]["id"] == item["id"]
        listed = reader.get("/v1/actions", params={"account_id": "C77"}).json()["actions"]
        assert [a["id"] for a in listed] == [action_id]
    done = wait_state(world, action_id, "done")
    assert done["delivery"]["status"] == "delivered"
    receiver: Receiver = world["receiver"]
    assert f"msg_{action_id}" in receiver.ids() and receiver.bad_signatures == 0
    with world["store"].engine.connect() as conn:
        steps = [(r.action, r.actor) for r in conn.execute(
            select(audit_log.c.action, audit_log.c.actor).where(audit_log.c.target == f"action:{action_id}")
            .order_by(audit_log.c.seq))]
    analyst_id = world["keys"]["analyst"].split("_")[1]
    supervisor_id = world["keys"]["supervisor"].split("_")[1]
    assert steps[:3] == [("action.propose", f"api-key:{analyst_id}"), ("action.approve", f"api-key:{supervisor_id}"),
                         ("action.execute", f"api-key:{supervisor_id}")]
    assert ("action.webhook_delivered", "system") in steps


def test_four_eyes_refusal_when_one_key_holds_both_scopes(world: dict[str, Any]) -> None:
    both = world["store"].create_api_key(name="both", scopes=frozenset({"actions:propose", "actions:approve"}))[1]
    with world["srv"].client(both) as api:
        proposed = api.post("/v1/actions", json={"kind": "unblock_symbol", "reason": "r", "params": {"symbol": "1"}})
        refused = api.post(f"/v1/actions/{proposed.json()['id']}/approve")
    assert refused.status_code == 403 and refused.json()["error"]["code"] == "mamori.actions.four_eyes"


def test_a_network_block_refuses_a_login_from_it_at_once(world: dict[str, Any]) -> None:
    with client(world, "analyst") as analyst:
        r = analyst.post("/v1/actions", json={"kind": "block_network", "reason": "stuffing source",
                                              "params": {"cidr": "192.0.2.0/24"}})
    assert r.status_code == 201 and r.json()["control"] == "single"
    decision = send(world, {"id": "login-blocked-1", "type": "login", "result": "success", "method": "password",
                            "ip": "192.0.2.44"})
    assert decision["decision"] == "block" and "CTRL-NET-001" in [x["id"] for x in decision["rules"]]
    assert wait_state(world, r.json()["id"], "done")["webhook"] == "delivered"


def test_a_freeze_action_ends_the_customers_sessions(world: dict[str, Any]) -> None:
    customer = new_customer(world["srv"])
    assert customer.password_login().status_code == 200 and customer.signed_in()
    with client(world, "analyst") as analyst:
        frozen = analyst.post("/v1/actions", json={"kind": "freeze_account", "reason": "customer reported not me",
                                                   "params": {"account_id": customer.account_id}})
    assert frozen.status_code == 201 and frozen.json()["effects"]["sessions_ended"] == 1
    assert not customer.signed_in()
    assert customer.password_login().status_code == 401


def test_the_webhook_survives_a_server_crash(tmp_path: Path) -> None:
    """Receiver down while the server approves; the server is killed; after a restart with the
    receiver up the message arrives, once."""
    port = free_port()
    env = {"MAMORI_ACTIONS_WEBHOOK_URL": f"http://127.0.0.1:{port}/hook", "MAMORI_ACTIONS_WEBHOOK_SECRET": SECRET,
           "MAMORI_ACTIONS_WEBHOOK_RETRY_S": "0.1", "MAMORI_ACTIONS_WORKER_INTERVAL_S": "0.1"}
    srv = start_server(tmp_path, env=env)
    try:
        with srv.client() as api:
            action_id = api.post("/v1/actions", json={"kind": "freeze_account", "reason": "not me",
                                                      "params": {"account_id": "C5"}}).json()["id"]
            current = api.get(f"/v1/actions/{action_id}").json()
        assert current["state"] == "executed"  # effects done, the firm not reached
    finally:
        srv.kill()
    receiver = Receiver(port)
    srv = start_server(tmp_path, env=env)
    try:
        with srv.client() as api:
            for _ in range(200):
                if api.get(f"/v1/actions/{action_id}").json()["state"] == "done":
                    break
                time.sleep(0.05)
            frozen = api.post("/v1/decisions", json={"id": "after-crash", "type": "login", "result": "success",
                                                     "method": "passkey", "account_id": "C5",
                                                     "occurred_at": datetime.now(UTC).isoformat()}).json()
    finally:
        srv.stop()
        receiver.close()
    assert receiver.ids() == [f"msg_{action_id}"]
    assert "ACCT-FROZEN-001" in [x["id"] for x in frozen["rules"]]
