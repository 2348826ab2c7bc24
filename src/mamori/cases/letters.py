"""Letters and notices to victims of an account takeover, in Japanese and English, with no links.

The FSA and the Japan Securities Dealers Association asked firms in 2025 never to put links in what
they send customers (phishing mails copy the firms' notices; see :mod:`mamori.notify.linkcheck`). A
letter therefore gives the case reference, what happened in plain words, what the firm is doing,
the date of the next contact and the support phone number, and nothing a reader could follow.

Text the analyst typed (the customer's name, a personal paragraph) is checked with
:func:`~mamori.notify.linkcheck.find_links`: a letter is refused (:class:`LetterRefused`, naming the
field) rather than sent with a link or an address in it. The rendered letter is checked again as a
whole; a finding there is a bug and raises ``ValueError``.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

from mamori.cases.model import CaseState, CompensationStatus, reference
from mamori.notify.linkcheck import find_links
from mamori.notify.templates import Language, format_time

_PHONE_RE: Final = re.compile(r"\+?[0-9][0-9\- ()]{5,22}[0-9]")
MAX_NAME: Final = 60
MAX_MESSAGE: Final = 2000


class LetterRefused(Exception):
    """A value the analyst typed cannot go into a letter (a link, an address, a control character)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


@dataclass(frozen=True, slots=True)
class Firm:
    """The firm's name and the phone number letters tell customers to call (trusted configuration)."""

    name_ja: str
    name_en: str
    support_phone: str

    def __post_init__(self) -> None:
        for label, value in (("firm name", self.name_ja), ("English firm name", self.name_en)):
            if not value.strip() or len(value) > 60 or find_links(value, strict=True):
                raise ValueError(f"the {label} must be 1-60 characters without links: {value!r}")
        if not _PHONE_RE.fullmatch(self.support_phone):
            raise ValueError(f"the support phone is not a phone number: {self.support_phone!r}")


@dataclass(frozen=True, slots=True)
class LetterFacts:
    """What a letter may say about a case (collected by the service from the case and its alerts)."""

    case_id: int
    takeover_confirmed: bool
    first_at_us: int
    activities: frozenset[str]
    """Of ``login``, ``sell``, ``buy``, ``withdrawal``, ``settings``, ``other``."""
    held: bool
    """Orders or withdrawals were held or blocked."""
    state: CaseState
    compensation: CompensationStatus | None
    next_contact_due_us: int | None


@dataclass(frozen=True, slots=True)
class Letter:
    language: Language
    reference: str
    subject: str
    body: str

    @property
    def sha256(self) -> str:
        return hashlib.sha256(f"{self.subject}\n{self.body}".encode()).hexdigest()


_ACTIVITIES: Final[dict[str, tuple[str, str]]] = {
    "login": ("普段とは異なる端末・通信環境からのログイン",
              "sign-ins from a device or network you do not normally use"),
    "sell": ("保有されている株式等の売却注文", "sell orders for your holdings"),
    "buy": ("株式の買付注文", "buy orders for shares"),
    "withdrawal": ("出金のご依頼", "withdrawal requests"),
    "settings": ("ご登録情報（連絡先・出金先口座など）の変更", "changes to your registered details (contact details, "
                 "withdrawal account)"),
    "other": ("その他のお取引・操作", "other operations"),
}
_COMPENSATION: Final[dict[CompensationStatus, tuple[str, str]]] = {
    CompensationStatus.ASSESSING: ("被害の有無と金額を確認しております。",
                                   "We are assessing whether you suffered a loss and how much."),
    CompensationStatus.OFFERED: ("補償の内容をご案内しております。", "We have sent you our compensation offer."),
    CompensationStatus.AGREED: ("ご了承いただいた内容に沿って、補償の手続きを進めております。",
                                "We are processing the compensation you agreed to."),
    CompensationStatus.PAID: ("補償のお支払いを完了いたしました。", "We have paid the compensation."),
    CompensationStatus.DECLINED: ("補償についてのご意向を承りました。", "We have noted your decision on compensation."),
}
_NO_LINK: Final = (
    "このお知らせにはリンク（URL）を記載しておりません。当社がメールやSMSでリンクをお送りすることはございません。"
    "お手続きは、公式アプリまたはブックマークに登録した当社ウェブサイトからお願いいたします。",
    "This letter contains no links. We will never send you a link by e-mail or SMS: please use the official app "
    "or the site you bookmarked.",
)


def check_free_text(field: str, value: str | None, *, max_len: int, multiline: bool) -> str | None:
    """``value`` stripped, or :class:`LetterRefused` if it is too long, has control characters or a link."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if len(value) > max_len:
        raise LetterRefused(field, f"{field} is longer than {max_len} characters")
    if any(not (ch.isprintable() or (multiline and ch == "\n")) for ch in value.replace("\r\n", "\n")):
        raise LetterRefused(field, f"{field} contains control characters")
    found = find_links(value)
    if found:
        kinds = sorted({f.kind.value for f in found})
        raise LetterRefused(field, f"{field} contains a link or address ({', '.join(kinds)}); letters carry none")
    return value.replace("\r\n", "\n")


def render_letter(facts: LetterFacts, firm: Firm, language: Language, *, customer_name: str | None = None,
                  message: str | None = None) -> Letter:
    """The letter for ``facts`` in ``language`` (see the module docstring for what it contains)."""
    name = check_free_text("customer_name", customer_name, max_len=MAX_NAME, multiline=False)
    note = check_free_text("message", message, max_len=MAX_MESSAGE, multiline=True)
    ja = language is Language.JA
    i = 0 if ja else 1
    ref = reference(facts.case_id)
    when = format_time(datetime.fromtimestamp(facts.first_at_us / 1e6, UTC), language)
    items = [_ACTIVITIES[a][i] for a in _ACTIVITIES if a in facts.activities] or [_ACTIVITIES["other"][i]]
    firm_name = firm.name_ja if ja else firm.name_en
    if ja:
        subject = f"【{firm_name}】お客様の口座に関する重要なお知らせ（受付番号 {ref}）"
        greeting = f"{name} 様" if name else "お客様"
        seen = ("第三者による不正なアクセスと見られる次の操作を確認いたしました。" if facts.takeover_confirmed
                else "通常とは異なる次の操作を検知いたしました。")
        intro = f"{when}ごろ、お客様の口座において、{seen}"
        happened = "\n".join(["■ 発生した事象", intro, *(f"　・{item}" for item in items)])
    else:
        subject = f"[{firm_name}] Important notice about your account (reference {ref})"
        greeting = f"Dear {name}," if name else "Dear customer,"
        intro = (f"Around {when}, we found the following activity on your account, which we believe was carried out "
                 "by someone else who had gained access to it:" if facts.takeover_confirmed else
                 f"Around {when}, we detected the following unusual activity on your account:")
        happened = "\n".join(["What happened:", intro, *(f"  - {item}" for item in items)])
    doing = [_doing(facts, ja)]
    if note:
        doing.append(("■ 担当者より\n" if ja else "A note from your case officer:\n") + note)
    paragraphs = [greeting, _thanks(firm_name, ja, ref), happened, *doing, _next(facts, firm, ja, ref), _NO_LINK[i]]
    letter = Letter(language, ref, subject, "\n\n".join(paragraphs) + "\n")
    findings = find_links(f"{letter.subject}\n{letter.body}")
    if findings:
        raise ValueError(f"letter for case {facts.case_id} would contain links: {[f.text for f in findings]}")
    return letter


def _thanks(firm_name: str, ja: bool, ref: str) -> str:
    if ja:
        return f"いつも{firm_name}をご利用いただき、誠にありがとうございます。\n受付番号：{ref}"
    return f"This letter from {firm_name} concerns your account. Reference: {ref}."


def _doing(facts: LetterFacts, ja: bool) -> str:
    i = 0 if ja else 1
    lines: list[str] = []
    if facts.held:
        lines.append(("不審な注文・出金等は当社で保留または停止し、実行されないようにいたしました。",
                      "We held or stopped the orders and withdrawals we judged suspicious, so that they were not "
                      "carried out.")[i])
    lines.append(("当社での調査は完了いたしました。", "We have completed our investigation.")[i]
                 if facts.state is CaseState.CLOSED else
                 ("現在、詳しい状況を調査しております。", "We are investigating what happened in detail.")[i])
    if facts.compensation is not None and facts.compensation in _COMPENSATION:
        lines.append(_COMPENSATION[facts.compensation][i])
    if facts.takeover_confirmed:
        lines.append(("念のため、パスワードの変更と、パスキー（生体認証によるログイン）の設定をお願いいたします。",
                      "As a precaution, please change your password and set up a passkey (sign-in with your "
                      "fingerprint or face).")[i])
    return ("■ 当社の対応\n" if ja else "What we are doing:\n") + ("\n".join(lines) if ja else " ".join(lines))


def _next(facts: LetterFacts, firm: Firm, ja: bool, ref: str) -> str:
    language = Language.JA if ja else Language.EN
    due = facts.next_contact_due_us
    when = "" if due is None else format_time(datetime.fromtimestamp(due / 1e6, UTC), language)
    if ja:
        nxt = f"{when}までに、当社の担当者より改めてご連絡いたします。" if when else \
            "今後の状況につきましては、担当者よりご連絡いたします。"
        return (f"■ 次回のご連絡\n{nxt}\n\n■ お問い合わせ\nお電話：{firm.support_phone}"
                f"（受付番号 {ref} をお伝えください）")
    nxt = f"We will contact you again by {when}." if when else "Your case officer will keep you informed."
    return f"Next contact: {nxt}\n\nQuestions: call {firm.support_phone} and quote reference {ref}."
