"""The FSA's reference cases of suspicious transactions for crypto-asset exchangers.

金融庁「疑わしい取引の参考事例」（暗号資産交換業者）, added on 2019-04-01 in six categories:
第1 現金の使用形態, 第2 真の口座保有者の隠匿, 第3 口座の利用形態, 第4 取引の形態, 第5 外国との取引,
第6 その他. The FSA publishes them as patterns to watch, not as automatic reports: whether a
transaction is suspicious is judged on the customer's attributes, the circumstances and everything
the firm knows, and a transaction outside these patterns must still be reported when the firm
judges it suspicious.

The numbers ``C1`` … ``C17`` are mamori's stable identifiers for the published examples (the FSA
list itself numbers them within each category); ``category`` is the FSA's category number, which
the filing program asks for. ``F1`` … ``F3`` are typologies of the 2024–2025 fraud wave (SNS
investment and romance scams, third-party deposits, online casinos) that the 2019 list does not
name; they are marked ``fsa_listed=False`` and reports cite them by their nearest FSA category.

Paraphrased titles; see ``shared/research/anchors-mail-intel-str.md`` §4.3 for the sources.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final


@dataclass(frozen=True, slots=True)
class ReferenceCase:
    id: str
    category: int
    """The FSA's category (1–6)."""
    title_ja: str
    title_en: str
    non_face_to_face: bool = False
    """An online (non-face-to-face) signal, which the FSA now stresses."""
    fsa_listed: bool = True
    """False for fraud-era typologies that the FSA's 2019 list does not name."""


CATEGORIES: Final[dict[int, tuple[str, str]]] = {
    1: ("現金の使用形態に着目した事例", "Use of cash"),
    2: ("真の口座保有者を隠匿している可能性に着目した事例", "Concealment of the true account holder"),
    3: ("口座の利用形態に着目した事例", "How the account is used"),
    4: ("取引の形態に着目した事例", "Form of the transactions"),
    5: ("外国との取引に着目した事例", "Transactions with foreign countries"),
    6: ("その他の事例", "Other"),
}

REFERENCE_CASES: Final[tuple[ReferenceCase, ...]] = (
    ReferenceCase("C1", 1, "多額の現金による暗号資産の購入（収入・資産に見合わないもの）",
                  "Buying crypto-assets with large amounts of cash out of line with income or assets"),
    ReferenceCase("C2", 1, "敷居値を若干下回る取引の頻繁な実施",
                  "Repeated transactions just below the confirmation threshold (structuring)"),
    ReferenceCase("C3", 1, "多量の少額紙幣・硬貨による暗号資産の購入",
                  "Buying crypto-assets with many small-denomination notes or coins"),
    ReferenceCase("C4", 2, "多数の口座を保有している顧客の口座を使用した入出金・売買",
                  "Deposits, withdrawals or trades on the accounts of a customer who holds many accounts"),
    ReferenceCase("C5", 2, "氏名・住所が異なる複数の顧客が同一のIPアドレスからアクセス",
                  "Customers with different names and addresses accessing from the same IP address",
                  non_face_to_face=True),
    ReferenceCase("C6", 2, "国内居住の顧客であるにもかかわらず、ログイン時のIPアドレスが国外である、"
                  "またはブラウザの言語が外国語である取引",
                  "A resident customer logging in from a foreign IP address or with a foreign browser "
                  "language without good reason", non_face_to_face=True),
    ReferenceCase("C7", 5, "マネロン・テロ資金供与対策に非協力的な国・地域に拠点を置く者との取引",
                  "Transactions with parties in countries or regions that do not cooperate on AML/CFT"),
    ReferenceCase("C8", 6, "窃取された暗号資産であることが判明したものの取引",
                  "Dealing in crypto-assets known to be stolen"),
    ReferenceCase("C9", 6, "自社従業員が犯罪に関与している疑いのある取引",
                  "Transactions in which the firm's own employee is suspected of a crime"),
    ReferenceCase("C10", 4, "顧客の収入・資産等に見合わない高額な取引",
                  "Transactions not commensurate with the customer's income or assets"),
    ReferenceCase("C11", 4, "匿名化技術（ミキサー等）を利用した取引",
                  "Transactions using anonymisation technology (mixers, privacy coins)"),
    ReferenceCase("C12", 4, "多数のアドレスから暗号資産を受領し、または多数のアドレスへ送付している"
                  "アドレスの保有者との取引",
                  "Dealing with holders of addresses that receive from many addresses or send to many "
                  "addresses", non_face_to_face=True),
    ReferenceCase("C13", 3, "口座開設後短期間で多額・頻繁な入出金が行われ、その後解約・休眠となる口座",
                  "Large or frequent flows shortly after opening, then closure or dormancy"),
    ReferenceCase("C14", 4, "入庫された暗号資産を直ちに別のアドレスへ送付する取引（通過的な利用）",
                  "Crypto-assets received and sent on again at once (pass-through)"),
    ReferenceCase("C15", 2, "架空名義・借名口座であるとの疑いが生じた口座を使用した取引",
                  "Accounts suspected to be fictitious or opened in a borrowed name"),
    ReferenceCase("C16", 6, "取引時確認に必要な情報の提供を拒む、または虚偽の疑いがある顧客の取引",
                  "Customers who refuse the information customer due diligence needs, or seem to give "
                  "false information"),
    ReferenceCase("C17", 6, "公的機関等から照会・情報提供があった取引",
                  "Transactions about which the police or another public body made an inquiry"),
    ReferenceCase("F1", 4, "暗号資産の初回購入後、全額を直ちに外部アドレスへ送付する取引"
                  "（SNS型投資・ロマンス詐欺の被害の疑い）",
                  "A first-time buyer sends everything to an external address at once (victim of an SNS "
                  "investment or romance scam)", non_face_to_face=True, fsa_listed=False),
    ReferenceCase("F2", 2, "口座名義と異なる振込依頼人名からの入金、または複数の被害者からの入金",
                  "Fiat deposits from a remitter other than the account holder, or from several victims",
                  fsa_listed=False),
    ReferenceCase("F3", 6, "オンラインカジノへの支払いと認められる送付",
                  "Transfers that pay an online casino (illegal in Japan)", fsa_listed=False),
)

BY_ID: Final[dict[str, ReferenceCase]] = {case.id: case for case in REFERENCE_CASES}


def reference_case(case_id: str) -> ReferenceCase:
    """The reference case ``case_id`` (``KeyError`` names it when unknown)."""
    try:
        return BY_ID[case_id]
    except KeyError:
        raise KeyError(f"unknown reference case {case_id!r}; known: {', '.join(BY_ID)}") from None
