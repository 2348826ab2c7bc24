"""Links in mail to customers (FSA 2025: no links to password pages in customer mail):
plain text in Japanese and English, HTML, QR codes in images."""

from __future__ import annotations

import base64
import io

import pytest
import zxingcpp
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from mamori.mail.links import (
    FILE_EXTENSION_TLDS,
    LINK_KINDS,
    find_links,
    find_links_html,
    find_links_in_image,
    html_text,
    is_scannable_image,
)


def kinds(text: str, **kwargs: object) -> list[tuple[str, str]]:
    return [(f.kind, f.text) for f in find_links(text, "text/plain", **kwargs)]  # type: ignore[arg-type]


def qr_png(content: str, *, scale: int = 4, canvas: tuple[int, int] | None = None) -> bytes:
    """A PNG with one QR code, written by zxing-cpp itself."""
    barcode = zxingcpp.create_barcode(content, zxingcpp.BarcodeFormat.QRCode)
    bitmap = barcode.to_image(scale=scale)
    height, width = bitmap.shape
    image = Image.frombytes("L", (width, height), bytes(memoryview(bitmap)))
    if canvas is not None:
        page = Image.new("L", canvas, 255)
        page.paste(image, (30, 40))
        image = page
    out = io.BytesIO()
    image.save(out, "PNG")
    return out.getvalue()


# --- plain text: what is a link ----------------------------------------------------------------

POSITIVES = [
    # Japanese punctuation around a URL: exact boundaries
    ("「https://example.com/login」をご覧ください", "url", "https://example.com/login"),
    ("こちら→https://example.co.jp/a?b=1、または窓口へ", "url", "https://example.co.jp/a?b=1"),
    ("詳細はhttps://example.com/path。", "url", "https://example.com/path"),
    ("（https://example.com/x）", "url", "https://example.com/x"),
    ("『http://example.jp/』", "url", "http://example.jp/"),
    ("Visit https://example.com/login.", "url", "https://example.com/login"),
    ("ftp://files.example.net/x", "url", "ftp://files.example.net/x"),
    ("javascript:alert(document.cookie)", "url", "javascript:alert"),
    ("https://例え.jp/ログイン", "url", "https://例え.jp/"),
    # bare domains, with paths, glued to Japanese
    ("ログインはexample-sec.co.jp/loginから", "bare_domain", "example-sec.co.jp/login"),
    ("www.example-sec.co.jpへアクセス", "bare_domain", "www.example-sec.co.jp"),
    ("Go to example.com now", "bare_domain", "example.com"),
    ("価格.comで比較", "bare_domain", "価格.com"),
    ("see microsoft-update.zip now", "bare_domain", "microsoft-update.zip"),
    ("login.example.zip", "bare_domain", "login.example.zip"),
    ("Example.Com", "bare_domain", "Example.Com"),
    # shorteners, with or without a scheme
    ("bit.ly/3abcDEF を開いて", "shortener", "bit.ly/3abcDEF"),
    ("https://t.co/xyz", "shortener", "https://t.co/xyz"),
    ("tinyurl.com/abc", "shortener", "tinyurl.com/abc"),
    ("ow.ly/abc", "shortener", "ow.ly/abc"),
    ("is.gd/abc", "shortener", "is.gd/abc"),
    ("buff.ly/abc", "shortener", "buff.ly/abc"),
    ("goo.gl/abc", "shortener", "goo.gl/abc"),
    ("amzn.to/abc", "shortener", "amzn.to/abc"),
    ("LINE公式アカウント lin.ee/abc", "shortener", "lin.ee/abc"),
    # IP addresses
    ("http://203.0.113.5/login", "ip_address", "http://203.0.113.5/login"),
    ("接続先：203.0.113.5", "ip_address", "203.0.113.5"),
    ("[2001:db8::1]", "ip_address", "2001:db8::1"),
    # defanged / disguised
    ("hxxps://evil.example/login", "obfuscated", "hxxps://evil.example/login"),
    ("example[.]com", "obfuscated", "example[.]com"),
    ("example(dot)com", "obfuscated", "example(dot)com"),
    ("example . com", "obfuscated", "example . com"),
    ("example。com", "obfuscated", "example。com"),
    ("exa\u200bmple.com", "obfuscated", "exa\u200bmple.com"),
    ("bit[.]ly/x", "obfuscated", "bit[.]ly/x"),
    # full-width: matched after NFKC, reported as written
    ("ｈｔｔｐｓ：／／ｅｘａｍｐｌｅ．ｃｏｍ／ｌｏｇｉｎ", "fullwidth", "ｈｔｔｐｓ：／／ｅｘａｍｐｌｅ．ｃｏｍ／ｌｏｇｉｎ"),
    ("公式サイトＥＸＡＭＰＬＥ．ｃｏｍへ", "fullwidth", "ＥＸＡＭＰＬＥ．ｃｏｍ"),
    # inside an allowed scheme, a URL still counts
    ("mailto:a@example.com?body=https://evil.example/", "url", "https://evil.example/"),
]


@pytest.mark.parametrize(("text", "kind", "span"), POSITIVES)
def test_positive(text: str, kind: str, span: str) -> None:
    assert (kind, span) in kinds(text)
    assert kind in LINK_KINDS


NEGATIVES = [
    "お世話になっております。株式会社サンプル証券の山田です。",
    "ご注文の約定代金は¥1,234,567.89です。手数料は1.5%となります。",
    "本日10.30よりメンテナンスを実施します。10:00〜12:00",
    "バージョン1.2.3.4にアップデートしました。Ver.2.0.1 リリース",
    "Version 10.0.19045.3803 of Windows; v1.2.3.4",
    "1.2.3",
    "2025.10.15 改訂",
    "添付のreport.pdfと明細.xlsxをご確認ください。",
    "添付ファイル（明細.zip）をご確認ください。",
    "Please find attached report.zip.",
    "The attached file invoice_2025.zip contains the statement.",
    "ファイル名：setup.py を実行してください",
    "Q3決算.pdf、議事録.docx、Report_final.pptx",
    # e-mail addresses and the allowed schemes are not links
    "Please contact yamada@example-sec.co.jp for details.",
    "お問い合わせ: support@example.co.jp まで",
    "mailto:info@example.co.jp",
    "tel:0120-123-456 にお電話ください",
    "電話：03-1234-5678（平日9:00～17:00）",
    "〒100-0001 東京都千代田区千代田1-1",
    # prose that looks like host names
    "Thank you for your order.Best regards, Taro",
    "We look forward to it.Next week we will meet.",
    "Sample Securities Co.Ltd. / SAMPLE CO.LTD.",
    "Built with ASP.NET and VB.NET.",
    "U.S.Army and U.K. markets",
    "e.g. the fund, i.e. the trust, etc.",
    "Mr.Tanaka and Dr.Suzuki; No.1 in customer satisfaction",
    "Node.js and Vue.js",
    "Section 3 . The Company shall",
    "金利は0.25％、為替は1ドル=150.25円。",
    "取引番号 ABC-2025-0001 を承りました。",
    "S&P500 and NASDAQ 100 rose 1.2 percent. JPY 1,234.56 / USD 12.34",
    "この度は、誠にありがとうございました。。。",
    "IPアドレス 153.156.x.x からログインがありました。",
    "当社からのメールにリンクは記載しておりません。公式アプリまたはブックマークからログインしてください。",
]


@pytest.mark.parametrize("text", NEGATIVES)
def test_negative(text: str) -> None:
    assert kinds(text) == []


def test_file_name_heuristic() -> None:
    # 1. the name of one of the message's attachments
    assert kinds("Please see statement.zip", attachment_names=["statement.zip"]) == []
    assert kinds("Please see statement.zip") == [("bare_domain", "statement.zip")]
    # 2. a base that is no host name
    assert kinds("明細.zip") == []
    assert kinds("my_report.mov") == []
    # 3. an attachment word within 30 characters on the same line
    assert kinds("添付の report.zip をご確認ください") == []
    assert kinds("report.zip（添付ファイル）") == []
    assert kinds("添付しました。\nreport.zip") == [("bare_domain", "report.zip")]  # another line
    # a scheme, a path or www. always make it a link
    assert kinds("添付の https://report.zip/") == [("url", "https://report.zip/")]
    assert kinds("添付の report.zip/download") == [("bare_domain", "report.zip/download")]
    assert "zip" in FILE_EXTENSION_TLDS and "mov" in FILE_EXTENSION_TLDS and "pdf" not in FILE_EXTENSION_TLDS


def test_one_finding_per_distinct_link_and_part_is_kept() -> None:
    found = find_links("https://a.example/ and https://a.example/ and b.example.com", "text/plain")
    assert [(f.kind, f.text, f.part) for f in found] == [
        ("url", "https://a.example/", "text/plain"), ("bare_domain", "b.example.com", "text/plain")]


# --- HTML ----------------------------------------------------------------------------------------

HTML = """<html><head>
<meta http-equiv="refresh" content="0; URL='https://refresh.example/x'">
<style>body{background:url("https://img.example/bg.png")} @import 'https://css.example/a.css';</style>
</head><body>
<a href="https://example.com/login">ログイン</a>
<img src="cid:logo@example" alt="logo"><img src="https://track.example/p.gif" alt="visit www.example.jp">
<form action="/login"><input type="password"></form>
<a href="mailto:a@example.com?body=https://mailto.example/">mail</a>
<a href="#top">top</a> <a href="tel:0120-000-000">tel</a>
<p>お問い合わせは example-sec.co.jp まで</p>
<div style="background-image:url(https://style.example/x.png)"></div>
<map><area href="https://area.example/" alt="a"></map>
<!--[if mso]><v:roundrect href="https://mso.example/button">x</v:roundrect><![endif]-->
<!-- https://comment.example/ is never shown -->
<script>location.href="https://script.example/x"</script>
<a onclick="window.location='https://onclick.example/'">x</a>
</body></html>"""


def test_html_links() -> None:
    found = {(f.kind, f.text) for f in find_links_html(HTML, "text/html")}
    hrefs = {text for kind, text in found if kind == "html_href"}
    assert hrefs == {
        "https://refresh.example/x", "https://img.example/bg.png", "https://css.example/a.css",
        "https://example.com/login", "https://track.example/p.gif", "/login", "https://style.example/x.png",
        "https://area.example/", "https://mso.example/button",
    }
    assert ("bare_domain", "example-sec.co.jp") in found  # visible text
    assert ("bare_domain", "www.example.jp") in found  # alt text
    assert ("url", "https://mailto.example/") in found  # inside mailto:
    assert ("url", "https://script.example/x") in found
    assert ("url", "https://onclick.example/") in found
    assert not any("comment.example" in text or text.startswith(("cid:", "#", "tel:", "mailto:")) for _, text in found)


def test_html_without_links_and_visible_text() -> None:
    html = ('<html><body><p>いつもご利用ありがとうございます。</p><img src="cid:logo" alt="サンプル証券">'
            '<a href="#a">目次</a><p>お問い合わせ：0120-000-000</p></body></html>')
    assert find_links_html(html, "text/html") == []
    assert "いつもご利用ありがとうございます。" in html_text(html)
    assert "<p>" not in html_text(html)


def test_html_entities_and_broken_markup() -> None:
    assert ("html_href", "https://e.example/?a=1&b=2") in {
        (f.kind, f.text) for f in find_links_html('<a href="https://e.example/?a=1&amp;b=2">x', "text/html")}
    assert ("url", "https://split.example/") in {
        (f.kind, f.text) for f in find_links_html("<p>https://split.<b></b>example/</p>", "text/html")}
    find_links_html("<a href='x' <<<>>> <!-- <script> </style> &#xffffffff; <![CDATA[", "text/html")


def test_qr_in_html_data_uri() -> None:
    data = base64.b64encode(qr_png("https://qr.example/login")).decode()
    found = find_links_html(f'<img src="data:image/png;base64,{data}">', "text/html")
    assert [(f.kind, f.text) for f in found] == [("qr_code", "https://qr.example/login")]


# --- images --------------------------------------------------------------------------------------


def test_qr_code_with_a_link() -> None:
    png = qr_png("https://example-sec.co.jp/ログイン", canvas=(400, 300))
    assert is_scannable_image(png)
    found = find_links_in_image(png, "image/png: campaign.png")
    assert [(f.kind, f.text, f.part) for f in found] == [
        ("qr_code", "https://example-sec.co.jp/ログイン", "image/png: campaign.png")]


def test_qr_code_without_a_link_and_plain_images() -> None:
    assert find_links_in_image(qr_png("会員番号 12345"), "image/png") == []
    assert find_links_in_image(qr_png("tel:0120000000"), "image/png") == []
    out = io.BytesIO()
    Image.new("RGB", (64, 64), (200, 30, 30)).save(out, "JPEG")
    assert find_links_in_image(out.getvalue(), "image/jpeg") == []


def test_unscannable_images_are_findings_not_errors() -> None:
    big = io.BytesIO()
    Image.new("1", (8000, 6000), 1).save(big, "PNG")  # 48 megapixels in 17 KB
    [finding] = find_links_in_image(big.getvalue(), "image/png")
    assert finding.kind == "image_unscannable" and "over the 40,000,000-pixel limit" in finding.text
    [finding] = find_links_in_image(qr_png("https://x.example/"), "image/png", max_pixels=100)
    assert finding.kind == "image_unscannable"
    for data in (b"\x89PNG\r\n\x1a\n truncated", b"", b"GIF89a\x01", b"%!PS-Adobe-3.0 EPSF-3.0\n"):
        [finding] = find_links_in_image(data, "image/x")
        assert finding.kind == "image_unscannable"


# --- robustness ----------------------------------------------------------------------------------

_TEXTS = st.text(alphabet=st.characters(codec="utf-8") | st.sampled_from(list("．。：／／ｈｔｐｓ[]().@hxps:/")),
                 max_size=300)


@settings(max_examples=200, deadline=None)
@given(_TEXTS)
def test_random_text_never_raises(text: str) -> None:
    for finding in find_links(text, "text/plain"):
        assert finding.kind in LINK_KINDS and finding.text
    find_links_html(text, "text/html")
    find_links_html(f"<a href='{text}'>{text}</a><p style=\"{text}\">{text}", "text/html")


@settings(max_examples=100, deadline=None)
@given(st.binary(max_size=200))
def test_random_bytes_never_raise_as_images(data: bytes) -> None:
    for prefix in (b"", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"\xff\xd8\xff"):
        for finding in find_links_in_image(prefix + data, "image/x"):
            assert finding.kind in ("image_unscannable", "qr_code")
