"""Customer notices: every kind x language renders with no link, attacker-controlled values are
neutralised, the link checker finds every link form (full-width and defanged included) and no
ordinary text, and the senders deliver to real servers on loopback (aiosmtpd, http.server)."""

from __future__ import annotations

import contextlib
import email
import json
import logging
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from email import policy
from email.message import EmailMessage
from email.utils import parseaddr, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.provisional import domains, urls

from mamori.notify import (
    REDACTED,
    Language,
    LinkKind,
    Notice,
    NoticeContext,
    NoticeKind,
    NoticeSender,
    OrderInfo,
    OrderSide,
    Recipient,
    SendResult,
    SettingItem,
    SmtpNoticeSender,
    WebhookNoticeSender,
    WithdrawalInfo,
    build_notice,
    find_links,
    format_time,
    mask_ip,
    render,
    sanitize_value,
    send_all,
    verify_signature,
)
from mamori.notify.sender import DELIVERY_HEADER, SIGNATURE_HEADER, sign_payload
from server import free_port
from smtp import Mailbox

HOST = "127.0.0.1"
SECRET = "whsec_test_0123456789abcdef"
AT = datetime(2026, 1, 5, 1, 0, tzinfo=UTC)  # 10:00 in Japan

BASE = NoticeContext(
    firm_name="まもり証券",
    firm_name_en="Mamori Securities",
    customer_name="山田 太郎",
    occurred_at=AT,
    support_phone="0120-000-000",
    reference="MR-20260105-0001",
    ip_address="153.156.1.2",
    country_code="US",
    device="Chrome (Windows)",
    order=OrderInfo("7203", OrderSide.BUY, 100, "トヨタ自動車"),
    withdrawal=WithdrawalInfo(Decimal("1000000")),
    setting=SettingItem.EMAIL,
)

CONTEXTS = {
    "full": BASE,
    "minimal": NoticeContext(
        firm_name="まもり証券", customer_name="佐藤 花子", occurred_at=AT, support_phone="03-1234-5678",
        reference="R1", order=OrderInfo("BTC/JPY", OrderSide.SELL, Decimal("0.5")),
        withdrawal=WithdrawalInfo(Decimal("0.5"), "BTC"), setting=SettingItem.WITHDRAWAL_ACCOUNT,
    ),
    "ipv6_unknown_country": replace(
        BASE, ip_address="2400:4050:abcd:1234::1", country_code="ZZ", device=None, setting=SettingItem.MFA,
        occurred_at=datetime(2026, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-5))),
    ),
    "mapped_ipv4_no_country": replace(
        BASE, ip_address="::ffff:203.0.113.77", country_code=None, setting=SettingItem.PHONE,
        customer_name="Taro Yamada", firm_name_en=None,
    ),
    "country_only_password": replace(BASE, ip_address=None, country_code="jp", setting=SettingItem.PASSWORD),
    "hostile": replace(
        BASE, customer_name="山田 www.evil.jp 太郎", device="Chrome; see https://evil.example/login or call 03-9999-8888",
        order=OrderInfo("ｅｖｉｌ．ｃｏｍ", OrderSide.BUY, 1, "support@evil.jp"),
    ),
}  # fmt: skip

GUIDANCE = {
    Language.JA: ("このお知らせにはリンク（URL）を記載しておりません", "リンクをお送りすることはございません",
                  "公式アプリ", "ブックマーク"),
    Language.EN: ("We will never send you a link.", "official app", "bookmarked site"),
}  # fmt: skip
ENDS = {Language.JA: "にてご連絡ください。", Language.EN: "We will never send you a link."}


def notice(kind: NoticeKind = NoticeKind.SUSPICIOUS_LOGIN, ctx: NoticeContext = BASE, **recipient: Any) -> Notice:
    return build_notice(kind, ctx, Recipient(**({"customer_id": "C-1001", "email": "taro@example.jp"} | recipient)))


# ---------------------------------------------------------------------------------------------
# Templates


@pytest.mark.parametrize("context", CONTEXTS, ids=str)
@pytest.mark.parametrize("language", list(Language), ids=str)
@pytest.mark.parametrize("kind", list(NoticeKind), ids=str)
def test_every_kind_and_language_renders_with_no_link_and_the_guidance(
    kind: NoticeKind, language: Language, context: str
) -> None:
    ctx = CONTEXTS[context]
    text = render(kind, ctx, language)
    assert text.language is language and text.subject and "\n" not in text.subject
    whole = f"{text.subject}\n{text.body}"
    assert find_links(whole) == [], find_links(whole)
    assert find_links(whole, strict=True) == [], find_links(whole, strict=True)
    for sentence in GUIDANCE[language]:
        assert sentence in text.body
    assert ctx.support_phone in text.body.rsplit("\n\n", 1)[1]
    assert text.body.endswith(ENDS[language])
    assert ctx.reference in text.body
    if ctx.ip_address:
        assert ctx.ip_address not in whole
        if kind not in (NoticeKind.ORDER_HELD, NoticeKind.WITHDRAWAL_HELD, NoticeKind.ACCOUNT_FROZEN):
            assert mask_ip(ctx.ip_address) in text.body
    time_text = format_time(ctx.occurred_at, language)
    assert time_text in text.body


def test_suspicious_login_text_in_both_languages() -> None:
    n = notice()
    assert n.subject == "【まもり証券】普段と異なる環境からのログインのお知らせ / Sign-in from a new device or location"
    assert "山田 太郎 様" in n.ja.body
    assert "　日時：2026年1月5日 10:00（日本時間）" in n.ja.body
    assert "　接続元：アメリカ合衆国（IPアドレス：153.156.x.x）" in n.ja.body
    assert "  Time: 5 Jan 2026 10:00 JST" in n.en.body
    assert "  Location: United States (IP address 153.156.x.x)" in n.en.body
    assert "  Device: Chrome (Windows)" in n.en.body
    text = n.text()
    assert text.index(n.ja.body) < text.index(n.en.body)
    assert "153.156.1.2" not in text


def test_kind_specific_details() -> None:
    order = notice(NoticeKind.ORDER_HELD)
    assert "　銘柄：7203 トヨタ自動車" in order.ja.body and "　売買：買い" in order.ja.body
    assert "　数量：100" in order.ja.body and "  Side: Buy" in order.en.body
    assert "まだ執行されておりません" in order.ja.body and "It has not been executed." in order.en.body
    assert "　金額：1,000,000円" in notice(NoticeKind.WITHDRAWAL_HELD).ja.body
    assert "  Amount: JPY 1,000,000" in notice(NoticeKind.WITHDRAWAL_HELD).en.body
    crypto = notice(NoticeKind.WITHDRAWAL_HELD, CONTEXTS["minimal"])
    assert "0.5 BTC" in crypto.ja.body and "0.5 BTC" in crypto.en.body
    assert "メールアドレスが変更されました" in notice(NoticeKind.SETTINGS_CHANGED).ja.body
    frozen = notice(NoticeKind.ACCOUNT_FROZEN)
    assert "「身に覚えがない」とのご連絡" in frozen.ja.body and "If you did not ask us to freeze" in frozen.en.body
    assert "country/region code ZZ" in notice(ctx=CONTEXTS["ipv6_unknown_country"]).en.body
    assert "2400:4050:x:x:x:x:x:x" in notice(ctx=CONTEXTS["ipv6_unknown_country"]).ja.body
    assert "203.0.x.x" in notice(ctx=CONTEXTS["mapped_ipv4_no_country"]).en.body


def test_time_is_shown_in_japan_time() -> None:
    assert format_time(AT, Language.JA) == "2026年1月5日 10:00"
    assert format_time(AT, Language.EN) == "5 Jan 2026 10:00 JST"
    evening_in_new_york = datetime(2026, 12, 31, 23, 59, tzinfo=timezone(timedelta(hours=-5)))
    assert format_time(evening_in_new_york, Language.JA) == "2027年1月1日 13:59"
    assert format_time(evening_in_new_york, Language.EN) == "1 Jan 2027 13:59 JST"


@pytest.mark.parametrize(
    ("ip", "masked"),
    [
        ("153.156.1.2", "153.156.x.x"),
        (" 8.8.8.8 ", "8.8.x.x"),
        ("2400:4050:abcd:1234::1", "2400:4050:x:x:x:x:x:x"),
        ("2001:0db8:0000::1", "2001:db8:x:x:x:x:x:x"),
        ("::ffff:203.0.113.77", "203.0.x.x"),
    ],
)
def test_mask_ip(ip: str, masked: str) -> None:
    assert mask_ip(ip) == masked
    assert find_links(masked) == []


@pytest.mark.parametrize(
    "changes",
    [
        {"firm_name": "まもり証券 mamori-sec.jp"},
        {"firm_name_en": "Mamori (www.mamori.example)"},
        {"firm_name": ""},
        {"firm_name": "まもり\n証券"},
        {"occurred_at": datetime(2026, 1, 5, 10, 0)},
        {"support_phone": "call us"},
        {"support_phone": "https://evil.jp"},
        {"reference": "MR 1"},
        {"reference": "x" * 41},
        {"ip_address": "153.156.1"},
        {"country_code": "USA"},
        {"order": OrderInfo("7203", OrderSide.BUY, 0)},
        {"withdrawal": WithdrawalInfo(Decimal("NaN"))},
        {"withdrawal": WithdrawalInfo(1, "btc.jp")},
    ],
    ids=repr,
)
def test_invalid_context_is_refused(changes: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        replace(BASE, **changes)


@pytest.mark.parametrize(
    ("kind", "missing"),
    [(NoticeKind.ORDER_HELD, "order"), (NoticeKind.WITHDRAWAL_HELD, "withdrawal"),
     (NoticeKind.SETTINGS_CHANGED, "setting")],
)  # fmt: skip
def test_kind_without_its_details_is_refused(kind: NoticeKind, missing: str) -> None:
    with pytest.raises(ValueError, match=missing):
        notice(kind, replace(BASE, **{missing: None}))


# ---------------------------------------------------------------------------------------------
# Hostile values

HOSTILE = [
    "www.evil.jp",
    "ｗｗｗ．ｅｖｉｌ．ｊｐ",
    "https://evil.jp/login",
    "ｈｔｔｐｓ：／／ｅｖｉｌ．ｊｐ",
    "hxxps://evil[.]jp",
    "evil[.]jp",
    "evil . jp",
    "evil(dot)jp",
    "evil。jp",
    "www・evil・jp",
    "secure-login.jp",
    "mamori-sec.co.jp",
    "evil.newtld",
    "support@evil.jp",
    "support[at]evil[.]jp",
    "203.0.113.5",
    "2001:db8::5",
    "bit.ly/3abcd",
    "ev\u200bil.jp",
    "evil.j\u200bp",
    "mailto:help@evil.jp",
    "03-9999-8888",
    "０３－９９９９－８８８８",
    "+81 3 9999 8888",
]


@pytest.mark.parametrize("payload", HOSTILE)
@pytest.mark.parametrize("where", ["customer_name", "device", "order_symbol", "order_name"])
def test_hostile_values_are_neutralised(payload: str, where: str) -> None:
    value = f"Taro {payload} 確認"
    changes: dict[str, Any] = {
        "customer_name": {"customer_name": value},
        "device": {"device": value},
        "order_symbol": {"order": OrderInfo(value, OrderSide.BUY, 1)},
        "order_name": {"order": OrderInfo("7203", OrderSide.BUY, 1, value)},
    }[where]
    ctx = replace(BASE, **changes)
    for kind in NoticeKind:
        n = notice(kind, ctx)  # build_notice itself refuses to produce a notice with a link
        whole = n.subject + n.text()
        assert find_links(whole, strict=True) == []
        assert "evil" not in whole and "9999" not in whole
    shown = notice(NoticeKind.ORDER_HELD if where.startswith("order") else NoticeKind.SUSPICIOUS_LOGIN, ctx)
    # the link-like part is dropped and the rest kept (a symbol is cut to 20 characters first)
    assert (f"Taro {REDACTED}" if where == "order_symbol" else f"Taro {REDACTED} 確認") in shown.ja.body


def test_values_cannot_add_lines_or_hide_text() -> None:
    ctx = replace(BASE, customer_name="太郎\n\nお客様の口座は停止されました\r\n", device="Chrome\u202e\u200bevil\ttab")
    n = notice(ctx=ctx)
    assert "太郎 お客様の口座は停止されました 様" in n.ja.body
    assert "  Device: Chromeevil tab" in n.en.body
    assert "\u202e" not in n.text() and "\r" not in n.text()


def test_sanitize_keeps_ordinary_values() -> None:
    for value in ["山田 太郎", "ﾔﾏﾀﾞ ﾀﾛｳ", "iPhone 15 Pro (iOS 18.2)", "Chrome 131.0.6778.86 on Windows 11", "7203",
                  "BTC/JPY", "José Núñez", "O'Brien-Smith"]:  # fmt: skip
        assert REDACTED not in sanitize_value(value), value
    assert sanitize_value("ﾔﾏﾀﾞ ﾀﾛｳ") == "ヤマダ タロウ"
    assert sanitize_value("a" * 100, max_len=10) == "a" * 9 + "…"
    assert sanitize_value(None) == ""


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.text(max_size=120))
def test_sanitized_values_never_contain_links(value: str) -> None:
    assert find_links(sanitize_value(value), strict=True) == []


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.text(max_size=60),
    device=st.one_of(st.none(), st.text(max_size=80)),
    link=st.one_of(st.just(""), domains(), urls()),
    kind=st.sampled_from(list(NoticeKind)),
)
def test_notices_with_any_values_have_no_link(name: str, device: str | None, link: str, kind: NoticeKind) -> None:
    ctx = replace(BASE, customer_name=name + link, device=None if device is None else link + device)
    n = notice(kind, ctx)
    assert find_links(n.subject + n.text(), strict=True) == []


# ---------------------------------------------------------------------------------------------
# Link checker

FW = {c: chr(ord(c) + 0xFEE0) for c in map(chr, range(0x21, 0x7F))}


def full_width(s: str) -> str:
    return "".join(FW.get(c, c) for c in s)


LINKS = [
    ("https://example.com/login?a=1", LinkKind.URL, "https://example.com/login?a=1"),
    ("http://example.jp", LinkKind.URL, "http://example.jp"),
    ("HTTPS://EXAMPLE.COM", LinkKind.URL, "HTTPS://EXAMPLE.COM"),
    ("ftp://files.example.org/a.zip", LinkKind.URL, "ftp://files.example.org/a.zip"),
    ("http://203.0.113.5:8080/x", LinkKind.URL, "http://203.0.113.5:8080/x"),
    ("mailto:help@example.jp", LinkKind.URL, "mailto:help@example.jp"),
    ("javascript:void", LinkKind.URL, "javascript:void"),
    ("data:text/html;base64,PHNjcmlwdD4=", LinkKind.URL, "data:text/html;base64,PHNjcmlwdD4="),
    ("www.example.com", LinkKind.WWW, "www.example.com"),
    ("www.example.unknowntld", LinkKind.WWW, "www.example.unknowntld"),
    ("example.co.jp", LinkKind.DOMAIN, "example.co.jp"),
    ("secure-login.jp", LinkKind.DOMAIN, "secure-login.jp"),
    ("mamori-sec.com/login", LinkKind.DOMAIN, "mamori-sec.com/login"),
    ("example.com:8443", LinkKind.DOMAIN, "example.com:8443"),
    ("xn--eckwd4c7c.xn--zckzah", LinkKind.DOMAIN, "xn--eckwd4c7c.xn--zckzah"),
    ("価格.com", LinkKind.DOMAIN, "価格.com"),
    ("例え.みんな", LinkKind.DOMAIN, "例え.みんな"),
    ("support@example.co.jp", LinkKind.EMAIL, "support@example.co.jp"),
    ("taro.yamada+notice@example.jp", LinkKind.EMAIL, "taro.yamada+notice@example.jp"),
    ("153.156.1.2", LinkKind.IP, "153.156.1.2"),
    ("2001:db8::1", LinkKind.IP, "2001:db8::1"),
    ("2400:4050:abcd:1234:0:0:0:1", LinkKind.IP, "2400:4050:abcd:1234:0:0:0:1"),
    ("::ffff:192.0.2.1", LinkKind.IP, "::ffff:192.0.2.1"),
    ("bit.ly/3abcd", LinkKind.SHORTENER, "bit.ly/3abcd"),
    ("https://t.co/abc", LinkKind.SHORTENER, "https://t.co/abc"),
    ("tinyurl.com/y6abc", LinkKind.SHORTENER, "tinyurl.com/y6abc"),
    ("lin.ee/abc", LinkKind.SHORTENER, "lin.ee/abc"),
    # obfuscated
    ("hxxp://evil.jp", LinkKind.URL, "http://evil.jp"),
    ("hxxps://evil.jp/a", LinkKind.URL, "https://evil.jp/a"),
    ("h**ps://evil.jp", LinkKind.URL, "https://evil.jp"),
    ("ttp://evil.jp", LinkKind.URL, "http://evil.jp"),
    ("https[:]//evil[.]jp", LinkKind.URL, "https://evil.jp"),
    ("http: / /evil.jp", LinkKind.URL, "http://evil.jp"),
    ("example[.]com", LinkKind.DOMAIN, "example.com"),
    ("example(.)com", LinkKind.DOMAIN, "example.com"),
    ("example{.}co{.}jp", LinkKind.DOMAIN, "example.co.jp"),
    ("example[dot]com", LinkKind.DOMAIN, "example.com"),
    ("example (dot) com", LinkKind.DOMAIN, "example.com"),
    ("example dot com", LinkKind.DOMAIN, "example.com"),
    ("example . com", LinkKind.DOMAIN, "example.com"),
    ("example .com", LinkKind.DOMAIN, "example.com"),
    ("example【ドット】com", LinkKind.DOMAIN, "example.com"),
    ("example。com", LinkKind.DOMAIN, "example.com"),
    ("ex\u200bample.com", LinkKind.DOMAIN, "example.com"),
    ("example.c\u00adom", LinkKind.DOMAIN, "example.com"),
    ("user[at]example[.]com", LinkKind.EMAIL, "user@example.com"),
    ("user (at) example.com", LinkKind.EMAIL, "user@example.com"),
    ("203[.]0[.]113[.]5", LinkKind.IP, "203.0.113.5"),
    # full-width (NFKC)
    ("ｈｔｔｐｓ：／／ｅｘａｍｐｌｅ．ｃｏｍ", LinkKind.URL, "https://example.com"),
    ("ｅｘａｍｐｌｅ．ｃｏｍ", LinkKind.DOMAIN, "example.com"),
    ("ｗｗｗ．ｅｘａｍｐｌｅ．ｊｐ", LinkKind.WWW, "www.example.jp"),
    ("ｕｓｅｒ＠ｅｘａｍｐｌｅ．ｊｐ", LinkKind.EMAIL, "user@example.jp"),
    ("１５３．１５６．１．２", LinkKind.IP, "153.156.1.2"),
    ("example｡com", LinkKind.DOMAIN, "example.com"),
    ("www・example・jp", LinkKind.WWW, "www.example.jp"),
    ("example･co･jp", LinkKind.DOMAIN, "example.co.jp"),
    ("example·com", LinkKind.DOMAIN, "example.com"),
]


@pytest.mark.parametrize(("link", "kind", "normalized"), LINKS, ids=[x[0] for x in LINKS])
@pytest.mark.parametrize("around", ["{}", "詳しくは{}をご覧ください。", "Go to {} now.", "（{}）"])
def test_finds_each_link_form_with_its_position(link: str, kind: LinkKind, normalized: str, around: str) -> None:
    text = around.format(link)
    findings = find_links(text)
    assert len(findings) == 1, findings
    f = findings[0]
    start = around.index("{}")
    if not link[0].isascii() and start and not around[start - 1].isascii():
        # where a Japanese label begins inside Japanese text cannot be known: the span may start early
        assert f.start <= start and f.end == start + len(link) and f.normalized.endswith(normalized)
        return
    assert (f.kind, f.normalized, f.text) == (kind, normalized, link)
    assert text[f.start : f.end] == link
    assert f.start == start
    assert f.obfuscated == (link != normalized)


ORDINARY = [
    "お客様のアカウントにログインがありました。ご確認ください。",
    "いつもまもり証券をご利用いただき、誠にありがとうございます。",
    "2026年1月5日 10:00（日本時間）にログインがありました。",
    "受付時刻 10:00、締切 15:30:00",
    "出金額：1,000,000円（手数料 330円）",
    "数量 0.5 BTC、価格 15,234,567.89円",
    "銘柄コード 7203 トヨタ自動車 100株 買い",
    "IPアドレス：153.156.x.x、2400:4050:x:x:x:x:x:x",
    "お電話（0120-000-000）にてご連絡ください。",
    "Thank you. You can sign in with the app. Next, check your orders.",
    "e.g. at 10 a.m. or 3 p.m. on 5 Jan. 2026",
    "Version 2.0 is out; iOS 18.2 and Chrome 131.0.6778.86 work.",
    "Ref. MR-20260105-0001 / No. 12",
    "Mr.Smith and J.Smith use Node.js",  # not a known top-level domain: strict mode only
    "ファイル名は report.pdf です。",
    "時刻 10:00:00、比率 3:2、1:1:1",
    "カタカナ・ひらがな・漢字。全角ＡＢＣ１２３、半角ｱｲｳ",
    "The amount is $1,000.50 (50.5%).",
    "",
]


@pytest.mark.parametrize("text", ORDINARY)
def test_ordinary_text_is_not_flagged(text: str) -> None:
    assert find_links(text) == []


def test_strict_mode_also_flags_unknown_top_level_domains() -> None:
    assert [f.text for f in find_links("login.evilnewtld and J.Smith", strict=True)] == ["login.evilnewtld", "J.Smith"]
    assert find_links("login.evilnewtld") == []
    assert [f.text for f in find_links("javascript:alert(1)")] == ["javascript:alert"]


@settings(max_examples=300, deadline=None)
@given(domains())
def test_every_generated_domain_is_found(domain: str) -> None:
    for text in (domain, full_width(domain), f"詳細は{domain}へ", f"see {domain}."):
        findings = find_links(text)
        assert len(findings) == 1, (text, findings)
        assert findings[0].normalized.lower().rstrip(".") == domain.lower()


@settings(max_examples=300, deadline=None)
@given(urls())
def test_every_generated_url_is_found(url: str) -> None:
    findings = find_links(f"こちら {url} から")
    assert findings and findings[0].start == 4 and findings[0].kind in (LinkKind.URL, LinkKind.SHORTENER)


# ---------------------------------------------------------------------------------------------
# SMTP: a real server on loopback


def smtp_sender(port: int, **kwargs: Any) -> SmtpNoticeSender:
    return SmtpNoticeSender(
        HOST, port, from_addr="まもり証券 <no-reply@mamori.example>", starttls=False, local_hostname="localhost",
        timeout=5, **kwargs,
    )  # fmt: skip


def test_smtp_delivers_one_bilingual_plain_text_message(smtp_server: tuple[Mailbox, int]) -> None:
    box, port = smtp_server
    n = notice(NoticeKind.WITHDRAWAL_HELD)
    result = smtp_sender(port).send(n)
    assert result.ok and result.attempts == 1 and result.detail == "accepted", result
    assert len(box.envelopes) == 1
    envelope = box.envelopes[0]
    assert envelope.mail_from == "no-reply@mamori.example"
    assert envelope.rcpt_tos == ["taro@example.jp"]
    raw: bytes = envelope.original_content or envelope.content
    raw.decode("ascii")  # 7-bit clean: headers as RFC 2047 encoded-words, body in base64
    assert all(len(line) <= 78 for line in raw.split(b"\r\n"))
    head = raw.split(b"\r\n\r\n", 1)[0].decode("ascii")
    assert "=?utf-8?" in head.lower()  # RFC 2047 subject and display name
    assert b"text/html" not in raw.lower() and b"multipart" not in raw.lower()

    msg = email.message_from_bytes(raw, policy=policy.default)
    assert isinstance(msg, EmailMessage)
    assert msg["Subject"] == n.subject == "【まもり証券】出金を保留しました / We have held your withdrawal"
    assert parseaddr(str(msg["From"])) == ("まもり証券", "no-reply@mamori.example")
    assert msg["To"] == "taro@example.jp"
    assert msg["Auto-Submitted"] == "auto-generated"
    assert msg["Content-Language"] == "ja, en"
    assert str(msg["Message-ID"]).strip() == result.message_id
    assert re.fullmatch(r"<[0-9a-f]{32}@mamori\.example>", str(result.message_id))
    assert msg["X-Mamori-Notice"] == "withdrawal_held; reference=MR-20260105-0001"
    date = parsedate_to_datetime(str(msg["Date"]))
    assert date.utcoffset() == timedelta(hours=9) and abs((date - datetime.now(UTC)).total_seconds()) < 60
    assert msg.get_content_type() == "text/plain" and not msg.is_multipart()
    assert msg.get_content_charset() == "utf-8" and msg["Content-Transfer-Encoding"] == "base64"
    assert "List-Unsubscribe" not in msg and "Reply-To" not in msg

    body = msg.get_content()
    assert isinstance(body, str)
    assert body.replace("\r\n", "\n").strip() == n.text().strip()
    assert body.index("山田 太郎 様") < body.index("Dear 山田 太郎,")
    assert "保留中の出金" in body and "Held withdrawal" in body and "1,000,000円" in body
    assert "We will never send you a link." in body and "リンク（URL）を記載しておりません" in body
    assert find_links(body) == [] and find_links(str(msg["Subject"])) == []


def test_smtp_refused_recipient_is_a_failed_result(smtp_server: tuple[Mailbox, int]) -> None:
    box, port = smtp_server
    box.refuse = True
    result = smtp_sender(port).send(notice())
    assert not result.ok and "550" in result.detail and box.envelopes == []


def test_smtp_server_down_is_a_failed_result() -> None:
    result = smtp_sender(free_port()).send(notice())
    assert not result.ok and result.attempts == 1
    assert "Connection" in result.detail or "Errno" in result.detail


def test_smtp_needs_an_address_and_tls_for_credentials() -> None:
    result = smtp_sender(free_port()).send(notice(email=None))
    assert not result.ok and result.attempts == 0 and "no valid email address" in result.detail
    with pytest.raises(ValueError, match="starttls"):
        SmtpNoticeSender(HOST, 25, from_addr="a@b.example", starttls=False, username="u", password="p")
    with pytest.raises(ValueError):
        SmtpNoticeSender(HOST, 25, from_addr="not an address", starttls=False)
    assert "p4ss" not in repr(
        SmtpNoticeSender(HOST, 25, from_addr="a@b.example", starttls=True, username="u", password="p4ss")
    )


# ---------------------------------------------------------------------------------------------
# Webhook: a real HTTP server on loopback


@dataclass
class Hook:
    """Answers each POST with the next scripted status (the last one repeats) and records it."""

    statuses: list[int] = field(default_factory=lambda: [200])
    delay_s: float = 0.0
    retry_after: str | None = None
    requests: list[tuple[dict[str, str], bytes, float]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)


@contextlib.contextmanager
def webhook_server(hook: Hook) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            with hook.lock:
                hook.requests.append((dict(self.headers.items()), body, time.time()))
                status = hook.statuses[min(len(hook.requests), len(hook.statuses)) - 1]
            if hook.delay_s:
                time.sleep(hook.delay_s)
            self.send_response(status)
            if hook.retry_after is not None:
                self.send_header("Retry-After", hook.retry_after)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((HOST, 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://{HOST}:{server.server_address[1]}/hooks/notice?token=abc"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def webhook(url: str, delays: list[float] | None = None, **kwargs: Any) -> WebhookNoticeSender:
    sleep = delays.append if delays is not None else (lambda s: None)
    options: dict[str, Any] = {"timeout": 2.0, "backoff_initial_s": 0.2, "backoff_max_s": 1.0} | kwargs
    return WebhookNoticeSender(url, secret=SECRET, trust_env=False, sleep=sleep, **options)


def test_webhook_retries_on_500_then_succeeds_with_valid_signatures(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    hook = Hook(statuses=[500, 503, 204])
    delays: list[float] = []
    n = notice(NoticeKind.ORDER_HELD, webhook_ref="push-77")
    with webhook_server(hook) as url:
        sender = webhook(url, delays)
        result = sender.send(n)
    assert result.ok and result.attempts == 3 and result.detail == "HTTP 204", result
    assert len(hook.requests) == 3
    assert 0.1 <= delays[0] <= 0.2 and 0.2 <= delays[1] <= 0.4  # exponential backoff with jitter
    delivery_ids = {headers[DELIVERY_HEADER] for headers, _, _ in hook.requests}
    assert delivery_ids == {result.message_id}
    for headers, body, received in hook.requests:
        assert headers["Content-Type"] == "application/json; charset=utf-8"
        signature = headers[SIGNATURE_HEADER]
        assert signature.startswith("t=") and ",v1=" in signature
        assert verify_signature(SECRET, signature, body, now=received)
        assert not verify_signature(SECRET, signature, body + b" ", now=received)
        assert not verify_signature("another-secret-0123456789", signature, body, now=received)
        assert not verify_signature(SECRET, signature, body, now=received + 301)
    document = json.loads(hook.requests[-1][1])
    assert document["kind"] == "order_held" and document["reference"] == n.reference
    assert document["customer_id"] == "C-1001" and document["occurred_at"] == "2026-01-05T01:00:00Z"
    assert document["webhook_ref"] == "push-77"  # the firm's own channel reference for the customer
    assert document["ja"] == {"subject": n.ja.subject, "body": n.ja.body}
    assert document["en"] == {"subject": n.en.subject, "body": n.en.body}
    assert find_links(document["ja"]["body"] + document["en"]["body"]) == []
    # the secret is never logged, shown or returned; the URL is named without its query string
    assert SECRET not in caplog.text and SECRET not in repr(sender) and SECRET not in repr(result)
    ours = [r.getMessage() for r in caplog.records if r.name.startswith("mamori")]
    assert len(ours) == 2 and all("HTTP 50" in m for m in ours)
    assert "token=abc" not in sender.name and not any("token=abc" in m for m in ours)
    assert sender.name.endswith("/hooks/notice")


def test_signature_is_stripe_style_hmac_sha256() -> None:
    import hashlib
    import hmac

    body = '{"a":"出金"}'.encode()
    expected = hmac.new(SECRET.encode(), b"1767574800." + body, hashlib.sha256).hexdigest()
    assert sign_payload(SECRET.encode(), 1767574800, body) == f"t=1767574800,v1={expected}"
    assert verify_signature(SECRET, f"t=1767574800,v1=00,v1={expected}", body, now=1767574800)
    for bad in ["", "t=1767574800", f"v1={expected}", f"t=abc,v1={expected}"]:
        assert not verify_signature(SECRET, bad, body, now=1767574800)


def test_webhook_gives_up_after_max_attempts() -> None:
    hook = Hook(statuses=[500])
    delays: list[float] = []
    with webhook_server(hook) as url:
        result = webhook(url, delays, max_attempts=3).send(notice())
    assert not result.ok and result.attempts == 3 and result.detail == "HTTP 500"
    assert len(hook.requests) == 3 and len(delays) == 2


def test_webhook_client_errors_are_not_retried() -> None:
    hook = Hook(statuses=[400])
    with webhook_server(hook) as url:
        result = webhook(url).send(notice())
    assert not result.ok and result.attempts == 1 and result.detail == "HTTP 400"


def test_webhook_honours_retry_after_up_to_the_cap() -> None:
    hook = Hook(statuses=[429, 200], retry_after="30")
    delays: list[float] = []
    with webhook_server(hook) as url:
        result = webhook(url, delays).send(notice())
    assert result.ok and result.attempts == 2 and delays == [1.0]


def test_webhook_times_out_and_reports_it() -> None:
    hook = Hook(statuses=[200], delay_s=1.0)
    with webhook_server(hook) as url:
        started = time.monotonic()
        result = webhook(url, timeout=0.2, max_attempts=2).send(notice())
        elapsed = time.monotonic() - started
    assert not result.ok and result.attempts == 2 and "Timeout" in result.detail
    assert elapsed < 2.0


def test_webhook_server_down_is_a_failed_result() -> None:
    delays: list[float] = []
    result = webhook(f"http://{HOST}:{free_port()}/hook", delays, max_attempts=2).send(notice())
    assert not result.ok and result.attempts == 2 and "ConnectError" in result.detail and len(delays) == 1


@pytest.mark.parametrize(
    ("url", "secret"),
    [
        ("http://hooks.example.com/notice", SECRET),  # plain http beyond loopback
        ("https://user:pw@hooks.example.com/notice", SECRET),
        ("ftp://hooks.example.com/notice", SECRET),
        ("https://hooks.example.com/notice", "short"),
    ],
)
def test_webhook_configuration_is_checked(url: str, secret: str) -> None:
    with pytest.raises(ValueError):
        WebhookNoticeSender(url, secret=secret)


# ---------------------------------------------------------------------------------------------
# send_all


class Exploding:
    name = "exploding"

    def send(self, notice: Notice) -> SendResult:
        raise RuntimeError("bug")


def test_send_all_returns_one_result_per_sender_and_never_raises(smtp_server: tuple[Mailbox, int]) -> None:
    box, port = smtp_server
    hook = Hook(statuses=[200])
    with webhook_server(hook) as url:
        senders: list[NoticeSender] = [
            smtp_sender(port),
            webhook(url),
            webhook(f"http://{HOST}:{free_port()}/down", max_attempts=1),
            Exploding(),
        ]
        assert all(isinstance(s, NoticeSender) for s in senders)
        results = send_all(notice(NoticeKind.ACCOUNT_LOCKED), senders)
    assert [r.ok for r in results] == [True, True, False, False]
    assert [r.sender for r in results][-1] == "exploding" and "RuntimeError: bug" in results[-1].detail
    assert len(box.envelopes) == 1 and len(hook.requests) == 1
