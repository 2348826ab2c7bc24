"""Decisions from the real engine -> customer notices: mapping, dedupe, the notice log (SQLite and
PostgreSQL), the encrypted contact directory, and delivery to a real SMTP server on loopback."""

from __future__ import annotations

import base64
import email
import itertools
import os
import stat
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email import policy
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from mamori.adapters.geo import open_geo_provider
from mamori.events.models import EVENT_TYPES, EventBase
from mamori.notify import SmtpNoticeSender, find_links
from mamori.notify.contacts import ContactDirectory, ContactKeyError, load_key, load_or_create_key
from mamori.notify.dispatch import (
    Dispatcher,
    FirmInfo,
    InMemoryNoticeLog,
    NoticeRecord,
    SqlNoticeLog,
    describe_device,
    notice_for,
)
from mamori.notify.templates import NoticeKind
from mamori.risk.engine import Engine
from mamori.risk.rules.loader import builtin_ruleset
from smtp import Mailbox

HOST = "127.0.0.1"
T0 = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)  # 10:00 JST
HOME = {"ip": "153.156.10.20", "device_id": "home-pc"}
ATTACKER = {"ip": "3.112.5.5", "device_id": "attacker",
            "user_agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 Chrome/132.0 Safari/537.36"}
FIRM = FirmInfo(name_ja="まもり証券", name_en="Mamori Securities", support_phone="0120-000-000")
KEY = bytes(range(32))


class Story:
    """Feeds events through one real engine; returns (decision dict, event) pairs."""

    def __init__(self) -> None:
        self.engine = Engine(builtin_ruleset(), geo=open_geo_provider())
        self.ids = itertools.count(1)

    def event(self, type: str, at: timedelta, account: str = "C-1001", **fields: Any) -> EventBase:
        return EVENT_TYPES[type].model_validate(
            {"id": f"e{next(self.ids)}", "type": type, "occurred_at": T0 + at, "account_id": account, **fields})

    def run(self, type: str, at: timedelta, account: str = "C-1001", **fields: Any) -> tuple[dict[str, Any], EventBase]:
        event = self.event(type, at, account, **fields)
        return self.engine.process(event).to_dict(), event


def login(story: Story, at: timedelta, *, method: str = "password", result: str = "success",
          who: dict[str, Any] = HOME, **kw: Any) -> tuple[dict[str, Any], EventBase]:  # fmt: skip
    return story.run("login", at, method=method, result=result, **who, **kw)


def kind_of(decision: dict[str, Any], event: EventBase) -> NoticeKind | None:
    notice = notice_for(decision, event, firm=FIRM)
    if notice is not None:
        assert find_links(notice.subject + "\n" + notice.text()) == []
    return None if notice is None else notice.kind


def fired(decision: dict[str, Any]) -> set[str]:
    return {r["id"] for r in decision["rules"]}


# ---------------------------------------------------------------------------------------------
# Mapping


def test_new_device_login_is_a_suspicious_login_notice() -> None:
    story = Story()
    d, e = login(story, timedelta(0), method="passkey")
    assert kind_of(d, e) is None  # the first, ordinary login
    d, e = login(story, timedelta(days=1), who=ATTACKER)
    assert "LOGIN-NEWDEV-001" in fired(d)
    notice = notice_for(d, e, firm=FIRM)
    assert notice is not None and notice.kind is NoticeKind.SUSPICIOUS_LOGIN
    body = notice.text()
    assert "3.112.x.x" in body and "3.112.5.5" not in body
    assert "Chrome (Windows)" in body
    assert "2026年1月6日 10:00" in body  # the event's time, in JST
    assert notice.recipient.customer_id == "C-1001" and notice.recipient.email is None
    d, e = login(story, timedelta(days=2), method="passkey")  # back home, known device
    assert d["decision"] == "allow" and kind_of(d, e) is None


def test_country_comes_from_the_ip_country_feature() -> None:
    story = Story()
    login(story, timedelta(0), method="passkey")
    d, e = login(story, timedelta(days=1), who=ATTACKER)
    d["features"]["ip_country"] = "US"
    notice = notice_for(d, e, firm=FIRM)
    assert notice is not None and "アメリカ合衆国" in notice.ja.body and "United States" in notice.en.body


def test_lock_notice_only_for_the_attempt_that_created_the_lock() -> None:
    story = Story()
    sent = InMemoryNoticeLog()
    dispatcher = Dispatcher(FIRM, contacts=_NoContacts(), log=sent)
    login(story, timedelta(0), method="passkey")
    outcomes = []
    for minute in range(1, 6):
        d, e = login(story, timedelta(minutes=minute), result="failure", who=ATTACKER)
        outcomes.append(dispatcher.handle(d, e))
    assert outcomes[:4] == [None] * 4
    assert "LOGIN-LOCK-001" in fired(d) and kind_of(d, e) is NoticeKind.ACCOUNT_LOCKED
    assert outcomes[4] is not None and outcomes[4].kind is NoticeKind.ACCOUNT_LOCKED
    assert outcomes[4].status == "no_contact"
    assert dispatcher.handle(d, e).status == "duplicate"  # type: ignore[union-attr]  # replaying it tells nobody twice
    # later attempts refused during the same lock: no further notice
    d, e = login(story, timedelta(minutes=6), result="failure", who=ATTACKER)
    assert d["decision"] == "block"
    later = dispatcher.handle(d, e)
    assert later is not None and later.status == "lock_continues"
    d, e = login(story, timedelta(minutes=7), who=ATTACKER)  # a refused success: never a lock notice
    assert d["decision"] == "block" and kind_of(d, e) is None and dispatcher.handle(d, e) is None
    # the owner's own device is exempt and does not end the lock's streak
    d, e = login(story, timedelta(minutes=8), method="passkey")
    assert dispatcher.handle(d, e) is None
    d, e = login(story, timedelta(minutes=9), result="failure", who=ATTACKER)
    assert dispatcher.handle(d, e) is not None and dispatcher.handle(d, e).status in ("lock_continues",)
    assert [r.kind for r in sent.records()] == ["account_locked"]
    # the lock lapses; five more failures create a second (30-minute) lock: told again
    statuses = []
    for minute in range(40, 45):
        d, e = login(story, timedelta(minutes=minute), result="failure", who=ATTACKER)
        out = dispatcher.handle(d, e)
        statuses.append(None if out is None else out.status)
    assert statuses == [None, None, None, None, "no_contact"]
    assert [r.kind for r in sent.records()] == ["account_locked", "account_locked"]


def test_one_time_code_lock() -> None:
    story = Story()
    for second in range(0, 100, 20):
        d, e = story.run("login", timedelta(seconds=second), method="sms_otp", result="failure",
                         ip="3.112.5.5", device_id="relay-kit")  # fmt: skip
    assert "LOGIN-LOCK-002" in fired(d) and kind_of(d, e) is NoticeKind.ACCOUNT_LOCKED


def test_challenged_login_then_passkey_step_up_is_told_once() -> None:
    story = Story()
    sent = InMemoryNoticeLog()
    dispatcher = Dispatcher(FIRM, contacts=_NoContacts(), log=sent)
    dispatcher.handle(*login(story, timedelta(0), method="passkey"))
    d, e = login(story, timedelta(days=1), who=ATTACKER)
    assert d["decision"] == "challenge"
    first = dispatcher.handle(d, e)
    assert first is not None and first.kind is NoticeKind.SUSPICIOUS_LOGIN
    d, e = login(story, timedelta(days=1, seconds=30), method="passkey", who=ATTACKER)  # the step-up
    second = dispatcher.handle(d, e)
    assert second is None or second.status == "duplicate"
    assert len(sent.records()) == 1


def _takeover_orders(story: Story) -> list[tuple[dict[str, Any], EventBase]]:
    login(story, timedelta(0), method="passkey")
    story.run("holdings_snapshot", timedelta(minutes=1), **HOME,
              positions=[{"symbol": "7203", "quantity": "1000", "market_value_jpy": "3000000"}])
    login(story, timedelta(days=1), who=ATTACKER)
    sell = story.run("order", timedelta(days=1, minutes=5), order_id="o1", side="sell", symbol="7203", market="TSE",
                     quantity="1000", order_type="market", reference_price="3000", **ATTACKER)
    buy = story.run("order", timedelta(days=1, minutes=10), order_id="o2", side="buy", symbol="3777", market="TSE",
                    quantity="10000", price="290", order_type="limit", **ATTACKER)
    return [sell, buy]


def test_takeover_orders_are_held_and_told() -> None:
    story = Story()
    (sell_d, sell_e), (buy_d, buy_e) = _takeover_orders(story)
    assert sell_d["decision"] == "hold" and "TRADE-SELLOUT-001" in fired(sell_d)
    assert buy_d["decision"] == "hold" and "TRADE-PUMP-001" in fired(buy_d)
    notice = notice_for(buy_d, buy_e, firm=FIRM)
    assert notice is not None and notice.kind is NoticeKind.ORDER_HELD
    assert "3777" in notice.ja.body and "10,000" in notice.ja.body and "買い" in notice.ja.body
    assert kind_of(sell_d, sell_e) is NoticeKind.ORDER_HELD


def test_trading_limit_block_is_not_told() -> None:
    story = Story()
    d, e = story.run("order", timedelta(0), order_id="big", side="buy", symbol="7203", market="TSE",
                     quantity="40000", price="3000", order_type="limit")
    assert d["decision"] == "block" and "TRADE-LIMIT-001" in fired(d)
    assert kind_of(d, e) is None
    d, e = story.run("order", timedelta(minutes=1), order_id="ok", side="buy", symbol="7203", market="TSE",
                     quantity="100", price="3000", order_type="limit")
    assert d["decision"] == "allow" and kind_of(d, e) is None


def test_held_withdrawals_are_told() -> None:
    story = Story()
    login(story, timedelta(0), method="passkey")
    login(story, timedelta(days=1), who=ATTACKER)
    d, e = story.run("settings_change", timedelta(days=1, minutes=2), setting="withdrawal_account", **ATTACKER)
    assert d["decision"] != "allow" and kind_of(d, e) is None  # held settings change: not "changed"
    d, e = story.run("fiat_withdrawal", timedelta(days=1, minutes=10), transfer_id="w1", amount="900000",
                     bank_account_fingerprint="fp-new", **ATTACKER)
    assert d["decision"] == "block"
    notice = notice_for(d, e, firm=FIRM)
    assert notice is not None and notice.kind is NoticeKind.WITHDRAWAL_HELD and "900,000円" in notice.ja.body

    story = Story()
    for n, (account, hours) in enumerate((("v1", 0), ("v2", 2), ("v3", 5))):
        d, e = story.run("crypto_withdrawal", timedelta(hours=hours), account, transfer_id=f"t{n}", asset="USDT",
                         chain="tron", address="TScamCollect0000000000000000000001", amount="500",
                         amount_jpy="75000", ip="153.156.10.20")
    assert d["decision"] == "hold"
    notice = notice_for(d, e, firm=FIRM)
    assert notice is not None and notice.kind is NoticeKind.WITHDRAWAL_HELD and "500 USDT" in notice.en.body


def test_routine_withdrawal_is_not_told() -> None:
    story = Story()
    login(story, timedelta(0), method="passkey")
    d, e = story.run("fiat_withdrawal", timedelta(days=30), transfer_id="w1", amount="100000",
                     bank_account_fingerprint="fp-own", **HOME)
    assert d["decision"] == "allow" and kind_of(d, e) is None


@pytest.mark.parametrize("setting", ["email", "phone", "password", "mfa_device", "withdrawal_account"])
def test_allowed_settings_changes_are_always_told(setting: str) -> None:
    story = Story()
    login(story, timedelta(0), method="passkey")
    d, e = story.run("settings_change", timedelta(days=3), setting=setting, **HOME)
    assert d["decision"] == "allow"
    assert kind_of(d, e) is NoticeKind.SETTINGS_CHANGED


def test_address_change_is_not_told() -> None:
    story = Story()
    d, e = story.run("settings_change", timedelta(0), setting="address", **HOME)
    assert d["decision"] == "allow" and kind_of(d, e) is None


def test_describe_device() -> None:
    assert describe_device(ATTACKER["user_agent"]) == "Chrome (Windows)"
    assert describe_device("Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) Version/17.0 Safari/604.1") \
        == "Safari (iPhone)"
    assert describe_device("evil.example/1.0") is None
    assert describe_device(None) is None


# ---------------------------------------------------------------------------------------------
# Dedupe and the notice log


class _NoContacts:
    def get(self, account_id: str) -> None:
        return None


@dataclass
class _Clock:
    now: datetime = T0

    def __call__(self) -> datetime:
        return self.now


def test_same_notice_is_not_repeated_within_the_window() -> None:
    story = Story()
    login(story, timedelta(0), method="passkey")
    clock = _Clock()
    sent = InMemoryNoticeLog()
    dispatcher = Dispatcher(FIRM, contacts=_NoContacts(), log=sent, clock=clock)
    d, e = login(story, timedelta(days=1), who=ATTACKER)
    assert dispatcher.handle(d, e).status == "no_contact"  # type: ignore[union-attr]
    assert dispatcher.handle(d, e).status == "duplicate"  # type: ignore[union-attr]
    clock.now += timedelta(minutes=5)
    d2, e2 = login(story, timedelta(days=1, minutes=5), who=ATTACKER)
    assert dispatcher.handle(d2, e2).status == "duplicate"  # type: ignore[union-attr]
    clock.now += timedelta(minutes=11)
    assert dispatcher.handle(d2, e2).status == "no_contact"  # type: ignore[union-attr]
    # every settings change is told, even two in a row
    for minutes in (1, 2):
        d, e = story.run("settings_change", timedelta(days=3, minutes=minutes), setting="phone", **HOME)
        assert dispatcher.handle(d, e).status == "no_contact"  # type: ignore[union-attr]
    assert [r.kind for r in sent.records("C-1001")] == ["suspicious_login"] * 2 + ["settings_changed"] * 2


@pytest.fixture
def sql_engine(store_url: str) -> Iterator[Any]:
    engine = create_engine(store_url, poolclass=NullPool)
    try:
        yield engine
    finally:
        engine.dispose()


def test_sql_notice_log(sql_engine: Any) -> None:
    log = SqlNoticeLog(sql_engine)
    SqlNoticeLog(sql_engine)  # idempotent create
    channels = ({"sender": "smtp:127.0.0.1:25", "ok": True, "attempts": 1, "detail": "accepted", "message_id": "<x@y>"},)
    log.record(NoticeRecord("C-1", "account_locked", "lock:password", "MR-20260105-ABCDEF01", "e1", T0, channels, True))
    log.record(NoticeRecord("C-2", "order_held", "order:o1", "MR-20260105-ABCDEF02", "e2", T0, (), False))
    assert log.seen("C-1", "account_locked", "lock:password", T0 - timedelta(minutes=10))
    assert not log.seen("C-1", "account_locked", "lock:password", T0 + timedelta(seconds=1))
    assert not log.seen("C-1", "account_locked", "lock:otp", T0 - timedelta(minutes=10))
    assert not log.seen("C-2", "account_locked", "lock:password", T0 - timedelta(minutes=10))
    [rec] = log.records("C-1")
    assert rec.sent_at == T0 and rec.delivered and rec.channels == channels
    assert [r.account_id for r in log.records()] == ["C-1", "C-2"]
    # the dispatcher on the SQL log survives a restart (a new dispatcher, same table)
    story = Story()
    login(story, timedelta(0), method="passkey")
    d, e = login(story, timedelta(days=1), who=ATTACKER)
    clock = _Clock()
    assert Dispatcher(FIRM, contacts=_NoContacts(), log=log, clock=clock).handle(d, e).status == "no_contact"  # type: ignore[union-attr]
    again = Dispatcher(FIRM, contacts=_NoContacts(), log=SqlNoticeLog(sql_engine), clock=clock).handle(d, e)
    assert again is not None and again.status == "duplicate"


# ---------------------------------------------------------------------------------------------
# Contacts


def test_contact_directory_round_trip_encrypted(tmp_path: Path) -> None:
    db = tmp_path / "contacts.db"
    engine = create_engine(f"sqlite:///{db}", poolclass=NullPool)
    contacts = ContactDirectory(engine, key=KEY)
    contacts.set("C-1001", email="Taro.Yamada@example.jp", language="ja", webhook_ref="push-77")
    contacts.set("C-1002", email=" taro.yamada@EXAMPLE.jp", language="en", webhook_ref=None)
    contacts.set("C-1003", email=None, language="both", webhook_ref="push-99")
    got = contacts.get("C-1001")
    assert got is not None and got.email == "Taro.Yamada@example.jp" and got.language == "ja"
    assert got.webhook_ref == "push-77" and "example" not in repr(got)
    assert contacts.get("C-1003") == contacts.get("C-1003") and contacts.get("C-1003").email is None  # type: ignore[union-attr]
    assert contacts.get("nobody") is None
    assert contacts.accounts_with_email("taro.yamada@example.jp") == ["C-1001", "C-1002"]
    engine.dispose()
    raw = db.read_bytes() + (db.with_name("contacts.db-wal").read_bytes() if db.with_name("contacts.db-wal").exists() else b"")
    assert b"example.jp" not in raw.lower() and b"taro" not in raw.lower()
    assert "example.jp".encode("utf-16-le") not in raw

    engine = create_engine(f"sqlite:///{db}", poolclass=NullPool)
    wrong = ContactDirectory(engine, key=bytes(32))
    with pytest.raises(ContactKeyError, match="contacts key"):
        wrong.get("C-1001")
    assert wrong.get("C-1003") is not None  # no email: nothing to decrypt
    # a ciphertext moved to another account does not decrypt
    with engine.begin() as conn:
        blob = conn.execute(text("SELECT email_enc FROM contacts WHERE account_id='C-1001'")).scalar_one()
        conn.execute(text("UPDATE contacts SET email_enc=:b WHERE account_id='C-1002'"), {"b": blob})
    with pytest.raises(ContactKeyError):
        ContactDirectory(engine, key=KEY).get("C-1002")
    right = ContactDirectory(engine, key=KEY)
    assert right.delete("C-1001") and right.get("C-1001") is None and not right.delete("C-1001")
    with pytest.raises(ValueError, match="not an email"):
        right.set("C-1", email="not an address", language="ja", webhook_ref=None)
    with pytest.raises(ContactKeyError):
        ContactDirectory(engine, key=b"short")
    engine.dispose()


def test_contacts_key_file(tmp_path: Path) -> None:
    path = tmp_path / "contacts.key"
    key = load_or_create_key(path)
    assert len(key) == 32 and stat.S_IMODE(path.stat().st_mode) == 0o600
    assert load_or_create_key(path) == key
    env_key = base64.urlsafe_b64encode(bytes(range(32))).decode()
    assert load_key(path, environ={"MAMORI_CONTACTS_KEY": env_key}) == bytes(range(32))
    with pytest.raises(ContactKeyError, match="MAMORI_CONTACTS_KEY"):
        load_key(path, environ={"MAMORI_CONTACTS_KEY": "c2hvcnQ="})
    os.chmod(path, 0o644)
    with pytest.raises(ContactKeyError, match="chmod 600"):
        load_or_create_key(path)


def test_the_server_reads_the_contacts_key_from_the_environment(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    """MAMORI_CONTACTS_KEY is base64 of 32 bytes: the server decodes it (it once passed the text itself)."""
    from mamori.adapters.sql.store import SqlStore
    from mamori.kit.settings import Settings
    from mamori.notify.service import contacts_for

    monkeypatch.setenv("MAMORI_CONTACTS_KEY", base64.urlsafe_b64encode(bytes(range(32))).decode())
    store = SqlStore(f"sqlite:///{tmp_path / 'm.db'}")
    contacts = contacts_for(Settings(data_dir=tmp_path), store)
    contacts.set("C-1", email="taro@example.jp", language="ja", webhook_ref=None)
    assert ContactDirectory(store.engine, key=bytes(range(32))).get("C-1") is not None
    assert not (tmp_path / "contacts.key").exists()


# ---------------------------------------------------------------------------------------------
# End to end over SMTP on loopback


@pytest.mark.parametrize(("language", "present", "absent"), [
    ("ja", "アカウントを一時的にロックしました", "Your account has been locked"),
    ("en", "Your account has been locked", "アカウントを一時的にロックしました"),
    ("both", "Your account has been locked", None),
])  # fmt: skip
def test_end_to_end_lock_notice_by_email(tmp_path: Path, smtp_server: tuple[Mailbox, int], language: str,
                                         present: str, absent: str | None, caplog: pytest.LogCaptureFixture) -> None:  # fmt: skip
    box, port = smtp_server
    engine = create_engine(f"sqlite:///{tmp_path / 'mamori.db'}", poolclass=NullPool)
    contacts = ContactDirectory(engine, key=KEY)
    contacts.set("C-1001", email="taro@example.jp", language=language, webhook_ref=None)  # type: ignore[arg-type]
    sender = SmtpNoticeSender(HOST, port, from_addr="まもり証券 <no-reply@mamori.example>", starttls=False,
                              local_hostname="localhost", timeout=5)  # fmt: skip
    log = SqlNoticeLog(engine)
    dispatcher = Dispatcher(FIRM, contacts=contacts, log=log, email_senders=[sender])
    story = Story()
    caplog.set_level("DEBUG")
    dispatcher.handle(*login(story, timedelta(0), method="passkey"))
    outcomes = [dispatcher.handle(*login(story, timedelta(minutes=m), result="failure", who=ATTACKER))
                for m in range(1, 8)]  # fmt: skip
    statuses = [None if o is None else o.status for o in outcomes]
    assert statuses == [None, None, None, None, "sent", "lock_continues", "lock_continues"]
    assert len(box.envelopes) == 1
    envelope = box.envelopes[0]
    assert envelope.rcpt_tos == ["taro@example.jp"]
    msg = email.message_from_bytes(envelope.content, policy=policy.default)
    body = msg.get_body(("plain",)).get_content()  # type: ignore[union-attr]
    subject = str(msg["Subject"])
    assert present in body + subject
    if absent is not None:
        assert absent not in body and absent not in subject
    assert find_links(subject + "\n" + body) == []
    assert "3.112.5.5" not in body and "0120-000-000" in body
    [record] = log.records()
    assert record.kind == "account_locked" and record.delivered and record.channels[0]["ok"]
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("mamori")]  # not aiosmtpd's own log
    assert ours and not any("taro@example.jp" in line for line in ours)
    with engine.connect() as conn:
        stored = " ".join(str(v) for row in conn.execute(text("SELECT * FROM notices")) for v in row)
    assert "taro@example.jp" not in stored and "ロック" not in stored
    engine.dispose()
