"""The SMTP policy proxy with a real SMTP client (smtplib) in front and a real SMTP server behind it,
all on loopback; the quarantine; the evidence counts."""

from __future__ import annotations

import shutil
import smtplib
import subprocess
from collections.abc import Iterator
from email.message import EmailMessage
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from mamori.mail.evidence import evidence_html, summarise
from mamori.mail.message import PpapTracker, scan_message
from mamori.mail.policy import MailPolicy
from mamori.mail.proxy import PolicyHandler, start_proxy
from mamori.mail.store import MailStore
from mamori.notify.contacts import ContactDirectory
from server import free_port
from smtp import Mailbox, running_smtp_server

FIRM = "example-sec.co.jp"
POLICY = MailPolicy(firm_domains=frozenset({FIRM}), counterparty_domains=frozenset({"partner-bank.co.jp"}),
                    departments=(("sales-*@example-sec.co.jp", "営業部"),))


def message(to: str, body: str = "いつもお世話になっております。", *, sender: str = f"sales-tanaka@{FIRM}",
            attachment: tuple[str, bytes] | None = None, subject: str = "ご案内") -> bytes:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = sender, to, subject
    msg.set_content(body)
    if attachment is not None:
        msg.add_attachment(attachment[1], maintype="application", subtype="zip", filename=attachment[0])
    return bytes(msg)


def same_message(received: bytes, sent: bytes) -> bool:
    """Byte for byte, up to SMTP's line endings (CRLF on the wire, and the CRLF before the final dot)."""
    return received.replace(b"\r\n", b"\n").rstrip(b"\n") == sent.replace(b"\r\n", b"\n").rstrip(b"\n")


@pytest.fixture(scope="module")
def encrypted_zip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    if shutil.which("zip") is None:
        pytest.fail("Debian's zip is needed to build the PPAP sample: run scripts/system-deps")
    work = tmp_path_factory.mktemp("zip")
    (work / "明細.csv").write_text("口座,金額\n1,100\n", encoding="utf-8")
    subprocess.run(["zip", "-q", "-P", "secret123", "statement.zip", "明細.csv"], cwd=work, check=True)
    return (work / "statement.zip").read_bytes()


class Rig:
    def __init__(self, tmp: Path, upstream: Mailbox, upstream_port: int) -> None:
        engine = create_engine(f"sqlite:///{tmp / 'mail.db'}")
        self.store = MailStore(engine, tmp / "quarantine")
        contacts = ContactDirectory(engine, key=b"k" * 32)
        contacts.set("C-1", email="taro.customer@gmail.com", language="ja", webhook_ref=None)
        self.handler = PolicyHandler(policy=POLICY, store=self.store, scan=scan_message,
                                     upstream=("127.0.0.1", upstream_port), tracker=PpapTracker(),
                                     is_customer=lambda a: bool(contacts.accounts_with_email(a)))
        self.port = free_port()
        self.controller = start_proxy(self.handler, port=self.port)
        self.upstream = upstream

    def send(self, raw: bytes, to: list[str], sender: str = f"sales-tanaka@{FIRM}") -> str:
        with smtplib.SMTP("127.0.0.1", self.port, timeout=30) as client:
            client.sendmail(sender, to, raw)
            return "sent"


@pytest.fixture
def rig(tmp_path: Path) -> Iterator[Rig]:
    with running_smtp_server() as (box, port):
        r = Rig(tmp_path, box, port)
        try:
            yield r
        finally:
            r.controller.stop()


def test_clean_mail_to_a_counterparty_is_relayed_unchanged(rig: Rig) -> None:
    raw = message("yamada@partner-bank.co.jp")
    rig.send(raw, ["yamada@partner-bank.co.jp"])
    [envelope] = rig.upstream.envelopes
    assert envelope.rcpt_tos == ["yamada@partner-bank.co.jp"]
    assert same_message(envelope.original_content, raw)


def test_a_link_to_a_customer_is_refused_with_the_reason(rig: Rig) -> None:
    raw = message("taro.customer@gmail.com", "ログインはこちら https://example-sec.co.jp/login から")
    with pytest.raises(smtplib.SMTPDataError) as refused:
        rig.send(raw, ["taro.customer@gmail.com"])
    assert refused.value.smtp_code == 550
    assert b"link" in refused.value.smtp_error and b"customer" in refused.value.smtp_error
    assert rig.upstream.envelopes == []
    # The same text to a counterparty is fine by this policy.
    rig.send(message("yamada@partner-bank.co.jp", "資料は https://example-sec.co.jp/ir に"), ["yamada@partner-bank.co.jp"])
    assert len(rig.upstream.envelopes) == 1


def test_ppap_is_held_intact_and_can_be_released(rig: Rig, encrypted_zip: bytes) -> None:
    raw = message("yamada@partner-bank.co.jp", "資料をお送りします。パスワードは別途お送りします。",
                  attachment=("statement.zip", encrypted_zip))
    with smtplib.SMTP("127.0.0.1", rig.port, timeout=30) as client:
        client.ehlo()
        client.mail(f"sales-tanaka@{FIRM}")
        client.rcpt("yamada@partner-bank.co.jp")
        code, reply = client.data(raw)
    assert code == 250 and b"held for review" in reply and b"PPAP" in reply
    assert rig.upstream.envelopes == []
    [held] = rig.store.held()
    assert held.recipients == ("yamada@partner-bank.co.jp",) and held.reasons[0].startswith("encrypted_attachment")
    # The follow-up mail with the password is PPAP's second half: held too.
    password = message("yamada@partner-bank.co.jp", "先ほどのファイルのパスワード：secret123", subject="パスワード")
    rig.send(password, ["yamada@partner-bank.co.jp"])
    assert len(rig.store.held()) == 2 and rig.store.held()[1].reasons[0].startswith("ppap_password")
    rig.handler.release(held.id, by="op-1")
    [delivered] = rig.upstream.envelopes
    assert same_message(delivered.original_content, raw)
    assert [h.id for h in rig.store.held()] != [held.id]
    with pytest.raises(Exception, match="not held"):
        rig.handler.release(held.id, by="op-1")


def test_only_the_firms_senders_may_relay(rig: Rig) -> None:
    with pytest.raises(smtplib.SMTPSenderRefused) as refused:
        rig.send(message("yamada@partner-bank.co.jp", sender="spoof@evil.example"), ["yamada@partner-bank.co.jp"],
                 sender="spoof@evil.example")
    assert refused.value.smtp_code == 550 and b"relaying denied" in refused.value.smtp_error


def test_when_the_relay_is_down_the_client_keeps_the_message(tmp_path: Path) -> None:
    dead = free_port()
    rig = Rig(tmp_path, Mailbox(), dead)
    try:
        with pytest.raises(smtplib.SMTPDataError) as deferred:
            rig.send(message("yamada@partner-bank.co.jp"), ["yamada@partner-bank.co.jp"])
        assert deferred.value.smtp_code == 451
        assert rig.store.log_rows() == []
    finally:
        rig.controller.stop()


def test_evidence_counts_by_month_department_and_counterparty(rig: Rig, encrypted_zip: bytes) -> None:
    rig.send(message("yamada@partner-bank.co.jp"), ["yamada@partner-bank.co.jp"])
    rig.send(message("yamada@partner-bank.co.jp", attachment=("a.zip", encrypted_zip)), ["yamada@partner-bank.co.jp"])
    rig.send(message("sato@other.example", attachment=("b.zip", encrypted_zip), sender=f"ir@{FIRM}"),
             ["sato@other.example"], sender=f"ir@{FIRM}")
    summary = summarise(rig.store.log_rows())
    [month] = summary["months"]
    assert month["messages"] == 3 and month["ppap"] == 2 and month["stopped"] == 2
    assert summary["ppap_by_department"] == {"営業部": {month["month"]: 1}, "(unassigned)": {month["month"]: 1}}
    assert set(summary["ppap_by_counterparty"]) == {"partner-bank.co.jp", "other.example"}
    page = evidence_html(summary)
    assert "<svg" in page and "営業部" in page and "http" not in page.replace('xmlns="http://www.w3.org/2000/svg"', "")


def test_an_archive_of_sent_mail_becomes_month_by_month_evidence(tmp_path: Path, encrypted_zip: bytes) -> None:
    """`mamori mail record` over a directory of .eml files, then `mamori mail evidence`."""
    import json

    from click.testing import CliRunner

    from mamori.cli.main import main

    archive = tmp_path / "sent"
    archive.mkdir()
    policy = tmp_path / "mail-policy.yaml"
    policy.write_text(f"firm_domains: [{FIRM}]\ncounterparty_domains: [partner-bank.co.jp]\n"
                      f'departments: {{"sales-*@{FIRM}": 営業部}}\n', encoding="utf-8")
    dates = {"2026-09-10": 3, "2026-10-10": 2, "2026-11-10": 0}
    n = 0
    for day, ppap in dates.items():
        for i in range(4):
            with_zip = i < ppap
            msg = EmailMessage()
            msg["From"], msg["To"], msg["Subject"] = f"sales-tanaka@{FIRM}", "yamada@partner-bank.co.jp", "資料"
            msg["Date"] = {"2026-09-10": "Thu, 10 Sep 2026", "2026-10-10": "Sat, 10 Oct 2026",
                           "2026-11-10": "Tue, 10 Nov 2026"}[day] + f" 10:{i:02d}:00 +0900"
            msg.set_content("資料をお送りします。")
            if with_zip:
                msg.add_attachment(encrypted_zip, maintype="application", subtype="zip", filename="a.zip")
            (archive / f"m{n:03d}.eml").write_bytes(bytes(msg))
            n += 1
    data = tmp_path / "data"
    runner = CliRunner()
    recorded = runner.invoke(main, ["mail", "record", str(archive), "--policy", str(policy), "--data-dir", str(data)])
    assert recorded.exit_code == 0, recorded.output
    assert "12 outgoing messages recorded" in recorded.output
    out = tmp_path / "evidence"
    shown = runner.invoke(main, ["mail", "evidence", "--policy", str(policy), "--data-dir", str(data), "--out", str(out)])
    assert shown.exit_code == 0, shown.output
    summary = json.loads((out / "evidence.json").read_text(encoding="utf-8"))
    assert [(m["month"], m["messages"], m["ppap"]) for m in summary["months"]] == [
        ("2026-09", 4, 3), ("2026-10", 4, 2), ("2026-11", 4, 0)]
    assert summary["ppap_by_department"] == {"営業部": {"2026-09": 3, "2026-10": 2}}
    assert "<svg" in (out / "evidence.html").read_text(encoding="utf-8")
