"""Customer notices end to end: the real server decides, the notice worker sends, a real SMTP
server on loopback receives a bilingual, link-free mail; the contact e-mail is stored encrypted.
A notice survives a crash (SIGKILL) of the server: one due when it died, and one whose delivery had
failed, both arrive after the restart (the durable outbox)."""

from __future__ import annotations

import email
import socket
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from email import policy
from pathlib import Path
from typing import Any

import httpx

from mamori.notify.linkcheck import find_links
from server import HOST, RunningServer, free_port, running_server, start_server
from smtp import Mailbox, running_smtp_server


def notice_env(smtp_port: int) -> dict[str, str]:
    return {"MAMORI_FIRM_NAME_JA": "まもり証券", "MAMORI_FIRM_NAME_EN": "Mamori Securities",
            "MAMORI_SUPPORT_PHONE": "0120-000-000", "MAMORI_SMTP_HOST": HOST,
            "MAMORI_SMTP_PORT": str(smtp_port), "MAMORI_SMTP_FROM": "no-reply@mamori.example",
            "MAMORI_SMTP_STARTTLS": "false", "MAMORI_NOTICE_RETRY_DELAY_S": "1"}


def phish(c: httpx.Client, account: str) -> dict[str, Any]:
    """Register the customer's address, their usual logins, then a login from a phishing kit."""
    assert c.put(f"/v1/accounts/{account}/contact", json={"email": "taro@customer.example"}).status_code == 200
    start = datetime.now(UTC) - timedelta(days=3)
    for i in range(5):
        c.post("/v1/decisions", json={"id": f"{account}-{i}", "type": "login", "account_id": account,
                                      "result": "success", "method": "passkey", "ip": "153.156.10.20",
                                      "device_id": "home-pc", "occurred_at": (start + timedelta(hours=i)).isoformat()})
    decision: dict[str, Any] = c.post("/v1/decisions", json={
        "id": f"{account}-phish", "type": "login", "account_id": account, "result": "success",
        "method": "password", "ip": "3.112.5.5", "device_id": "phish-kit",
        "user_agent": "Mozilla/5.0 (Windows NT 10.0) Chrome/131.0", "occurred_at": datetime.now(UTC).isoformat()}).json()
    assert decision["decision"] == "challenge"
    return decision


def wait_for(condition: Callable[[], bool], srv: RunningServer, timeout: float = 15) -> None:
    deadline = time.time() + timeout
    while not condition():
        assert time.time() < deadline, srv.log()[-3000:]
        time.sleep(0.05)


def assert_one_notice(box: Mailbox, srv: RunningServer) -> None:
    wait_for(lambda: bool(box.envelopes), srv)
    time.sleep(0.5)  # and no second one
    assert len(box.envelopes) == 1, srv.log()[-3000:]
    [envelope] = box.envelopes
    assert envelope.rcpt_tos == ["taro@customer.example"]
    message = email.message_from_bytes(envelope.content, policy=policy.default)
    assert "まもり証券" in str(message["Subject"]) and "suspicious_login" in str(message["X-Mamori-Notice"])


def test_a_suspicious_login_sends_a_link_free_notice_to_the_customer(
        tmp_path: Path, smtp_server: tuple[Mailbox, int]) -> None:
    box, smtp_port = smtp_server
    with running_server(tmp_path, env=notice_env(smtp_port)) as srv, srv.client(srv.admin_key) as c:
        account = "acct-notice"
        r = c.put(f"/v1/accounts/{account}/contact", json={"email": "taro@customer.example", "language": "both"})
        assert r.status_code == 200
        start = datetime.now(UTC) - timedelta(days=3)
        for i in range(5):  # the customer's usual logins
            c.post("/v1/decisions", json={"id": f"n-{i}", "type": "login", "account_id": account,
                                          "result": "success", "method": "passkey", "ip": "153.156.10.20",
                                          "device_id": "home-pc", "occurred_at": (start + timedelta(hours=i)).isoformat()})
        suspicious = c.post("/v1/decisions", json={
            "id": "n-phish", "type": "login", "account_id": account, "result": "success", "method": "password",
            "ip": "3.112.5.5", "device_id": "phish-kit", "user_agent": "Mozilla/5.0 (Windows NT 10.0) Chrome/131.0",
            "occurred_at": datetime.now(UTC).isoformat()}).json()
        assert suspicious["decision"] == "challenge"
        deadline = time.time() + 15
        while not box.envelopes and time.time() < deadline:
            time.sleep(0.1)
        assert len(box.envelopes) == 1, srv.log()[-2000:]
        envelope = box.envelopes[0]
        assert envelope.rcpt_tos == ["taro@customer.example"]
        message = email.message_from_bytes(envelope.content, policy=policy.default)
        text = message.get_body(preferencelist=("plain",)).get_content()
        assert "まもり証券" in str(message["Subject"])
        assert "153.156" not in text and "3.112.x.x" in text  # the IP is masked
        assert "0120-000-000" in text and "公式アプリ" in text and "official app" in text
        assert find_links(text) == []
        # the address is personal data: encrypted at rest
        for stored in tmp_path.glob("mamori.db*"):  # the database and its write-ahead log
            assert b"taro@customer.example" not in stored.read_bytes()
        assert "taro@customer.example" not in srv.log()


def test_a_notice_due_when_the_server_crashed_is_sent_after_the_restart(tmp_path: Path) -> None:
    """The mail relay hangs (accepts, never answers): the worker is stuck sending when the server is
    killed. After the restart the worker catches up from its durable cursor and sends the notice."""
    with socket.create_server((HOST, 0)) as hung:  # listening, never accepting: SMTP waits for a greeting
        srv = start_server(tmp_path, env=notice_env(hung.getsockname()[1]))
        try:
            with srv.client(srv.admin_key) as c:
                phish(c, "acct-crash")
            time.sleep(0.3)  # the worker is now waiting for the relay's greeting
            assert "notice suspicious_login" not in srv.log()
        finally:
            srv.kill()
    with running_smtp_server() as (box, port), running_server(tmp_path, env=notice_env(port)) as again:
        assert_one_notice(box, again)


def test_a_failed_delivery_is_retried_after_a_crash(tmp_path: Path) -> None:
    """The mail relay is down (nothing listens): the notice fails and is kept for retry; the server is
    killed; with the relay back, the restarted server retries it."""
    srv = start_server(tmp_path, env=notice_env(free_port()))
    try:
        with srv.client(srv.admin_key) as c:
            phish(c, "acct-retry")
        wait_for(lambda: "email failed; next attempt at" in srv.log(), srv)
    finally:
        srv.kill()
    with running_smtp_server() as (box, port), running_server(tmp_path, env=notice_env(port)) as again:
        assert_one_notice(box, again)
        assert "delivered on attempt 2" in again.log()
