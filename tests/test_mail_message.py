"""Scanning whole messages: MIME (RFC 2045-2049) incl. Japanese charsets and malformed input,
attachments, S/MIME (RFC 8551) and PGP/MIME (RFC 3156), the password half of PPAP, the PPAP
tracker, reading .eml/mbox, and ``mamori mail scan``."""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import mailbox
import shutil
import subprocess
import time
from collections.abc import Callable
from email.message import EmailMessage, Message, MIMEPart
from email.parser import BytesParser
from pathlib import Path

import pytest
import zxingcpp
from click.testing import CliRunner
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import pkcs7
from cryptography.x509.oid import NameOID
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from mamori.cli.main import main
from mamori.mail import message as mail_message
from mamori.mail.links import _linkcheck_lines, find_links_in_image
from mamori.mail.message import (
    MAX_PARTS,
    PpapTracker,
    cms_content_type,
    decode_text,
    find_password,
    iter_messages,
    scan_message,
)
from mamori.mail.model import AttachmentFinding, MessageReport
from mamori.notify.linkcheck import find_links as linkcheck_find_links

JST = dt.timezone(dt.timedelta(hours=9))
T0 = dt.datetime(2025, 11, 22, 10, 0, tzinfo=JST)
SENDER = "yamada@example-sec.co.jp"
CLIENT = "client@example.com"


def message(subject: str = "ご連絡", body: str = "いつもお世話になっております。", *, html: str | None = None,
            charset: str = "utf-8", sender: str = f"山田 太郎 <{SENDER}>", to: str = CLIENT, cc: str | None = None,
            date: dt.datetime = T0, message_id: str = "<m1@example-sec.co.jp>") -> EmailMessage:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = subject
    msg["Date"] = date
    msg["Message-ID"] = message_id
    msg.set_content(body, charset=charset)
    if html is not None:
        msg.add_alternative(html, subtype="html")
    return msg


@pytest.fixture(scope="module")
def encrypted_zip(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """A ZipCrypto archive made by Debian's zip with -P, as PPAP senders make them."""
    if shutil.which("zip") is None:
        pytest.fail("the zip command is missing: run scripts/system-deps (Debian package zip)", pytrace=False)
    work = tmp_path_factory.mktemp("zip")
    (work / "見積書.txt").write_text("お見積り金額：1,000,000円\n", encoding="utf-8")
    subprocess.run(["zip", "-q", "-P", "Ab3$xY9q", "quote.zip", "見積書.txt"], cwd=work, check=True)
    return (work / "quote.zip").read_bytes()


@pytest.fixture(scope="module")
def certificate() -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "yamada@example-sec.co.jp")])
    now = dt.datetime.now(dt.UTC)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(1).not_valid_before(now).not_valid_after(now + dt.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    return cert, key


INNER = b"Content-Type: text/plain; charset=utf-8\r\n\r\nsecret https://inner.example/login\r\n"
HEADERS = b"From: yamada@example-sec.co.jp\r\nTo: client@example.com\r\nSubject: s\r\n"


def pkcs7_part(der: bytes, smime_type: str | None) -> bytes:
    param = f"; smime-type={smime_type}" if smime_type else ""
    body = base64.encodebytes(der)
    return (f'Content-Type: application/pkcs7-mime{param}; name="smime.p7m"\r\nContent-Transfer-Encoding: base64\r\n'
            f'Content-Disposition: attachment; filename="smime.p7m"\r\n\r\n').encode() + body


# --- headers and charsets -------------------------------------------------------------------------


def test_headers_of_a_japanese_utf8_message() -> None:
    msg = message("【重要】お取引のご案内", cc="部長 <boss@example-sec.co.jp>, client@example.com")
    report = scan_message(msg.as_bytes())
    assert report.subject == "【重要】お取引のご案内"
    assert report.sender == SENDER
    assert report.recipients == (CLIENT, "boss@example-sec.co.jp")
    assert report.date == "2025-11-22T10:00:00+09:00"
    assert report.message_id == "<m1@example-sec.co.jp>"
    assert report.problems == () and report.links == () and not report.password_in_body
    assert report.to_dict()["has_encrypted_attachment"] is False


def test_iso_2022_jp_subject_and_body() -> None:
    msg = message("パスワードのご連絡", "先ほどのファイルのパスワード：Ab3$xY9q\n詳細はexample-sec.co.jp/loginへ",
                  charset="iso-2022-jp")
    raw = msg.as_bytes()
    assert b"\x1b$B" in raw or b"ISO-2022-JP" in raw.upper()
    report = scan_message(raw)
    assert report.subject == "パスワードのご連絡"
    assert report.password_in_body
    assert [(f.kind, f.text) for f in report.links] == [("bare_domain", "example-sec.co.jp/login")]
    assert report.problems == ()


def test_shift_jis_label_is_read_as_cp932_with_nec_and_ibm_characters() -> None:
    body = "①パスワード：Ab3$xY9q ㈱サンプル証券 https://example.com/".encode("cp932")
    raw = HEADERS + b"Content-Type: text/plain; charset=Shift_JIS\r\nContent-Transfer-Encoding: 8bit\r\n\r\n" + body
    report = scan_message(raw)
    assert report.password_in_body and report.problems == ()
    assert [f.text for f in report.links] == ["https://example.com/"]


def test_wrong_and_unknown_charsets_are_problems_not_failures() -> None:
    text, problem = decode_text("ログインはこちら".encode("euc_jp"), "utf-8")
    assert text == "ログインはこちら" and problem == "text is not valid utf-8; read as euc_jp"
    text, problem = decode_text("お知らせ".encode("cp932"), "x-unknown-charset")
    assert text == "お知らせ" and problem is not None and "unknown charset" in problem
    assert decode_text(b"\xff\xfe\xfa", None)[1] is not None
    raw = HEADERS.replace(b"Subject: s", b"Subject: \x83p\x83X\x83\x8f\x81[\x83h") + \
        b"Content-Type: text/plain; charset=bogus\r\n\r\n" + "https://例え.jp/ テスト".encode("euc_jp")
    report = scan_message(raw)
    assert report.subject == "パスワード"  # raw Shift_JIS bytes in a header
    assert [f.text for f in report.links] == ["https://例え.jp/"]
    assert any("unknown charset 'bogus'" in p for p in report.problems)


# --- bodies and attachments -----------------------------------------------------------------------


def test_html_and_text_alternatives_are_both_checked() -> None:
    msg = message(body="ログインは公式アプリから。", html='<p>ログインは<a href="https://example.com/login">こちら</a></p>')
    report = scan_message(msg.as_bytes())
    assert [(f.kind, f.text, f.part) for f in report.links] == [("html_href", "https://example.com/login", "text/html")]


def test_password_in_an_html_only_body() -> None:
    msg = EmailMessage()
    msg["From"], msg["To"], msg["Subject"] = SENDER, CLIENT, "資料"
    msg.set_content("<html><body><p>添付ファイルの解凍パスワード：<b>Kx83mQ2p</b></p></body></html>", subtype="html")
    assert scan_message(msg.as_bytes()).password_in_body


def test_password_protected_zip_is_an_encrypted_attachment(encrypted_zip: bytes) -> None:
    msg = message("見積書送付の件", "見積書を添付いたします。パスワードは別送いたします。")
    msg.add_attachment(encrypted_zip, maintype="application", subtype="zip", filename="見積書.zip")
    report = scan_message(msg.as_bytes())
    assert report.has_encrypted_attachment and not report.password_in_body
    first = report.attachments[0]
    assert (first.path, first.format, first.verdict) == ("見積書.zip", "zip", "encrypted")
    assert any(a.path == "見積書.zip/見積書.txt" for a in report.attachments)
    assert report.links == ()  # 見積書.zip is the attachment, not a domain


def test_zip_and_password_in_the_same_mail(encrypted_zip: bytes) -> None:
    msg = message(body="添付ファイルのパスワードは「Ab3$xY9q」です。")
    msg.add_attachment(encrypted_zip, maintype="application", subtype="zip", filename="a.zip")
    report = scan_message(msg.as_bytes())
    assert report.has_encrypted_attachment and report.password_in_body


def test_attached_message_is_scanned_inside(encrypted_zip: bytes) -> None:
    inner = message("元のメール", "ログインは https://evil.example/login から", sender="c@partner.example")
    inner.add_attachment(encrypted_zip, maintype="application", subtype="zip", filename="内側.zip")
    outer = message("Fwd: 元のメール", "転送します。")
    outer.add_attachment(inner, filename="転送.eml")
    report = scan_message(outer.as_bytes())
    assert [(a.path, a.verdict) for a in report.attachments][:1] == [("転送.eml/内側.zip", "encrypted")]
    assert [(f.text, f.part) for f in report.links] == [
        ("https://evil.example/login", "message/rfc822: 転送.eml > text/plain")]


def test_qr_code_in_an_inline_image() -> None:
    bitmap = zxingcpp.create_barcode("https://qr.example/login", zxingcpp.BarcodeFormat.QRCode).to_image(scale=4)
    height, width = bitmap.shape
    out = io.BytesIO()
    Image.frombytes("L", (width, height), bytes(memoryview(bitmap))).save(out, "PNG")
    msg = message(html='<p>キャンペーン</p><img src="cid:qr1">')
    msg.get_payload()[1].add_related(out.getvalue(), maintype="image", subtype="png", cid="<qr1>",
                                     filename="qr.png")
    report = scan_message(msg.as_bytes())
    assert ("qr_code", "https://qr.example/login", "image/png: qr.png") in [(f.kind, f.text, f.part)
                                                                            for f in report.links]


def test_svg_image_links_and_unreadable_images() -> None:
    msg = message(body="ロゴを添付します。")
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink">' \
          b'<a xlink:href="https://svg.example/login"><text>x</text></a></svg>'
    msg.add_attachment(svg, maintype="image", subtype="svg+xml", filename="logo.svg")
    msg.add_attachment(b"\x89PNG\r\n\x1a\ntruncated", maintype="image", subtype="png", filename="broken.png")
    found = {(f.kind, f.text, f.part) for f in scan_message(msg.as_bytes()).links}
    assert ("html_href", "https://svg.example/login", "image/svg+xml: logo.svg") in found
    assert any(kind == "image_unscannable" and part == "image/png: broken.png" for kind, _, part in found)


# --- encrypted and signed messages ---------------------------------------------------------------


def test_smime_enveloped_message_is_encrypted(certificate: tuple[x509.Certificate, rsa.RSAPrivateKey]) -> None:
    cert, _ = certificate
    smime = pkcs7.PKCS7EnvelopeBuilder().set_data(INNER).add_recipient(cert).encrypt(serialization.Encoding.SMIME, [])
    report = scan_message(HEADERS + smime)
    assert report.encrypted_message == "smime"
    assert report.links == () and report.attachments == ()
    assert any("encrypted (smime)" in p for p in report.problems)


def test_smime_enveloped_recognised_from_the_der_oid(certificate: tuple[x509.Certificate, rsa.RSAPrivateKey]) -> None:
    cert, _ = certificate
    der = pkcs7.PKCS7EnvelopeBuilder().set_data(INNER).add_recipient(cert).encrypt(serialization.Encoding.DER, [])
    assert cms_content_type(der) == "enveloped"
    unlabelled = pkcs7_part(der, None).replace(b"application/pkcs7-mime", b"application/octet-stream")
    assert scan_message(HEADERS + unlabelled).encrypted_message == "smime"
    # attached to an ordinary mail instead of being the mail: an encrypted attachment
    outer = message(body="暗号化したファイルを送ります。")
    outer.add_attachment(der, maintype="application", subtype="pkcs7-mime", filename="smime.p7m",
                         params={"smime-type": "enveloped-data"})
    report = scan_message(outer.as_bytes())
    assert report.encrypted_message is None
    assert [(a.path, a.format, a.verdict) for a in report.attachments] == [("smime.p7m", "smime", "encrypted")]


def test_smime_signed_messages_are_not_encrypted_and_are_scanned(
        certificate: tuple[x509.Certificate, rsa.RSAPrivateKey]) -> None:
    cert, key = certificate
    builder = pkcs7.PKCS7SignatureBuilder().set_data(INNER).add_signer(cert, key, hashes.SHA256())
    detached = builder.sign(serialization.Encoding.SMIME, [pkcs7.PKCS7Options.DetachedSignature])
    opaque = builder.sign(serialization.Encoding.DER, [])
    assert cms_content_type(opaque) == "signed"
    for raw in (HEADERS + detached, HEADERS + pkcs7_part(opaque, "signed-data")):
        report = scan_message(raw)
        assert report.encrypted_message is None and report.attachments == () and report.problems == ()
        assert [f.text for f in report.links] == ["https://inner.example/login"]


def test_opaque_signed_data_with_indefinite_ber_lengths() -> None:
    """openssl cms -sign -stream writes BER with indefinite lengths and a chunked OCTET STRING."""
    chunks = b"".join(b"\x04" + bytes([len(INNER[i:i + 16])]) + INNER[i:i + 16] for i in range(0, len(INNER), 16))
    encap = (b"\x30\x80\x06\x09" + bytes.fromhex("2a864886f70d010701") + b"\xa0\x80\x24\x80" + chunks
             + b"\x00\x00\x00\x00\x00\x00")
    signed = b"\x30\x80\x02\x01\x01\x31\x00" + encap + b"\x31\x00\x00\x00"
    ber = b"\x30\x80\x06\x09" + bytes.fromhex("2a864886f70d010702") + b"\xa0\x80" + signed + b"\x00\x00\x00\x00"
    report = scan_message(HEADERS + pkcs7_part(ber, "signed-data"))
    assert [f.text for f in report.links] == ["https://inner.example/login"]
    broken = scan_message(HEADERS + pkcs7_part(ber[:40], "signed-data"))
    assert broken.attachments[0].verdict == "unscannable" and broken.problems


def test_signed_then_encrypted_is_encrypted(certificate: tuple[x509.Certificate, rsa.RSAPrivateKey]) -> None:
    cert, _ = certificate
    der = pkcs7.PKCS7EnvelopeBuilder().set_data(INNER).add_recipient(cert).encrypt(serialization.Encoding.DER, [])
    raw = (HEADERS + b'Content-Type: multipart/signed; protocol="application/pkcs7-signature"; boundary="s"\r\n\r\n'
           b"--s\r\n" + pkcs7_part(der, "enveloped-data") + b"\r\n--s\r\nContent-Type: application/pkcs7-signature\r\n"
           b"Content-Transfer-Encoding: base64\r\n\r\nMAA=\r\n--s--\r\n")
    assert scan_message(raw).encrypted_message == "smime"


def test_pgp_mime_and_inline_pgp() -> None:
    msg = message()
    msg.clear_content()
    msg.set_type("multipart/encrypted")
    msg.set_param("protocol", "application/pgp-encrypted")
    version, data = MIMEPart(), MIMEPart()
    version.set_content(b"Version: 1\n", maintype="application", subtype="pgp-encrypted", cte="7bit")
    data.set_content(b"-----BEGIN PGP MESSAGE-----\n\nhQEMA5\n-----END PGP MESSAGE-----\n", maintype="application",
                     subtype="octet-stream", cte="7bit", filename="encrypted.asc")
    msg.attach(version)
    msg.attach(data)
    report = scan_message(msg.as_bytes())
    assert report.encrypted_message == "pgp" and report.attachments == ()
    inline = message(body="-----BEGIN PGP MESSAGE-----\n\nhQEMA5\n-----END PGP MESSAGE-----\n")
    assert scan_message(inline.as_bytes()).encrypted_message == "pgp"
    assert scan_message(message(body="PGP is a program.").as_bytes()).encrypted_message is None


# --- malformed input: problems, never exceptions ------------------------------------------------


def test_truncated_message(encrypted_zip: bytes) -> None:
    msg = message(body="https://example.com/")
    msg.add_attachment(encrypted_zip, maintype="application", subtype="zip", filename="a.zip")
    raw = msg.as_bytes()
    for cut in (len(raw) // 2, len(raw) - 40, 10, 0):
        report = scan_message(raw[:cut])
        assert isinstance(report, MessageReport)


def test_bad_boundaries_are_read_as_text() -> None:
    missing_param = HEADERS + b"Content-Type: multipart/mixed\r\n\r\n--zz\r\n\r\nsee https://a.example/\r\n--zz--\r\n"
    never_seen = HEADERS + b'Content-Type: multipart/mixed; boundary="b"\r\n\r\nno parts https://b.example/'
    for raw, url in ((missing_param, "https://a.example/"), (never_seen, "https://b.example/")):
        report = scan_message(raw)
        assert url in [f.text for f in report.links]
        assert any("boundary missing" in p for p in report.problems)


def test_bad_base64_is_named(encrypted_zip: bytes) -> None:
    body = base64.encodebytes(encrypted_zip).decode()
    body = body[:20] + "!!!@@@" + body[20:60]  # bad characters, and cut short
    raw = HEADERS + (
        'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: application/zip\r\n'
        'Content-Transfer-Encoding: base64\r\nContent-Disposition: attachment; filename="a.zip"\r\n\r\n'
        f"{body}\r\n--b--\r\n").encode()
    report = scan_message(raw)
    assert any("Base64" in p for p in report.problems)
    assert report.attachments and report.attachments[0].path == "a.zip"


def test_huge_headers_are_cut_quickly() -> None:
    to = b", ".join(b"u%d@example.com" % i for i in range(50_000))
    params = b"; ".join(b'a%d="x"' % i for i in range(20_000))
    raw = (b"From: a@example-sec.co.jp\r\nTo: " + to + b"\r\nSubject: " + b"A" * 500_000
           + b'\r\nContent-Type: multipart/mixed; boundary="b"; ' + params
           + b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\nhi https://x.example/\r\n--b--\r\n")
    started = time.monotonic()
    report = scan_message(raw)
    assert time.monotonic() - started < 5
    assert len(report.recipients) == 50_000 and report.subject is not None and len(report.subject) <= 998
    assert [f.text for f in report.links] == ["https://x.example/"]
    assert any("Content-Type" in p and "characters" in p for p in report.problems)


def test_ten_thousand_parts_finish_quickly_and_the_rest_is_unscannable() -> None:
    parts = b"".join(b'--b\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n'
                     b'Content-Disposition: attachment; filename="f%d.bin"\r\n\r\n%s\r\n'
                     % (i, base64.b64encode(b"hello %d" % i)) for i in range(10_000))
    raw = HEADERS + b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n' \
        + "大量の添付".encode() + b"\r\n" + parts + b"--b--\r\n"
    started = time.monotonic()
    report = scan_message(raw)
    assert time.monotonic() - started < 10
    assert len(report.attachments) <= MAX_PARTS + 1
    assert report.attachments[-1].verdict == "unscannable" and report.has_encrypted_attachment
    assert any(f"more than about {MAX_PARTS:,} MIME parts" in p for p in report.problems)


def test_absurd_nesting_and_garbage() -> None:
    body = b"hi"
    for i in range(3000):
        body = b'Content-Type: multipart/mixed; boundary="b%d"\r\n\r\n--b%d\r\n' % (i, i) + body + b"\r\n--b%d--\r\n" % i
    report = scan_message(b"From: a@example.jp\r\n" + body)
    assert report.attachments[0].verdict == "unscannable" and report.problems
    for raw in (bytes(range(256)) * 50, b"", b"\r\n\r\n", b"From: \x00\xff\r\n\r\n\x00", b"Content-Type: ;;;\r\n\r\n"):
        assert isinstance(scan_message(raw), MessageReport)


@settings(max_examples=150, deadline=None)
@given(st.binary(max_size=400), st.sampled_from([
    b"", HEADERS, HEADERS + b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n--b\r\n',
    HEADERS + b"Content-Type: text/plain; charset=iso-2022-jp\r\nContent-Transfer-Encoding: base64\r\n\r\n",
    HEADERS + b"Content-Type: application/pkcs7-mime; smime-type=signed-data\r\n\r\n",
    HEADERS + b"Content-Type: message/rfc822\r\n\r\n"]))
def test_random_bytes_never_raise(data: bytes, prefix: bytes) -> None:
    report = scan_message(prefix + data)
    assert isinstance(report.to_dict(), dict)


# --- the password half of PPAP --------------------------------------------------------------------

PASSWORD_POSITIVES = [
    ("パスワード：Ab3$xY9q", None),
    ("PW: 20261122", None),
    ("ＰＷ：Ａｂ３ｘＹ９ｑ", None),
    ("PWは20261122です", None),
    ("解凍パスワードは「Ab3xY9q」です。", None),
    ("パスワード（半角英数字）：Kx83mQ2p", None),
    ("添付ファイルのパスワード　Ab3$xY9q", None),
    ("パス：Qw8rTy2u", None),
    ("解凍キー: 7Gh2kLm9", None),
    ("zipのパスワード：himitsu2025", None),
    ("パスワードは下記の通りです。\n\nAb3$xY9q\n\nよろしくお願いいたします。", None),
    ("先ほどお送りしたファイルのパスワードをお知らせします。\n\nAb3$xY9q\n\nよろしくお願いいたします。", None),
    ("山田様\n\n本日お送りした資料（暗号化ZIP）のパスワードです。\nZx82#qLm\n\n以上、よろしくお願いいたします。", None),
    ("お世話になっております。\n\nAb3$xY9q\n\nよろしくお願いします。", "【パスワード通知】見積書"),
    ("Ab3$xY9q", None),
    ("The password for the attached file is Xy7#kp2Q.", None),
    ("Password: Xy7#kp2Q", None),
    ("Here is the password: kp2Qxy7z", None),
    ("password = Zx9!mn2P", None),
    ("The zip password is 48213579 (numbers only).", None),
    ("P/W：ak47Xq9z", None),
    ("Password: sunflower", None),
]

PASSWORD_NEGATIVES = [
    ("パスワードを変更しました。", None),
    ("パスワードは別送いたします。", None),
    ("当社がお客様のパスワードをお尋ねすることはありません。", None),
    ("パスワードは8文字以上で設定してください。", None),
    ("パスワード：お客様が設定されたもの", None),
    ("パスワード：********", None),
    ("パスワード有効期限：2025/12/31", None),
    ("パスワード有効期限：20251231", None),
    ("パスワード変更日時：2025-11-22 10:30", None),
    ("パスワードを変更しました。\n\n変更日時：2025/11/22 10:30\nIPアドレス：203.0.113.5\n\nサンプル証券株式会社\n03-1234-5678",
     "パスワード変更のお知らせ"),
    ("パスワードの再設定はこちらから行えます。", None),
    ("パスワードをお忘れの方は、コールセンター（0120-123-456）までご連絡ください。", None),
    ("ワンタイムパスワード（OTP）をご利用ください。", None),
    ("お客様のパスワードは暗号化して保存しています。", None),
    ("暗号化通信に対応しました\nTLS1.3", None),
    ("パスポートをご用意ください：AB1234567", None),
    ("コンパス：N35E139", None),
    ("ログインID：ABC12345", None),
    ("> パスワード：Ab3$xY9q\n承知しました。", None),
    ("注文番号：A-12345\n約定価格：1,234円", None),
    ("お世話になっております。\n明日10:00に伺います。\nよろしくお願いします。", "打ち合わせ"),
    ("3月分の報告書を添付します。\nv2.1.0\nご確認ください。", "報告書送付"),
    ("We will never ask for your password.", None),
    ("The password will be sent in a separate email.", None),
    ("Your password must be at least 8 characters.", None),
    ("Your password is case-sensitive.", None),
    ("Your password is incorrect.", None),
    ("Your password is 8-20 characters long.", None),
    ("Password requirements: 8-20 characters", None),
    ("Password policy: at least 12 characters, e.g. Xy7#kp2Qab", None),
    ("Reset your password: https://example.com/reset", None),
    ("The password is shown on the screen.", None),
    ("Your password was changed on 2025-11-22.\nIf this wasn't you, call 0120-000-000.", "Password changed"),
    ("Thanks!\nTaro", None),
    ("Thanks\n\nTaro Yamada\nSample Securities", "Re: encrypted file"),
    ("PWC Japan", None),
]


@pytest.mark.parametrize(("text", "subject"), PASSWORD_POSITIVES)
def test_password_positive(text: str, subject: str | None) -> None:
    hint = find_password(text, subject=subject)
    assert hint is not None
    assert hint.length >= 4 and "Ab3" not in repr(hint)  # the password itself is never kept


@pytest.mark.parametrize(("text", "subject"), PASSWORD_NEGATIVES)
def test_password_negative(text: str, subject: str | None) -> None:
    assert find_password(text, subject=subject) is None


# --- PPAP across two messages -----------------------------------------------------------------------


def test_ppap_two_mail_sequence(encrypted_zip: bytes) -> None:
    first = message("見積書", "見積書を添付します。パスワードは別送します。", message_id="<zip@x>")
    first.add_attachment(encrypted_zip, maintype="application", subtype="zip", filename="見積書.zip")
    second = message("パスワード", "先ほどのファイルのパスワード：Ab3$xY9q", message_id="<pw@x>")
    tracker = PpapTracker()
    assert tracker.observe(scan_message(first.as_bytes()), at=T0) is None
    match = tracker.observe(scan_message(second.as_bytes()), at=T0 + dt.timedelta(minutes=3))
    assert match is not None
    assert (match.sender, match.recipients, match.first_message_id, match.message_id) == (
        SENDER, (CLIENT,), "<zip@x>", "<pw@x>")
    assert match.delay_seconds == 180 and "見積書.zip" in match.attachments
    assert json.loads(json.dumps(match.to_dict()))["attachments"][0] == "見積書.zip"


def report(*, sender: str = SENDER, to: tuple[str, ...] = (CLIENT,), encrypted: bool = False,
           password: bool = False, message_id: str | None = None) -> MessageReport:
    attachments = (AttachmentFinding("a.zip", "zip", True, "encrypted", "test", 10),) if encrypted else ()
    return MessageReport(message_id, sender, to, "s", None, attachments, (), password, None)


def test_ppap_tracker_rules() -> None:
    tracker = PpapTracker(window=dt.timedelta(minutes=30))
    tracker.observe(report(encrypted=True, to=(CLIENT, "b@example.org")), at=T0)
    # another sender, other recipients, too late: no match
    assert tracker.observe(report(sender="other@example-sec.co.jp", password=True), at=T0) is None
    assert tracker.observe(report(to=("c@example.net",), password=True), at=T0) is None
    assert tracker.observe(report(password=True), at=T0 + dt.timedelta(minutes=31)) is None
    tracker.observe(report(encrypted=True), at=T0 + dt.timedelta(hours=1))
    # same sender, one of the recipients, case-insensitive: a match naming the shared recipient
    match = tracker.observe(report(to=("Client@Example.com", "x@example.net"), password=True),
                            at=T0 + dt.timedelta(hours=1, minutes=29))
    assert match is not None and match.recipients == ("client@example.com",)
    # a password mail sent before the attachment is no follow-up
    assert tracker.observe(report(password=True), at=T0 + dt.timedelta(minutes=50)) is None
    with pytest.raises(ValueError, match="timezone-aware"):
        tracker.observe(report(), at=dt.datetime(2025, 11, 22))


def test_ppap_tracker_memory_is_bounded() -> None:
    tracker = PpapTracker(max_entries=100)
    for i in range(5_000):
        tracker.observe(report(sender=f"s{i}@example-sec.co.jp", encrypted=True), at=T0 + dt.timedelta(seconds=i))
    assert len(tracker) == 100
    assert tracker.observe(report(sender="s4999@example-sec.co.jp", password=True),
                           at=T0 + dt.timedelta(seconds=5_000)) is not None
    assert tracker.observe(report(sender="s0@example-sec.co.jp", password=True),
                           at=T0 + dt.timedelta(seconds=5_000)) is None


# --- reading files ---------------------------------------------------------------------------------


def write_samples(root: Path, encrypted_zip: bytes) -> tuple[EmailMessage, EmailMessage, EmailMessage]:
    zip_mail = message("見積書", "見積書を添付します。", message_id="<zip@x>")
    zip_mail.add_attachment(encrypted_zip, maintype="application", subtype="zip", filename="見積書.zip")
    password_mail = message("パスワード", "パスワード：Ab3$xY9q", date=T0 + dt.timedelta(minutes=5),
                            message_id="<pw@x>")
    clean = message("ご案内", "いつもお世話になっております。", date=T0 - dt.timedelta(days=1), message_id="<ok@x>")
    (root / "2025" / "11").mkdir(parents=True)
    (root / "2025" / "11" / "b-zip.eml").write_bytes(zip_mail.as_bytes())
    (root / "0-password.eml").write_bytes(password_mail.as_bytes())  # sorts first, was sent last
    (root / "notes.txt").write_text("not a message")
    return zip_mail, password_mail, clean


def test_iter_messages_over_a_directory_and_an_mbox(tmp_path: Path, encrypted_zip: bytes) -> None:
    zip_mail, password_mail, clean = write_samples(tmp_path / "dir", encrypted_zip)
    (tmp_path / "dir" / "broken.eml").symlink_to(tmp_path / "nowhere.eml")
    errors: list[tuple[str, str]] = []
    found = list(iter_messages(tmp_path / "dir", on_error=lambda s, r: errors.append((s, r))))
    assert [Path(source).name for source, _ in found] == ["0-password.eml", "b-zip.eml"]
    assert [Path(source).name for source, _ in errors] == ["broken.eml"]
    box = mailbox.mbox(tmp_path / "box.mbox")
    for msg in (clean, zip_mail, password_mail):
        box.add(msg)
    box.close()
    sources = [source for source, _ in iter_messages(tmp_path / "box.mbox")]
    assert sources == [f"{tmp_path / 'box.mbox'}#{i}" for i in (1, 2, 3)]
    [(_, raw)] = list(iter_messages(tmp_path / "dir" / "0-password.eml"))
    assert raw == password_mail.as_bytes()
    big: list[str] = []
    assert list(iter_messages(tmp_path / "dir" / "0-password.eml", max_bytes=10,
                              on_error=lambda s, r: big.append(r))) == []
    assert "limit" in big[0]
    with pytest.raises(FileNotFoundError):
        list(iter_messages(tmp_path / "missing"))


# --- the command ----------------------------------------------------------------------------------


def run(*args: str) -> tuple[int, list[dict[str, object]], str]:
    result = CliRunner().invoke(main, ["mail", "scan", *args])
    lines = [json.loads(line) for line in result.stdout.splitlines() if line.strip()]
    return result.exit_code, lines, result.stderr


def test_cli_over_a_directory_pairs_ppap_in_sending_order(tmp_path: Path, encrypted_zip: bytes) -> None:
    write_samples(tmp_path, encrypted_zip)
    code, lines, stderr = run(str(tmp_path))
    assert code == 1
    assert [Path(str(line["source"])).name for line in lines] == ["0-password.eml", "b-zip.eml"]
    password_line, zip_line = lines
    assert password_line["password_in_body"] is True
    assert isinstance(password_line["ppap_followup"], dict)
    assert password_line["ppap_followup"]["first_message_id"] == "<zip@x>"
    assert zip_line["has_encrypted_attachment"] is True and zip_line["ppap_followup"] is None
    assert "2 message(s), 2 with findings" in stderr and "1 PPAP follow-up(s)" in stderr


def test_cli_over_an_mbox_and_exit_codes(tmp_path: Path, encrypted_zip: bytes) -> None:
    zip_mail, password_mail, clean = write_samples(tmp_path / "d", encrypted_zip)
    box = mailbox.mbox(tmp_path / "box.mbox")
    for msg in (clean, zip_mail, password_mail):
        box.add(msg)
    box.close()
    code, lines, _ = run(str(tmp_path / "box.mbox"), "--window", "10")
    assert code == 1 and len(lines) == 3
    assert [line["ppap_followup"] is not None for line in lines] == [False, False, True]
    code, lines, _ = run(str(tmp_path / "box.mbox"), "--window", "4")  # the password came 5 minutes later
    assert [line["ppap_followup"] for line in lines] == [None, None, None]
    clean_dir = tmp_path / "clean"
    clean_dir.mkdir()
    (clean_dir / "ok.eml").write_bytes(clean.as_bytes())
    code, lines, stderr = run(str(clean_dir))
    assert code == 0 and len(lines) == 1 and "0 with findings" in stderr
    (clean_dir / "gone.eml").symlink_to(tmp_path / "nowhere")
    code, _, stderr = run(str(clean_dir))
    assert code == 1 and "1 file(s) not read" in stderr
    assert run(str(tmp_path / "missing"))[0] == 2
    assert run(str(clean_dir), "--window", "0")[0] == 2


# --- fast paths: the same results as the stdlib, sooner --------------------------------------------
#
# The message scanner parses well-formed mail itself (mail_message._parse_strict), sets long base64
# blocks aside for the stdlib feed parser on the rest (_parse_skeleton), decodes base64 bodies in one
# call (_decoded), and skips link and keyword searches that cannot find anything. Each must give what
# the plain stdlib path gives; these tests compare the two on built, generated and mangled input.


def stdlib_parse(raw: bytes) -> Message:
    msg: Message = BytesParser(policy=mail_message._policy(mail_message._HeaderGuard(MAX_PARTS * 8))).parsebytes(raw)
    return msg


class CountingCalls:
    def __init__(self, function: Callable[..., object]) -> None:
        self.function = function
        self.calls = 0

    def __call__(self, *args: object, **kwargs: object) -> object:
        self.calls += 1
        return self.function(*args, **kwargs)


def tree(msg: Message) -> dict[str, object]:
    """Everything the parser decides about a message, recursively."""
    payload = msg._payload  # type: ignore[attr-defined]
    return {"headers": list(msg.raw_items()), "unixfrom": msg.get_unixfrom(), "preamble": msg.preamble,
            "epilogue": msg.epilogue, "default_type": msg.get_default_type(), "type": type(msg).__name__,
            "defects": [(type(d).__name__, str(d)) for d in msg.defects],
            "payload": [tree(p) for p in payload] if isinstance(payload, list) else payload}


def walk(msg: Message) -> list[Message]:
    payload = msg._payload  # type: ignore[attr-defined]
    return [msg, *(part for child in payload for part in walk(child))] if isinstance(payload, list) else [msg]


def check_fast_parses(raw: bytes) -> dict[str, bool]:
    """Both fast parses give the stdlib's tree (or decline), and decode each body they located to the
    stdlib's bytes; where they decode it themselves the stdlib records no defect."""
    expected = tree(stdlib_parse(raw))
    used = {}
    for name, parse in (("strict", mail_message._parse_strict), ("skeleton", mail_message._parse_skeleton)):
        bodies: dict[Message, object] = {}
        parsed = parse(raw, bodies)  # type: ignore[arg-type]
        used[name] = parsed is not None
        if parsed is None:
            continue
        assert tree(parsed[0]) == expected, (name, raw[:400])
        for part, twin in zip(walk(parsed[0]), walk(stdlib_parse(raw)), strict=True):
            if part not in bodies:
                continue
            counter = CountingCalls(part.get_payload)
            part.get_payload = counter  # type: ignore[method-assign, assignment]
            fast = mail_message._decoded(part, bodies)  # type: ignore[arg-type]
            assert fast == twin.get_payload(decode=True), (name, raw[:400])
            if not counter.calls:  # decoded from the bytes: the stdlib finds nothing wrong with them
                assert not twin.defects, (name, raw[:400])
    return used


def built_messages(attachment: bytes) -> list[bytes]:
    plain = message(body="本文です。\nhttps://example.com/x")
    mixed = message(body="資料を添付します。", html="<p>資料</p>")
    mixed.add_attachment(attachment, maintype="application", subtype="zip", filename="資料.zip")
    mixed.add_attachment(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 40, maintype="image", subtype="png",
                         filename="a.png")
    forwarded = message(body="転送します。")
    forwarded.add_attachment(mixed)  # message/rfc822
    digest = MIMEPart()
    digest.make_mixed()
    digest.set_type("multipart/digest")
    digest.attach(message(subject="a"))
    signed = EmailMessage()
    signed["Content-Type"] = 'multipart/signed; protocol="application/pkcs7-signature"; boundary="s"'
    signed.set_payload("preamble\n--s\nContent-Type: text/plain\n\nsigned text\n--s\n"
                       "Content-Type: application/pkcs7-signature\nContent-Transfer-Encoding: base64\n\n"
                       + base64.encodebytes(bytes(range(256)) * 30).decode() + "--s--\nepilogue\n")
    out = []
    for msg in (plain, mixed, forwarded, digest, signed):
        out.append(msg.as_bytes())
        out.append(msg.as_bytes(policy=msg.policy.clone(linesep="\r\n")))
    return out


def test_fast_parses_give_the_stdlib_tree_of_built_messages(encrypted_zip: bytes) -> None:
    for raw in built_messages(encrypted_zip * 30):
        used = check_fast_parses(raw)
        assert used["strict"], raw[:200]
    assert check_fast_parses(b"\r\nno headers at all\r\n")["strict"]


MIME_EOLS = [b"\r\n", b"\n", b"\r", b"\n\r"]


@st.composite
def mime_part(draw: st.DrawFn, depth: int = 0, eol: bytes = b"\r\n") -> bytes:
    kinds = ["text", "b64", "multi", "rfc822", "digest", "weird"] if depth < 3 else ["text", "b64"]
    kind = draw(st.sampled_from(kinds))
    headers: list[bytes] = []
    if kind == "text":
        headers.append(b"Content-Type: text/plain; charset=utf-8")
        body = draw(st.sampled_from([b"hello", b"", b"line1" + eol + b"line2", "日本語".encode(), b"--b1",
                                     b"a\rb", b"x" + eol]))
    elif kind == "b64":
        headers += [b"Content-Type: application/octet-stream", b"Content-Transfer-Encoding: base64",
                    b'Content-Disposition: attachment; filename="f.bin"']
        encoded = base64.encodebytes(draw(st.binary(max_size=3000))).replace(b"\n", eol)
        if draw(st.booleans()):
            encoded = encoded.rstrip(b"\r\n")
        body = encoded[: draw(st.integers(0, len(encoded)))] if draw(st.integers(0, 9)) == 0 else encoded
    elif kind in ("multi", "digest"):
        boundary = draw(st.sampled_from([b"b1", b"===x==", b"b 1", b"zz"])) + str(depth).encode()
        subtype = b"digest" if kind == "digest" else draw(st.sampled_from([b"mixed", b"alternative", b"signed"]))
        headers.append(b"Content-Type: multipart/" + subtype + b'; boundary="' + boundary + b'"')
        space = draw(st.sampled_from([b"", b" ", b"\t "]))
        body = draw(st.sampled_from([b"", b"preamble" + eol, eol, b"pre" + eol + eol]))
        for _ in range(draw(st.integers(0, 3))):
            body += b"--" + boundary + space + eol + draw(mime_part(depth + 1, eol)) + eol
        if draw(st.integers(0, 9)):
            body += b"--" + boundary + b"--" + space + draw(st.sampled_from([eol, b""]))
        body += draw(st.sampled_from([b"", b"epilogue", eol, eol + b"epi" + eol, b"--" + boundary + eol]))
    elif kind == "rfc822":
        headers.append(b"Content-Type: message/rfc822")
        body = draw(mime_part(depth + 1, eol))
    else:
        headers.append(draw(st.sampled_from([b"Content-Type: message/delivery-status", b"From nobody",
                                             b"X-Weird header", b" continuation-first", b":empty",
                                             b"Content-Type: multipart/mixed"])))
        body = b"Reporting-MTA: dns; x" + eol + eol + b"Status: 5.0.0"
    if draw(st.integers(0, 9)) == 0:
        headers.append(b" folded")
    return eol.join(headers) + eol + draw(st.sampled_from([eol, eol, b""])) + body


@st.composite
def mime_message(draw: st.DrawFn) -> bytes:
    eol = draw(st.sampled_from(MIME_EOLS))
    raw = b"From: a@example.jp" + eol + b"To: b@example.jp" + eol + draw(mime_part(0, eol))
    for _ in range(draw(st.integers(0, 3))):  # and a few stray bytes
        at = draw(st.integers(0, len(raw)))
        raw = raw[:at] + draw(st.sampled_from([b"\r", b"\n", b"-", b"--", b" ", b"\r\n", b"x"])) + raw[at:]
    return raw


@settings(max_examples=400, deadline=None)
@given(mime_message())
def test_fast_parses_give_the_stdlib_tree_of_generated_messages(raw: bytes) -> None:
    check_fast_parses(raw)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600), st.sampled_from([b"\n", b"\r\n"]), st.integers(4, 80),
       st.lists(st.tuples(st.integers(0, 2000), st.sampled_from([b"=", b"!", b"\n", b"\r", b" ", b"A", b"=="])),
                max_size=3), st.sampled_from([b"", b"\n", b"\r\n", b"\n\n"]))
def test_base64_bodies_decode_like_the_stdlib(data: bytes, eol: bytes, width: int, edits: list[tuple[int, bytes]],
                                               trailer: bytes) -> None:
    encoded = base64.b64encode(data)
    body = eol.join(encoded[i : i + width] for i in range(0, len(encoded), width))
    for at, text in edits:
        at %= len(body) + 1
        body = body[:at] + text + body[at:]
    raw = b"Content-Type: application/octet-stream\nContent-Transfer-Encoding: base64\n\n" + body + trailer
    check_fast_parses(raw)


def test_scan_reports_are_the_same_without_the_fast_parses(encrypted_zip: bytes,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    samples = [*built_messages(encrypted_zip), HEADERS + b"Content-Type: text/plain\r\n\r\nPW: Ab3$xY9q\r\n"]
    fast = [scan_message(raw).to_dict() for raw in samples]
    monkeypatch.setattr(mail_message, "_parse_strict", lambda raw, bodies: None)
    monkeypatch.setattr(mail_message, "_parse_skeleton", lambda raw, bodies: None)
    assert [scan_message(raw).to_dict() for raw in samples] == fast
    assert any(r["has_encrypted_attachment"] for r in fast) and any(r["links"] for r in fast)


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=80),
       st.sampled_from(["content-type", "content-disposition"]))
def test_parameters_are_split_as_by_the_stdlib(value: str, field: str) -> None:
    def outcome(call: Callable[..., object], *args: object, **kwargs: object) -> object:
        try:
            return call(*args, **kwargs)
        except Exception as exc:  # the stdlib raises on some values; the cached split must raise the same
            return type(exc)

    cached, plain = mail_message._Part(), EmailMessage()
    for msg in (cached, plain):
        msg.set_raw(field, value)
    for name in ("charset", "boundary", "filename", "name", "smime-type"):
        assert outcome(cached.get_param, name, header=field) == outcome(plain.get_param, name, header=field)
    for method in ("get_filename", "get_boundary", "get_content_charset"):
        assert outcome(getattr(cached, method)) == outcome(getattr(plain, method))


@settings(max_examples=300, deadline=None)
@given(st.text(st.characters(min_codepoint=0x20, max_codepoint=0x7E), max_size=60))
def test_subjects_without_encoded_words_come_back_as_they_are(value: str) -> None:
    import email.header

    if "=?" not in value:
        assert mail_message._decode_header_text(value) == str(email.header.make_header(email.header.decode_header(value)))


LINK_PIECES = ["a", "Z", "1", "w", "www", "http", "hxxp", "h", "t", "x", "p", "ttp", "h t t p", "s", ".", "。", "．",
               "・", ":", "：", "@", "/", "／", "//", "[", "]", "(", ")", "{", "}", "<", ">", "【", "】", "「", "」",
               " ", "\t", "\n", "\n", "\n\n", " \n ", "\u3000", "dot", "ドット", "点", "at", "アット", "com", "jp",
               "example", "例え", "\u200b", "ｅｘａｍｐｌｅ", "-", "_", "*", "mailto", "1.2.3.4", "ｗｗｗ", "[:]",
               "(:)", "[//]", "example.com", "https://a.example/x", "hxxps://files.example[.]com/x", "v1.2.3.4",
               "いつもお世話になっております。", "::1", "ſ", "K", "İ", "①", "﹒", "﹕"]


@settings(max_examples=500, deadline=None)
@given(st.lists(st.sampled_from(LINK_PIECES) | st.characters(), max_size=25))
def test_link_search_by_lines_finds_what_linkcheck_finds(pieces: list[str]) -> None:
    text = "".join(pieces)
    assert _linkcheck_lines(text) == linkcheck_find_links(text)


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["パス", "パスワード", "ﾊﾟｽ", "暗証番号", "解凍キー", "PASS", "Pw", "P/W", "PWD", "ı",
                                 "word", "：", "は", " ", "\n", "Ab3$xY9q", "zip", "ｐａｓｓ", "ſ"]) | st.characters(),
                max_size=12))
def test_password_keywords_all_contain_a_keyword_part(pieces: list[str]) -> None:
    import unicodedata

    text = unicodedata.normalize("NFKC", "".join(pieces))
    if not any(part in text.lower() for part in mail_message._KEYWORD_PARTS):
        assert mail_message._KEYWORD.search(text) is None and mail_message._PW_LABEL.search(text) is None


def test_blank_images_are_not_searched_for_codes(monkeypatch: pytest.MonkeyPatch) -> None:
    out = io.BytesIO()
    Image.new("RGB", (400, 300), (10, 120, 80)).save(out, "PNG")
    monkeypatch.setattr(zxingcpp, "read_barcodes", lambda *a, **k: pytest.fail("decoded a blank image"))
    assert find_links_in_image(out.getvalue(), "image/png") == []


def test_the_part_budget_only_applies_while_parsing() -> None:
    parts = b"".join(b"--b\r\nContent-Type: application/octet-stream\r\n\r\nx\r\n" for _ in range(1_100))
    raw = HEADERS + b'Content-Type: multipart/mixed; boundary="b"\r\n\r\n' + parts + b"--b--\r\n"
    msg, degraded = mail_message._parse(raw, [], {})
    assert msg is not None and not degraded
    for _ in range(10_000):  # the scan reads the types again; the budget must not answer text/plain now
        assert msg.get_content_type() == "multipart/mixed"
