"""Customer notices (suspicious login, lock, held order/withdrawal, settings change, freeze) in
Japanese and English, with no links, and the senders that deliver them (SMTP, signed webhook).

Following the FSA's 2025 guidance after the online-brokerage account takeovers, a notice tells the
customer what happened and to use the official app, a bookmarked site or the support phone number;
it never carries a URL, domain, email address or full IP address (:mod:`.linkcheck` proves it).

* :mod:`.templates` - :class:`NoticeContext`, :func:`build_notice`, the texts;
* :mod:`.linkcheck` - :func:`find_links` (URLs, domains, addresses, full-width and defanged forms);
* :mod:`.sanitize` - how attacker-influenced values are neutralised, IP masking;
* :mod:`.sender` - :class:`SmtpNoticeSender`, :class:`WebhookNoticeSender`, :func:`send_all`.
"""

from mamori.notify.linkcheck import Finding, LinkKind, find_links, has_links
from mamori.notify.sanitize import REDACTED, mask_ip, sanitize_value
from mamori.notify.sender import (
    NoticeSender,
    SendResult,
    SmtpNoticeSender,
    WebhookNoticeSender,
    send_all,
    verify_signature,
)
from mamori.notify.templates import (
    JST,
    Language,
    Notice,
    NoticeContext,
    NoticeKind,
    OrderInfo,
    OrderSide,
    Recipient,
    RenderedText,
    SettingItem,
    WithdrawalInfo,
    build_notice,
    format_time,
    render,
)

__all__ = [
    "JST",
    "REDACTED",
    "Finding",
    "Language",
    "LinkKind",
    "Notice",
    "NoticeContext",
    "NoticeKind",
    "NoticeSender",
    "OrderInfo",
    "OrderSide",
    "Recipient",
    "RenderedText",
    "SendResult",
    "SettingItem",
    "SmtpNoticeSender",
    "WebhookNoticeSender",
    "WithdrawalInfo",
    "build_notice",
    "find_links",
    "format_time",
    "has_links",
    "mask_ip",
    "render",
    "sanitize_value",
    "send_all",
    "verify_signature",
]
