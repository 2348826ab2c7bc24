"""The signed, durable webhook to the firm's systems, against a real HTTP receiver on 127.0.0.1 that
checks the Standard Webhooks signature with its own code (written from the spec, not mamori's).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from mamori.actions import ActionsService, ActionsSettings, verify
from mamori.actions import service as service_module
from mamori.adapters.sql.store import now_us
from mamori.events.parse import parse_event
from mamori.kit.settings import Settings
from mamori.risk.service import RiskService
from server import free_port

SECRET = "whsec_" + base64.b64encode(b"0123456789abcdef0123456789abcdef").decode()
ANALYST, SUPERVISOR = "operator:hanako", "operator:taro"


def spec_signature_ok(headers: Any, body: bytes) -> bool:
    """The receiver's check, from https://www.standardwebhooks.com/ (signature scheme v1)."""
    key = base64.b64decode(SECRET.removeprefix("whsec_"))
    signed = f"{headers['webhook-id']}.{headers['webhook-timestamp']}.".encode() + body
    expected = base64.b64encode(hmac.new(key, signed, hashlib.sha256).digest()).decode()
    fresh = abs(time.time() - int(headers["webhook-timestamp"])) <= 300
    return fresh and any(part == f"v1,{expected}" for part in headers["webhook-signature"].split())


class Receiver:
    """The firm's endpoint: verifies, records, answers with the next scripted status (then 204)."""

    def __init__(self, port: int, statuses: list[int] | None = None) -> None:
        self.messages: list[tuple[str, dict[str, Any]]] = []
        self.bad_signatures = 0
        self.statuses = list(statuses or [])
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                if not spec_signature_ok(self.headers, body):
                    outer.bad_signatures += 1
                    self.send_response(401)
                else:
                    status = outer.statuses.pop(0) if outer.statuses else 204
                    if status < 300:
                        outer.messages.append((self.headers["webhook-id"], json.loads(body)))
                    self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                return None

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def ids(self) -> list[str]:
        return [i for i, _ in self.messages]


@pytest.fixture
def port() -> int:
    return free_port()


def settings_for(port: int, **kw: Any) -> ActionsSettings:
    return ActionsSettings(webhook_url=f"http://127.0.0.1:{port}/mamori/actions", webhook_secret=SECRET,
                           webhook_retry_s=0.05, webhook_trust_env=False, **kw)


@pytest.fixture
def risk(tmp_path: Path) -> Iterator[RiskService]:
    service = RiskService.open(Settings(data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'm.db'}",
                                        snapshot_interval_s=0))
    try:
        yield service
    finally:
        service.close()


async def held_withdrawal(risk: RiskService, actions: ActionsService, transfer_id: str = "W-1") -> int:
    outcome = await risk.decide(parse_event({
        "id": f"ev-{transfer_id}", "type": "fiat_withdrawal", "account_id": "C1", "transfer_id": transfer_id,
        "amount": "25000000", "occurred_at": datetime.now(UTC).isoformat(), "ip": "153.156.10.20"}))
    assert outcome.decision == "hold"
    return int(next(i["id"] for i in actions.held() if i["reference"] == transfer_id))


async def approved_release(risk: RiskService, actions: ActionsService) -> dict[str, Any]:
    held_id = await held_withdrawal(risk, actions)
    proposed = await actions.propose(ANALYST, kind="release_withdrawal", reason="confirmed",
                                     params={"held_id": held_id}, case_id=3)
    return await actions.approve(SUPERVISOR, proposed["id"])  # type: ignore[no-any-return]


async def deliver_until(actions: ActionsService, action_id: str, states: set[str], rounds: int = 100) -> dict[str, Any]:
    for _ in range(rounds):
        await actions.deliver_due()
        current = actions.get(action_id)
        if current["state"] in states:
            return current
        await asyncio.sleep(0.05)
    raise AssertionError(f"action {action_id} stayed {current['state']}: {current['delivery']}")


def test_an_approved_action_is_posted_once_signed_with_its_approvals(risk: RiskService, port: int) -> None:
    receiver = Receiver(port)
    actions = ActionsService(risk, settings_for(port))
    try:
        async def scenario() -> dict[str, Any]:
            approved = await approved_release(risk, actions)
            assert approved["state"] == "executed" and approved["delivery"]["status"] == "pending"
            return await deliver_until(actions, approved["id"], {"done"})

        done = asyncio.run(scenario())
        asyncio.run(actions.deliver_due())  # nothing left to send
    finally:
        receiver.close()
    assert receiver.bad_signatures == 0 and len(receiver.messages) == 1
    webhook_id, body = receiver.messages[0]
    assert webhook_id == f"msg_{done['id']}" and done["delivery"]["status"] == "delivered"
    assert body["action_id"] == body["idempotency_key"] == done["id"]
    assert body["kind"] == "release_withdrawal" and body["case_id"] == 3
    assert body["target"]["type"] == "held_withdrawal" and body["target"]["held"]["reference"] == "W-1"
    assert body["target"]["held"]["outcome"] == "released" and body["target"]["account_id"] == "C1"
    assert body["parameters"] == {"held_id": done["held_id"]}
    assert body["approvals"] == [{"by": SUPERVISOR, "at": done["decided_at"], "policy": "four_eyes"}]
    assert body["proposed_by"] == ANALYST


def test_receiver_down_then_up_is_retried_and_gets_the_message_once(risk: RiskService, port: int) -> None:
    actions = ActionsService(risk, settings_for(port))

    async def first() -> dict[str, Any]:
        approved = await approved_release(risk, actions)
        await actions.deliver_due()  # nothing listens on the port yet
        return actions.get(approved["id"])

    down = asyncio.run(first())
    assert down["state"] == "executed" and down["delivery"]["status"] == "pending"
    assert down["delivery"]["attempts"] == 1 and down["delivery"]["last_error"]
    assert down["error"]  # visible on the action
    receiver = Receiver(port, statuses=[503])  # up, but failing once more
    try:
        done = asyncio.run(deliver_until(actions, down["id"], {"done"}))
    finally:
        receiver.close()
    assert done["delivery"]["attempts"] == 3 and done["error"] is None
    assert receiver.ids() == [f"msg_{down['id']}"] and receiver.bad_signatures == 0


def test_gave_up_is_visible_and_an_operator_retry_delivers(risk: RiskService, port: int) -> None:
    actions = ActionsService(risk, settings_for(port, webhook_max_attempts=2))
    receiver = Receiver(port, statuses=[500, 500])
    try:
        async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
            approved = await approved_release(risk, actions)
            failed = await deliver_until(actions, approved["id"], {"failed"})
            await actions.retry(ANALYST, approved["id"])
            return failed, await deliver_until(actions, approved["id"], {"done"})

        failed, done = asyncio.run(scenario())
    finally:
        receiver.close()
    assert failed["webhook"] == "failed" and failed["delivery"]["status"] == "gave_up"
    assert failed["error"] == "HTTP 500"
    assert done["webhook"] == "delivered" and len(receiver.messages) == 1


def test_a_permanent_refusal_is_not_retried(risk: RiskService, port: int) -> None:
    actions = ActionsService(risk, settings_for(port))
    receiver = Receiver(port, statuses=[400])
    try:
        async def scenario() -> dict[str, Any]:
            approved = await approved_release(risk, actions)
            return await deliver_until(actions, approved["id"], {"failed"})

        failed = asyncio.run(scenario())
    finally:
        receiver.close()
    assert failed["delivery"]["attempts"] == 1 and failed["error"] == "HTTP 400"


def test_a_crash_after_approval_loses_nothing(tmp_path: Path, store_url: str, port: int,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """Approval committed (with its outbox row) but the process died before executing and sending:
    the next process executes the action and delivers the message."""
    settings = Settings(data_dir=tmp_path, database_url=store_url, snapshot_interval_s=0)
    risk = RiskService.open(settings)
    try:
        actions = ActionsService(risk, settings_for(port))

        async def before_crash() -> str:
            proposed = await actions.propose(ANALYST, kind="unblock_network", reason="cleaned",
                                             params={"cidr": "203.0.113.0/24"})
            await asyncio.to_thread(actions._approve, SUPERVISOR, proposed["id"], None)  # commit, then "crash"
            return str(proposed["id"])

        action_id = asyncio.run(before_crash())
        assert actions.get(action_id)["state"] == "approved"
    finally:
        risk.close()
    receiver = Receiver(port)
    risk = RiskService.open(settings)
    try:
        later = ActionsService(risk, settings_for(port), clock=lambda: now_us() + 60_000_000)
        monkeypatch.setattr(service_module, "HELD_REFRESH_S", 0.0)
        asyncio.run(later.run_round())  # recovery executes, then the outbox row is delivered
        final = later.get(action_id)
    finally:
        risk.close()
        receiver.close()
    assert final["state"] == "done" and final["effects"]["events"][0]["type"] == "firm_block"
    assert receiver.ids() == [f"msg_{action_id}"]


def test_verify_rejects_tampering_and_stale_timestamps() -> None:
    from mamori.actions.webhook import sign, signing_key

    body = b'{"action_id":"x"}'
    stamp = int(time.time())
    headers = {"webhook-id": "msg_x", "webhook-timestamp": str(stamp),
               "webhook-signature": "v1,bm90IGl0 " + sign(signing_key(SECRET), "msg_x", stamp, body)}
    assert verify(SECRET, headers, body)
    assert not verify(SECRET, headers, body + b" ")
    assert not verify(SECRET, {**headers, "webhook-id": "msg_y"}, body)
    assert not verify(SECRET, headers, body, now=stamp + 301)
    assert not verify("whsec_" + base64.b64encode(b"another-secret-of-32-bytes......").decode(), headers, body)
    with pytest.raises(ValueError):
        signing_key("short")
