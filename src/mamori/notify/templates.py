"""Customer notices about account-takeover defence, in Japanese and English, with no links.

In 2025, after phishing sites took over thousands of online brokerage accounts, the FSA (金融庁)
and the Japan Securities Dealers Association asked firms to notify customers of logins from
unusual environments and of locks, held orders and withdrawals, and changes to contact or
withdrawal settings, and *never* to put links in the emails and SMS they send: phishing mails copy
the firms' notices, so customers are told instead to open the official app or a site they
bookmarked. Every notice here therefore

* says what happened, when (Japan time), from where (country and a masked IP address such as
  ``153.156.x.x``, never the full address) and on which device, with a reference number;
* ends with the guidance: open the official app or the bookmarked site and choose "This was not
  me", or call the firm's support number; we will never send you a link;
* contains no URL, no bare domain, no email address, no full IP address (checked by
  :func:`mamori.notify.linkcheck.find_links` over every kind, language and many contexts in the tests).

Values that someone other than the firm can influence (customer and device names, issue names,
symbols) go through :func:`mamori.notify.sanitize.sanitize_value`, which drops anything link- or
phone-number-like. The firm's own settings (name, support phone, reference) are validated instead:
a :class:`NoticeContext` whose firm name contains a link is refused with ``ValueError``.

Usage::

    ctx = NoticeContext(firm_name="まもり証券", firm_name_en="Mamori Securities", customer_name="山田 太郎",
                        occurred_at=event_time, support_phone="0120-000-000", reference="MR-20260105-0001",
                        ip_address="153.156.1.2", country_code="US", device="Chrome (Windows)")
    notice = build_notice(NoticeKind.SUSPICIOUS_LOGIN, ctx, Recipient("C-1001", "taro@example.jp"))
    notice.subject, notice.text()          # both languages, Japanese first
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum
from typing import Final

from mamori.notify.linkcheck import find_links
from mamori.notify.sanitize import mask_ip, sanitize_value

__all__ = [
    "JST",
    "Language",
    "Notice",
    "NoticeContext",
    "NoticeKind",
    "OrderInfo",
    "OrderSide",
    "Recipient",
    "RenderedText",
    "SettingItem",
    "WithdrawalInfo",
    "build_notice",
    "format_time",
    "render",
]

JST: Final = timezone(timedelta(hours=9), "JST")
"""Japan Standard Time (Japan has no daylight saving time, so a fixed offset is exact)."""


class NoticeKind(StrEnum):
    SUSPICIOUS_LOGIN = "suspicious_login"
    """A login from a new device or an unusual IP address / country."""
    ACCOUNT_LOCKED = "account_locked"
    ORDER_HELD = "order_held"
    WITHDRAWAL_HELD = "withdrawal_held"
    SETTINGS_CHANGED = "settings_changed"
    """Email, phone, MFA, password or registered withdrawal account changed."""
    ACCOUNT_FROZEN = "account_frozen"
    """Frozen after the customer said "this was not me"."""


class Language(StrEnum):
    JA = "ja"
    EN = "en"


class OrderSide(StrEnum):
    BUY = "buy"
    SELL = "sell"


class SettingItem(StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    MFA = "mfa"
    PASSWORD = "password"  # noqa: S105 - the name of a setting, not a credential
    WITHDRAWAL_ACCOUNT = "withdrawal_account"


@dataclass(frozen=True, slots=True)
class OrderInfo:
    symbol: str
    """Stock code or pair as the customer knows it (``7203``, ``BTC/JPY``)."""
    side: OrderSide
    quantity: Decimal | int
    name: str | None = None
    """Issue name (``トヨタ自動車``), optional."""


@dataclass(frozen=True, slots=True)
class WithdrawalInfo:
    amount: Decimal | int
    asset: str = "JPY"
    """``JPY`` or a crypto-asset code (``BTC``)."""


_PHONE_RE: Final = re.compile(r"\+?[0-9][0-9\- ()]{5,22}[0-9]")
_REFERENCE_RE: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9\-]{0,39}")
_ASSET_RE: Final = re.compile(r"[A-Z0-9]{2,10}")


@dataclass(frozen=True, slots=True)
class NoticeContext:
    """Everything a notice can quote. Which optional fields a kind needs: ``order`` for
    ``order_held``, ``withdrawal`` for ``withdrawal_held``, ``setting`` for ``settings_changed``;
    ``ip_address``, ``country_code`` and ``device`` are shown when given."""

    firm_name: str
    """The firm's name as used in Japanese (``まもり証券``). Trusted configuration: validated."""
    customer_name: str
    """Display name; sanitised (may be attacker-influenced)."""
    occurred_at: datetime
    """When it happened; timezone-aware (shown in JST)."""
    support_phone: str
    """The number customers should call, e.g. ``0120-000-000``. Validated."""
    reference: str
    """Reference number for the customer and support staff (``MR-20260105-0001``). Validated."""
    firm_name_en: str | None = None
    """The firm's English name; defaults to :attr:`firm_name`."""
    ip_address: str | None = None
    """Full client address; only a masked form is ever shown."""
    country_code: str | None = None
    """ISO 3166-1 alpha-2 code from IP enrichment (``IpInfo.country``)."""
    device: str | None = None
    """Device description (``Chrome (Windows)``); sanitised: it usually derives from a User-Agent."""
    order: OrderInfo | None = None
    withdrawal: WithdrawalInfo | None = None
    setting: SettingItem | None = None

    def __post_init__(self) -> None:
        for label, value in (("firm_name", self.firm_name), ("firm_name_en", self.firm_name_en)):
            if value is None:
                continue
            if not value.strip() or len(value) > 60 or any(not ch.isprintable() for ch in value):
                raise ValueError(f"{label} must be 1-60 printable characters")
            if find_links(value, strict=True):
                raise ValueError(f"{label} must not contain a link, domain or address: {value!r}")
        if self.occurred_at.tzinfo is None or self.occurred_at.utcoffset() is None:
            raise ValueError("occurred_at must be timezone-aware")
        if not _PHONE_RE.fullmatch(self.support_phone):
            raise ValueError(f"support_phone is not a phone number: {self.support_phone!r}")
        if not _REFERENCE_RE.fullmatch(self.reference):
            raise ValueError(f"reference must be 1-40 letters, digits or hyphens: {self.reference!r}")
        if self.ip_address is not None:
            mask_ip(self.ip_address)  # raises ValueError for a non-address
        if self.country_code is not None and not re.fullmatch(r"[A-Za-z]{2}", self.country_code):
            raise ValueError(f"country_code must be ISO 3166-1 alpha-2: {self.country_code!r}")
        if self.order is not None:
            _check_amount("order.quantity", self.order.quantity)
        if self.withdrawal is not None:
            _check_amount("withdrawal.amount", self.withdrawal.amount)
            if not _ASSET_RE.fullmatch(self.withdrawal.asset):
                raise ValueError(f"withdrawal.asset must be an upper-case asset code: {self.withdrawal.asset!r}")


def _check_amount(label: str, value: Decimal | int) -> None:
    number = Decimal(value)
    if not number.is_finite() or number <= 0:
        raise ValueError(f"{label} must be a positive finite number")


@dataclass(frozen=True, slots=True)
class Recipient:
    customer_id: str
    email: str | None = None
    """Where :class:`~mamori.notify.sender.SmtpNoticeSender` sends it (for an email change, send a
    notice to the *old* address too)."""
    webhook_ref: str | None = None
    """The firm's own reference for the customer's SMS/push/in-app channel, echoed in the webhook."""


@dataclass(frozen=True, slots=True)
class RenderedText:
    """One language's subject and plain-text body."""

    language: Language
    subject: str
    body: str


@dataclass(frozen=True, slots=True)
class Notice:
    """A rendered notice in both languages, ready for any sender."""

    kind: NoticeKind
    reference: str
    recipient: Recipient
    occurred_at: datetime
    ja: RenderedText
    en: RenderedText
    subject: str
    """One subject for a bilingual message: ``【まもり証券】… / …`` (Japanese first)."""

    def text(self) -> str:
        """Both bodies in one plain text, Japanese first, English after a separator line."""
        return f"{_ENGLISH_BELOW}\n\n{self.ja.body}\n\n{_SEPARATOR}\n\n{self.en.body}\n"


_ENGLISH_BELOW: Final = "（English follows the Japanese text.）"
_SEPARATOR: Final = "-" * 40

# ---------------------------------------------------------------------------------------------
# Formatting

_MONTHS_EN: Final = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def format_time(at: datetime, language: Language) -> str:
    """``2026年1月5日 10:00`` / ``5 Jan 2026 10:00 JST`` (the time in Japan)."""
    t = at.astimezone(JST)
    if language is Language.JA:
        return f"{t.year}年{t.month}月{t.day}日 {t:%H:%M}"
    return f"{t.day} {_MONTHS_EN[t.month - 1]} {t.year} {t:%H:%M} JST"


def _number(value: Decimal | int) -> str:
    """``1,000,000`` / ``0.5`` (grouped, no exponent, no trailing zeros)."""
    return format(Decimal(value).normalize(), ",f")


_COUNTRIES: Final[dict[str, tuple[str, str]]] = {
    "JP": ("日本", "Japan"), "US": ("アメリカ合衆国", "United States"), "CN": ("中国", "China"),
    "KR": ("韓国", "South Korea"), "KP": ("北朝鮮", "North Korea"), "TW": ("台湾", "Taiwan"),
    "HK": ("香港", "Hong Kong"), "MO": ("マカオ", "Macao"), "MN": ("モンゴル", "Mongolia"),
    "SG": ("シンガポール", "Singapore"), "MY": ("マレーシア", "Malaysia"), "TH": ("タイ", "Thailand"),
    "VN": ("ベトナム", "Vietnam"), "PH": ("フィリピン", "Philippines"), "ID": ("インドネシア", "Indonesia"),
    "KH": ("カンボジア", "Cambodia"), "LA": ("ラオス", "Laos"), "MM": ("ミャンマー", "Myanmar"),
    "IN": ("インド", "India"), "PK": ("パキスタン", "Pakistan"), "BD": ("バングラデシュ", "Bangladesh"),
    "LK": ("スリランカ", "Sri Lanka"), "NP": ("ネパール", "Nepal"), "AU": ("オーストラリア", "Australia"),
    "NZ": ("ニュージーランド", "New Zealand"), "CA": ("カナダ", "Canada"), "MX": ("メキシコ", "Mexico"),
    "BR": ("ブラジル", "Brazil"), "AR": ("アルゼンチン", "Argentina"), "CL": ("チリ", "Chile"),
    "CO": ("コロンビア", "Colombia"), "PE": ("ペルー", "Peru"), "GB": ("イギリス", "United Kingdom"),
    "IE": ("アイルランド", "Ireland"), "FR": ("フランス", "France"), "DE": ("ドイツ", "Germany"),
    "NL": ("オランダ", "Netherlands"), "BE": ("ベルギー", "Belgium"), "LU": ("ルクセンブルク", "Luxembourg"),
    "CH": ("スイス", "Switzerland"), "AT": ("オーストリア", "Austria"), "IT": ("イタリア", "Italy"),
    "ES": ("スペイン", "Spain"), "PT": ("ポルトガル", "Portugal"), "SE": ("スウェーデン", "Sweden"),
    "NO": ("ノルウェー", "Norway"), "DK": ("デンマーク", "Denmark"), "FI": ("フィンランド", "Finland"),
    "IS": ("アイスランド", "Iceland"), "PL": ("ポーランド", "Poland"), "CZ": ("チェコ", "Czechia"),
    "HU": ("ハンガリー", "Hungary"), "RO": ("ルーマニア", "Romania"), "BG": ("ブルガリア", "Bulgaria"),
    "GR": ("ギリシャ", "Greece"), "UA": ("ウクライナ", "Ukraine"), "RU": ("ロシア", "Russia"),
    "BY": ("ベラルーシ", "Belarus"), "LT": ("リトアニア", "Lithuania"), "LV": ("ラトビア", "Latvia"),
    "EE": ("エストニア", "Estonia"), "TR": ("トルコ", "Türkiye"), "IL": ("イスラエル", "Israel"),
    "AE": ("アラブ首長国連邦", "United Arab Emirates"), "SA": ("サウジアラビア", "Saudi Arabia"),
    "QA": ("カタール", "Qatar"), "IR": ("イラン", "Iran"), "EG": ("エジプト", "Egypt"),
    "ZA": ("南アフリカ", "South Africa"), "NG": ("ナイジェリア", "Nigeria"), "KE": ("ケニア", "Kenya"),
    "MA": ("モロッコ", "Morocco"), "SC": ("セーシェル", "Seychelles"), "MT": ("マルタ", "Malta"),
    "CY": ("キプロス", "Cyprus"), "PA": ("パナマ", "Panama"), "KY": ("ケイマン諸島", "Cayman Islands"),
    "VG": ("英領バージン諸島", "British Virgin Islands"), "BS": ("バハマ", "Bahamas"),
    "KZ": ("カザフスタン", "Kazakhstan"),
}  # fmt: skip
"""Country and region names for the codes seen most in login data; others show their code."""


def _country(code: str, language: Language) -> str:
    code = code.upper()
    names = _COUNTRIES.get(code)
    if names is not None:
        return names[0] if language is Language.JA else names[1]
    return f"国・地域コード {code}" if language is Language.JA else f"country/region code {code}"


def _location(ctx: NoticeContext, language: Language) -> str:
    country = _country(ctx.country_code, language) if ctx.country_code else ""
    ip = mask_ip(ctx.ip_address) if ctx.ip_address else ""
    if language is Language.JA:
        ip_text = f"IPアドレス：{ip}" if ip else ""
        return f"{country}（{ip_text}）" if country and ip else country or ip_text
    ip_text = f"IP address {ip}" if ip else ""
    return f"{country} ({ip_text})" if country and ip else country or ip_text


_SETTING_NAMES: Final[dict[SettingItem, tuple[str, str]]] = {
    SettingItem.EMAIL: ("メールアドレス", "email address"),
    SettingItem.PHONE: ("電話番号", "phone number"),
    SettingItem.MFA: ("二段階認証（多要素認証）の設定", "two-step verification (MFA) setting"),
    SettingItem.PASSWORD: ("パスワード", "password"),
    SettingItem.WITHDRAWAL_ACCOUNT: ("出金先口座", "registered withdrawal account"),
}


# ---------------------------------------------------------------------------------------------
# The texts


def _guidance(kind: NoticeKind, phone: str, language: Language) -> str:
    if language is Language.JA:
        no_link = (
            "このお知らせにはリンク（URL）を記載しておりません。"
            "当社がメールやSMSでリンクをお送りすることはございません。"
        )
        if kind is NoticeKind.ACCOUNT_FROZEN:
            return (
                f"{no_link}\n凍結をご依頼いただいた覚えがない場合は、公式アプリまたはブックマークに登録した"
                f"当社ウェブサイトをご確認いただくか、お電話（{phone}）にてご連絡ください。"
            )
        return (
            f"{no_link}\nお心当たりのない場合は、公式アプリまたはブックマークに登録した当社ウェブサイトを開いて"
            f"「身に覚えがない」を選択いただくか、お電話（{phone}）にてご連絡ください。"
        )
    if kind is NoticeKind.ACCOUNT_FROZEN:
        return (
            "If you did not ask us to freeze your account, open the official app or your bookmarked "
            f"site, or call {phone}. We will never send you a link."
        )
    return (
        "If this was not you, open the official app or your bookmarked site and choose "
        f"'This was not me', or call {phone}. We will never send you a link."
    )


@dataclass(frozen=True, slots=True)
class _Parts:
    title: str
    intro: str
    heading: str
    details: list[tuple[str, str]]
    after: str


class _Values:
    """The context's values, sanitised and formatted once per language."""

    def __init__(self, ctx: NoticeContext, language: Language) -> None:
        self.ctx = ctx
        self.language = language
        self.time = format_time(ctx.occurred_at, language)
        self.location = _location(ctx, language)
        self.device = sanitize_value(ctx.device, max_len=80)
        self.customer = sanitize_value(ctx.customer_name, max_len=40)
        self.firm = ctx.firm_name if language is Language.JA else (ctx.firm_name_en or ctx.firm_name)

    def order(self) -> OrderInfo:
        if self.ctx.order is None:
            raise ValueError("order_held needs NoticeContext.order")
        return self.ctx.order

    def withdrawal(self) -> WithdrawalInfo:
        if self.ctx.withdrawal is None:
            raise ValueError("withdrawal_held needs NoticeContext.withdrawal")
        return self.ctx.withdrawal

    def setting(self) -> SettingItem:
        if self.ctx.setting is None:
            raise ValueError("settings_changed needs NoticeContext.setting")
        return self.ctx.setting

    def access_details(self) -> list[tuple[str, str]]:
        ja = self.language is Language.JA
        rows = [("日時", f"{self.time}（日本時間）") if ja else ("Time", self.time)]
        if self.location:
            rows.append(("接続元" if ja else "Location", self.location))
        if self.device:
            rows.append(("端末" if ja else "Device", self.device))
        return rows

    def reference(self) -> tuple[str, str]:
        return ("受付番号" if self.language is Language.JA else "Reference", self.ctx.reference)

    def order_rows(self) -> list[tuple[str, str]]:
        order = self.order()
        ja = self.language is Language.JA
        symbol = sanitize_value(order.symbol, max_len=20)
        name = sanitize_value(order.name, max_len=40)
        issue = f"{symbol} {name}".strip() or "-"
        side = {OrderSide.BUY: ("買い", "Buy"), OrderSide.SELL: ("売り", "Sell")}[order.side][0 if ja else 1]
        return [
            ("銘柄" if ja else "Issue", issue),
            ("売買" if ja else "Side", side),
            ("数量" if ja else "Quantity", _number(order.quantity)),
        ]

    def amount(self) -> str:
        w = self.withdrawal()
        if w.asset == "JPY":
            return f"{_number(w.amount)}円" if self.language is Language.JA else f"JPY {_number(w.amount)}"
        return f"{_number(w.amount)} {w.asset}"


def _ja_parts(kind: NoticeKind, v: _Values) -> _Parts:
    protect = "お客様の資産を保護するため、"
    time = f"{v.time}（日本時間）"
    if kind is NoticeKind.SUSPICIOUS_LOGIN:
        return _Parts(
            "普段と異なる環境からのログインのお知らせ",
            "お客様のアカウントに、普段と異なる端末または接続元からのログインがありましたので、お知らせいたします。",
            "ログインの内容",
            [*v.access_details(), v.reference()],
            "お客様ご自身によるログインであれば、お手続きは不要です。",
        )
    if kind is NoticeKind.ACCOUNT_LOCKED:
        return _Parts(
            "アカウントを一時的にロックしました",
            f"不正なアクセスの可能性を検知いたしました。{protect}アカウントを一時的にロックしております。"
            "ロック中はログインいただけません。",
            "検知した内容",
            [*v.access_details(), v.reference()],
            "ロックの解除をご希望の場合は、公式アプリまたはブックマークに登録した当社ウェブサイトから"
            f"本人確認のうえお手続きいただくか、お電話（{v.ctx.support_phone}）にてご連絡ください。",
        )
    if kind is NoticeKind.ORDER_HELD:
        return _Parts(
            "ご注文を保留しました",
            f"普段と異なる状況でのご注文を検知いたしました。{protect}以下のご注文を一時的に保留しております。"
            "このご注文はまだ執行されておりません。",
            "保留中のご注文",
            [("受付日時", time), *v.order_rows(), v.reference()],
            "お客様ご自身によるご注文である場合は、公式アプリまたはブックマークに登録した当社ウェブサイトから"
            "ご注文内容をご確認ください。",
        )
    if kind is NoticeKind.WITHDRAWAL_HELD:
        return _Parts(
            "出金を保留しました",
            f"普段と異なる状況での出金のご依頼を検知いたしました。{protect}以下の出金を一時的に保留しております。"
            "出金はまだ実行されておりません。",
            "保留中の出金",
            [("受付日時", time), ("金額", v.amount()), v.reference()],
            "お客様ご自身によるご依頼である場合は、公式アプリまたはブックマークに登録した当社ウェブサイトから"
            "ご依頼内容をご確認ください。",
        )
    if kind is NoticeKind.SETTINGS_CHANGED:
        item = _SETTING_NAMES[v.setting()][0]
        return _Parts(
            "登録情報の変更のお知らせ",
            f"お客様のアカウントで、{item}が変更されましたので、お知らせいたします。",
            "変更の内容",
            [("変更項目", item), *v.access_details(), v.reference()],
            "お客様ご自身による変更であれば、お手続きは不要です。",
        )
    return _Parts(
        "アカウントを凍結しました",
        "お客様から「身に覚えがない」とのご連絡をいただきました。"
        f"{protect}アカウントを凍結いたしました。凍結中は、ログイン・お取引・出金のすべてを停止しております。"
        "お預かりしている資産は、引き続き当社にて保管しております。",
        "凍結の内容",
        [("日時", time), v.reference()],
        f"凍結の解除については、お電話（{v.ctx.support_phone}）にてご連絡ください。本人確認のうえ、ご案内いたします。",
    )


def _en_parts(kind: NoticeKind, v: _Values) -> _Parts:
    protect = "To protect your assets, "
    if kind is NoticeKind.SUSPICIOUS_LOGIN:
        return _Parts(
            "Sign-in from a new device or location",
            "Someone signed in to your account from a device or location you do not usually use.",
            "Sign-in details",
            [*v.access_details(), v.reference()],
            "If this was you, you do not need to do anything.",
        )
    if kind is NoticeKind.ACCOUNT_LOCKED:
        return _Parts(
            "Your account has been locked",
            f"We detected possible unauthorised access. {protect}we have temporarily locked your account. "
            "You cannot sign in while it is locked.",
            "What we detected",
            [*v.access_details(), v.reference()],
            "To unlock it, verify your identity in the official app or on your bookmarked site, "
            f"or call {v.ctx.support_phone}.",
        )
    if kind is NoticeKind.ORDER_HELD:
        return _Parts(
            "We have held your order",
            f"This order was placed in unusual circumstances. {protect}we are holding it for now. "
            "It has not been executed.",
            "Held order",
            [("Received", v.time), *v.order_rows(), v.reference()],
            "If you placed this order, please check it in the official app or on your bookmarked site.",
        )
    if kind is NoticeKind.WITHDRAWAL_HELD:
        return _Parts(
            "We have held your withdrawal",
            f"This withdrawal was requested in unusual circumstances. {protect}we are holding it for now. "
            "No money or crypto-assets have left your account.",
            "Held withdrawal",
            [("Received", v.time), ("Amount", v.amount()), v.reference()],
            "If you requested this withdrawal, please check it in the official app or on your bookmarked site.",
        )
    if kind is NoticeKind.SETTINGS_CHANGED:
        item = _SETTING_NAMES[v.setting()][1]
        return _Parts(
            "Your account settings were changed",
            f"Your {item} was changed.",
            "Change details",
            [("Changed", item), *v.access_details(), v.reference()],
            "If you made this change, you do not need to do anything.",
        )
    return _Parts(
        "Your account has been frozen",
        f"You told us that recent activity on your account was not you. {protect}we have frozen your account: "
        "sign-in, trading and withdrawals are all stopped. Your assets remain held with us.",
        "Details",
        [("Time", v.time), v.reference()],
        f"To lift the freeze, call {v.ctx.support_phone}. We will verify your identity and guide you.",
    )


_PARTS: Final[dict[Language, Callable[[NoticeKind, _Values], _Parts]]] = {
    Language.JA: _ja_parts,
    Language.EN: _en_parts,
}


def render(kind: NoticeKind, ctx: NoticeContext, language: Language) -> RenderedText:
    """One language's subject and body. Raises ``ValueError`` if ``ctx`` lacks what ``kind`` needs."""
    return _render(kind, ctx, language)[1]


def _render(kind: NoticeKind, ctx: NoticeContext, language: Language) -> tuple[str, RenderedText]:
    kind, language = NoticeKind(kind), Language(language)
    v = _Values(ctx, language)
    parts = _PARTS[language](kind, v)
    ja = language is Language.JA
    if ja:
        subject = f"【{v.firm}】{parts.title}"
        greeting = f"{v.customer} 様" if v.customer else "お客様"
        thanks = f"いつも{v.firm}をご利用いただき、誠にありがとうございます。"
        heading = f"■ {parts.heading}"
        rows = [f"　{label}：{value}" for label, value in parts.details]
    else:
        subject = f"[{v.firm}] {parts.title}"
        greeting = f"Dear {v.customer}," if v.customer else "Dear customer,"
        thanks = f"This is a security notice from {v.firm}."
        heading = f"{parts.heading}:"
        rows = [f"  {label}: {value}" for label, value in parts.details]
    # Paragraphs are not hard-wrapped: most customers read on a phone, where the mail client wraps
    # to the screen, and a line wrapped at 72 columns would break again into ragged halves.
    body = "\n\n".join(
        [
            greeting,
            f"{thanks}\n{parts.intro}" if ja else f"{thanks} {parts.intro}",
            "\n".join([heading, *rows]),
            parts.after,
            _guidance(kind, ctx.support_phone, language),
        ]
    )
    return parts.title, RenderedText(language, subject, body)


def build_notice(kind: NoticeKind, ctx: NoticeContext, recipient: Recipient) -> Notice:
    """Render ``kind`` in Japanese and English for ``recipient``.

    Raises ``ValueError`` if the rendered text contains a link after all (a bug, never sent)."""
    kind = NoticeKind(kind)
    (_, ja), (title_en, en) = _render(kind, ctx, Language.JA), _render(kind, ctx, Language.EN)
    notice = Notice(kind, ctx.reference, recipient, ctx.occurred_at, ja, en, f"{ja.subject} / {title_en}")
    findings = find_links(notice.subject + "\n" + notice.text())
    if findings:
        raise ValueError(f"notice {kind} would contain links: {[f.text for f in findings]}")
    return notice
