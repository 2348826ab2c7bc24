"""Customer notices end to end: the real server decides, the notice worker sends, a real SMTP
server on loopback receives a bilingual, link-free mail; the contact e-mail is stored encrypted."""

from __future__ import annotations

import email
import time
from datetime import UTC, datetime, timedelta
from email import policy
from pathlib import Path

from mamori.notify.linkcheck import find_links
from server import running_server
from smtp import Mailbox


def test_a_suspicious_login_sends_a_link_free_notice_to_the_customer(
        tmp_path: Path, smtp_server: tuple[Mailbox, int]) -> None:
    box, smtp_port = smtp_server
    env = {"MAMORI_FIRM_NAME_JA": "まもり証券", "MAMORI_FIRM_NAME_EN": "Mamori Securities",
           "MAMORI_SUPPORT_PHONE": "0120-000-000", "MAMORI_SMTP_HOST": "127.0.0.1",
           "MAMORI_SMTP_PORT": str(smtp_port), "MAMORI_SMTP_FROM": "no-reply@mamori.example",
           "MAMORI_SMTP_STARTTLS": "false"}
    with running_server(tmp_path, env=env) as srv, srv.client(srv.admin_key) as c:
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
