"""The console's held-items page and approvals queue, against a real ``mamori serve`` on loopback with
operators signed in by (software) passkeys: an analyst proposes releasing a held withdrawal and
cancelling a held order from the held page's API, a supervisor approves both, the pages show the
outcome and the webhook delivery, in Japanese and English; roles and CSRF are checked on the server.
"""

from __future__ import annotations

import re
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from console_client import Operator, signed_in_operator
from server import RunningServer, free_port, start_server
from test_actions_webhook import SECRET, Receiver


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    port = free_port()
    receiver = Receiver(port)
    srv = start_server(tmp_path_factory.mktemp("actions-console"), env={
        "MAMORI_ACTIONS_WEBHOOK_URL": f"http://127.0.0.1:{port}/hook", "MAMORI_ACTIONS_WEBHOOK_SECRET": SECRET,
        "MAMORI_ACTIONS_WEBHOOK_RETRY_S": "0.1", "MAMORI_ACTIONS_WORKER_INTERVAL_S": "0.1"})
    ops = {role: signed_in_operator(srv, f"{role[:4]}-{uuid.uuid4().hex[:6]}", role)
           for role in ("analyst", "supervisor", "auditor")}
    try:
        yield {"srv": srv, "ops": ops, "receiver": receiver}
    finally:
        for op in ops.values():
            op.close()
        srv.stop()
        receiver.close()


def send(srv: RunningServer, event: dict[str, Any]) -> str:
    with srv.client() as admin:
        r = admin.post("/v1/decisions", json={"occurred_at": datetime.now(UTC).isoformat(), "account_id": "K1",
                                              "ip": "153.156.10.20", **event})
    assert r.status_code == 200, r.text
    return str(r.json()["decision"])


def held_id(srv: RunningServer, reference: str) -> int:
    with srv.client() as admin:
        rows = admin.get("/v1/held").json()["held"]
    return int(next(h["id"] for h in rows if h["reference"] == reference))


def test_propose_from_the_held_page_and_approve_in_the_queue(world: dict[str, Any]) -> None:
    srv: RunningServer = world["srv"]
    analyst: Operator = world["ops"]["analyst"]
    supervisor: Operator = world["ops"]["supervisor"]
    auditor: Operator = world["ops"]["auditor"]
    assert send(srv, {"id": "c-wd", "type": "fiat_withdrawal", "transfer_id": "WD-K1", "amount": "25000000"}) == "hold"
    with srv.client() as admin:
        blocked = admin.post("/v1/actions", json={"kind": "block_symbol", "reason": "pump", "params": {"symbol": "4242"}})
    assert blocked.status_code == 201
    assert send(srv, {"id": "c-or", "type": "order", "order_id": "OR-K1", "side": "sell", "symbol": "4242",
                      "market": "TSE", "quantity": "10", "price": "100", "order_type": "limit"}) == "hold"

    page = analyst.http.get("/console/held", headers={"Accept-Language": "ja"})
    assert page.status_code == 200 and "保留中の注文・出金" in page.text
    assert "WD-K1" in page.text and "OR-K1" in page.text and 'data-api="/v1/held/' in page.text
    english = auditor.http.get("/console/held", params={"kind": "order"}, headers={"Accept-Language": "en"})
    assert english.status_code == 200 and "Held orders and withdrawals" in english.text
    assert "OR-K1" in english.text and "WD-K1" not in english.text
    assert 'data-api="/v1/held/' not in english.text  # the auditor may not propose: no form

    wd, order = held_id(srv, "WD-K1"), held_id(srv, "OR-K1")
    assert analyst.post_json(f"/v1/held/{wd}/propose", {"outcome": "release", "reason": "x"},
                             csrf="wrong").json()["error"]["code"] == "mamori.auth.csrf"
    assert auditor.post_json(f"/v1/held/{wd}/propose", {"outcome": "release", "reason": "x"}).status_code == 403
    release = analyst.post_json(f"/v1/held/{wd}/propose", {"outcome": "release", "reason": "本人確認済み"})
    cancel = analyst.post_json(f"/v1/held/{order}/propose", {"outcome": "cancel", "reason": "乗っ取りの疑い"})
    assert release.status_code == 201 and cancel.status_code == 201, (release.text, cancel.text)
    assert release.json()["kind"] == "release_withdrawal" and cancel.json()["kind"] == "cancel_order"

    own_queue = analyst.http.get("/console/actions", headers={"Accept-Language": "en"})
    assert "You cannot approve your own proposal" in own_queue.text
    assert f'/v1/actions/{release.json()["id"]}/approve' not in own_queue.text
    queue = supervisor.http.get("/console/actions", headers={"Accept-Language": "ja"})
    assert queue.status_code == 200 and f'/v1/actions/{release.json()["id"]}/approve' in queue.text
    assert analyst.post_json(f"/v1/actions/{release.json()['id']}/approve", {}).status_code == 403  # no scope
    for action in (release.json(), cancel.json()):
        approved = supervisor.post_json(f"/v1/actions/{action['id']}/approve", {})
        assert approved.status_code == 200, approved.text
        assert approved.json()["decided_by"] == f"operator:{supervisor.login_id}"
        assert approved.json()["proposed_by"] == f"operator:{analyst.login_id}"

    for _ in range(200):
        recent = supervisor.http.get("/console/actions", headers={"Accept-Language": "en"}).text
        if recent.count("Delivered") >= 3:  # the block and the two approvals
            break
        time.sleep(0.05)
    assert recent.count("Delivered") >= 3, recent
    settled = analyst.http.get("/console/held", params={"state": ""}, headers={"Accept-Language": "en"}).text
    rows = {int(m.group(1)): m.group(2) for m in re.finditer(r'<tr data-held="(\d+)">(.*?)</tr>', settled, re.S)}
    assert "Released" in rows[wd] and "Cancelled" not in rows[wd], rows[wd]  # the row, not the state filter
    assert "Cancelled" in rows[order] and "Released" not in rows[order], rows[order]
    receiver: Receiver = world["receiver"]
    assert {f"msg_{release.json()['id']}", f"msg_{cancel.json()['id']}"} <= set(receiver.ids())
    assert receiver.bad_signatures == 0


def test_pages_need_a_session(world: dict[str, Any]) -> None:
    srv: RunningServer = world["srv"]
    with srv.client() as anon:
        anon.headers.pop("Authorization")
        response = anon.get("/console/held", follow_redirects=False)
    assert response.status_code in (302, 303) and "/console/login" in response.headers["location"]
