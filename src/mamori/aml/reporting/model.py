"""The report document: the items of a suspicious transaction report (疑わしい取引の届出).

The items follow 犯罪収益移転防止法施行令 第16条2項 (reporting entity, date and place of the
transactions, business line, property involved, what the entity knows of the 法第4条第1項 items,
the reasons) and the four sections of JAFIC's 「疑わしい取引の届出における入力要領」: 届出票
(:class:`ReportingEntity`, :class:`Filing`, :class:`Reasons`), 取引時確認情報 (:class:`Subject`),
口座情報 (:class:`Account`) and 取引情報 (:class:`Transaction`). JAFIC publishes no import schema for
its 事業者プログラム, so these are mamori's names; the export maps them to the program's labels.

Validation happens here (pydantic, at the edge): dates are ``YYYY-MM-DD`` and not in the future
where that matters, katakana fields hold only katakana (half-width kana are widened, NFKC), postal
codes ``NNN-NNNN``, nationalities ISO 3166-1 alpha-2, crypto addresses are checked for their chain.
Every message names the field and says what is expected in English and Japanese.
"""

from __future__ import annotations

import ipaddress
import re
import unicodedata
from datetime import date, datetime, timedelta, timezone
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Any, Final

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from mamori.aml.reference_cases import BY_ID
from mamori.aml.reporting.links import check_address, check_chain

JST: Final = timezone(timedelta(hours=9))
MAX_SUBJECTS: Final = 50
MAX_ACCOUNTS: Final = 100
MAX_TRANSACTIONS: Final = 5000
MAX_REASON_CHARS: Final = 20_000


class FilingKind(StrEnum):
    NEW = "new"
    ADDITIONAL = "additional"
    RELATED = "related"


class SubjectKind(StrEnum):
    INDIVIDUAL = "individual"
    CORPORATION = "corporation"


class OpeningChannel(StrEnum):
    FACE_TO_FACE = "face_to_face"
    NON_FACE_TO_FACE = "non_face_to_face"


class AccountStatus(StrEnum):
    ACTIVE = "active"
    FROZEN = "frozen"
    DORMANT = "dormant"
    CLOSED = "closed"


class TransactionKind(StrEnum):
    FIAT_DEPOSIT = "fiat_deposit"
    FIAT_WITHDRAWAL = "fiat_withdrawal"
    CRYPTO_DEPOSIT = "crypto_deposit"
    CRYPTO_WITHDRAWAL = "crypto_withdrawal"
    BUY = "buy"
    SELL = "sell"
    LOGIN = "login"
    SETTINGS_CHANGE = "settings_change"
    OTHER = "other"


LABELS_JA: Final[dict[str, str]] = {
    "new": "新規", "additional": "追加", "related": "関連",
    "individual": "個人", "corporation": "法人",
    "face_to_face": "対面", "non_face_to_face": "非対面",
    "active": "通常", "frozen": "凍結", "dormant": "休眠", "closed": "解約",
    "fiat_deposit": "日本円入金", "fiat_withdrawal": "日本円出金", "crypto_deposit": "暗号資産の受入れ（入庫）",
    "crypto_withdrawal": "暗号資産の移転（出庫）", "buy": "買付", "sell": "売却", "login": "ログイン",
    "settings_change": "登録情報の変更", "other": "その他",
}  # fmt: skip
"""The Japanese words the filing program's combo boxes use for mamori's codes."""


# -- field types ---------------------------------------------------------------------------------------
def _nfkc(value: Any) -> Any:
    """Canonical form for fields with a fixed alphabet (kana, Latin, codes): half-width kana widened,
    full-width digits and letters narrowed."""
    return unicodedata.normalize("NFKC", value).strip() if isinstance(value, str) else value


def _strip(value: Any) -> Any:
    """Free text keeps its characters (全角 stays 全角), only surrounding blanks go."""
    return value.strip() if isinstance(value, str) else value


_KATAKANA: Final = re.compile(r"[\u30A1-\u30FA\u30FC\u30FB\u30FD\u30FE ]+")
_LATIN: Final = re.compile(r"[A-Za-z][A-Za-z .,'\-]*")
_POSTAL: Final = re.compile(r"(\d{3})-?(\d{4})")
_PHONE: Final = re.compile(r"\+?[0-9][0-9\-() ]{5,20}")
_EMAIL: Final = re.compile(r"[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9\-.]{0,252}[A-Za-z0-9])?")
_COUNTRY: Final = re.compile(r"[A-Z]{2}")


def _katakana(value: str) -> str:
    value = re.sub(r"\s+", " ", value)  # NFKC already turned the full-width space into a plain one
    if not _KATAKANA.fullmatch(value):
        raise ValueError("must be katakana only (全角カタカナで入力してください)")
    return value


def _latin(value: str) -> str:
    if not _LATIN.fullmatch(value):
        raise ValueError("must be Latin letters, spaces and . , ' - only (英字で入力してください)")
    return re.sub(r"\s+", " ", value)


def _postal(value: str) -> str:
    match = _POSTAL.fullmatch(value)
    if match is None:
        raise ValueError("must be a Japanese postal code NNN-NNNN (郵便番号は7桁で入力してください)")
    return f"{match[1]}-{match[2]}"


def _phone(value: str) -> str:
    if not _PHONE.fullmatch(value):
        raise ValueError("must be a phone number: digits, hyphens, parentheses, optional leading + "
                         "(電話番号の形式ではありません)")
    return value


def _email(value: str) -> str:
    if not _EMAIL.fullmatch(value):
        raise ValueError("must be an e-mail address (メールアドレスの形式ではありません)")
    return value


def _country(value: str) -> str:
    value = value.upper()
    if not _COUNTRY.fullmatch(value):
        raise ValueError("must be an ISO 3166-1 alpha-2 country code such as JP (国コード2文字)")
    return value


def _today_jst() -> date:
    return datetime.now(JST).date()


def _date(value: str) -> str:
    try:
        parsed = date.fromisoformat(value)
    except ValueError:
        raise ValueError("must be a date YYYY-MM-DD (日付はYYYY-MM-DDで入力してください)") from None
    if not 1900 <= parsed.year <= 2200 or len(value) != 10:
        raise ValueError("must be a date YYYY-MM-DD between 1900 and 2200 (日付の範囲外です)")
    return parsed.isoformat()


def _past_date(value: str) -> str:
    value = _date(value)
    if date.fromisoformat(value) > _today_jst():
        raise ValueError("must not be in the future (未来の日付は入力できません)")
    return value


def _ip(value: str) -> str:
    try:
        return str(ipaddress.ip_address(value))
    except ValueError:
        raise ValueError("must be an IPv4 or IPv6 address (IPアドレスの形式ではありません)") from None


Text40 = Annotated[str, BeforeValidator(_strip), Field(min_length=1, max_length=40)]
Text100 = Annotated[str, BeforeValidator(_strip), Field(min_length=1, max_length=100)]
Text200 = Annotated[str, BeforeValidator(_strip), Field(min_length=1, max_length=200)]
Text500 = Annotated[str, BeforeValidator(_strip), Field(min_length=1, max_length=500)]
Kana = Annotated[str, BeforeValidator(_nfkc), Field(min_length=1, max_length=100), AfterValidator(_katakana)]
Latin = Annotated[str, BeforeValidator(_nfkc), Field(min_length=1, max_length=100), AfterValidator(_latin)]
PostalCode = Annotated[str, BeforeValidator(_nfkc), Field(max_length=10), AfterValidator(_postal)]
Phone = Annotated[str, BeforeValidator(_nfkc), Field(max_length=24), AfterValidator(_phone)]
Email = Annotated[str, BeforeValidator(_nfkc), Field(max_length=254), AfterValidator(_email)]
Country = Annotated[str, BeforeValidator(_nfkc), Field(max_length=2), AfterValidator(_country)]
Day = Annotated[str, BeforeValidator(_nfkc), Field(max_length=10), AfterValidator(_date)]
PastDay = Annotated[str, BeforeValidator(_nfkc), Field(max_length=10), AfterValidator(_past_date)]
Ip = Annotated[str, Field(max_length=45), AfterValidator(_ip)]
Amount = Annotated[Decimal, Field(ge=0, max_digits=30, decimal_places=18, allow_inf_nan=False)]
Identifier = Annotated[str, Field(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@/+=-]*$")]
Chain = Annotated[str, Field(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9_-]+$"), AfterValidator(check_chain)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", str_max_length=20_000)


# -- 届出票 ---------------------------------------------------------------------------------------------
class ReportingEntity(_Section):
    """特定事業者 (施行令16条2項1号): who files, and who answers questions about the filing."""

    name: Text200 | None = None
    representative: Text100 | None = None
    head_office_postal_code: PostalCode | None = None
    head_office_address: Text200 | None = None
    person_in_charge: Text100 | None = None
    department: Text100 | None = None
    branch: Text100 | None = None
    title: Text100 | None = None
    branch_postal_code: PostalCode | None = None
    branch_address: Text200 | None = None
    phone: Phone | None = None
    extension: Annotated[str, Field(max_length=10, pattern=r"^[0-9]+$")] | None = None


class Filing(_Section):
    """The filing itself: number, kind, the date and place of the transactions (施行令16条2項2号),
    the business line (3号), the property involved (4号) and the attachments."""

    filed_on: Day | None = None
    number_year: int | None = Field(default=None, ge=1989, le=2200)
    number: Annotated[str, Field(max_length=20, pattern=r"^[A-Za-z0-9-]+$")] | None = None
    kind: FilingKind = FilingKind.NEW
    related_number: Annotated[str, Field(max_length=40, pattern=r"^[A-Za-z0-9-]+$")] | None = None
    occurred_from: PastDay | None = None
    occurred_to: PastDay | None = None
    place: Text200 | None = None
    business_line: Text200 | None = None
    property: Text500 | None = None
    attachments: list[Text200] = Field(default_factory=list, max_length=100)

    @model_validator(mode="after")
    def _consistent(self) -> Filing:
        if self.kind is not FilingKind.NEW and not self.related_number:
            raise ValueError("related_number is required for an additional or related filing "
                             "(追加・関連の届出には関連する届出番号が必要です)")
        if self.occurred_from and self.occurred_to and self.occurred_from > self.occurred_to:
            raise ValueError("occurred_from must not be after occurred_to (発生期間の開始日が終了日より後です)")
        return self


class ReferenceCaseRef(_Section):
    """A reference case the report cites, with the FSA category number the program asks for."""

    id: str
    category: int | None = None

    @model_validator(mode="after")
    def _known(self) -> ReferenceCaseRef:
        case = BY_ID.get(self.id)
        if case is None:
            raise ValueError(f"unknown reference case {self.id!r}; known: {', '.join(BY_ID)}")
        self.category = case.category
        return self


class Reasons(_Section):
    """届出を行う理由 (施行令16条2項6号): the why, with the facts (5W1H), and the reference cases."""

    text: Annotated[str, Field(max_length=MAX_REASON_CHARS)] = ""
    reference_cases: list[ReferenceCaseRef] = Field(default_factory=list, max_length=40)
    rule_ids: list[Annotated[str, Field(max_length=64)]] = Field(default_factory=list, max_length=200)
    auto_drafted: bool = False
    """True while the text is mamori's draft; set to False by any edit of the text."""


# -- 取引時確認情報 -----------------------------------------------------------------------------------------
class Subject(_Section):
    """取引時確認 items (法第4条第1項) of one person or corporation: personal data, encrypted at rest."""

    kind: SubjectKind = SubjectKind.INDIVIDUAL
    account_ids: list[Identifier] = Field(default_factory=list, max_length=MAX_ACCOUNTS)
    name_kanji: Text100 | None = None
    name_kana: Kana | None = None
    name_latin: Latin | None = None
    birth_date: PastDay | None = None
    gender: Annotated[str, Field(pattern=r"^(male|female|other|unknown)$")] | None = None
    postal_code: PostalCode | None = None
    address: Text200 | None = None
    nationality: Country | None = None
    occupation: Text100 | None = None
    purpose: Text200 | None = None
    verified_on: PastDay | None = None
    verification_method: Text100 | None = None
    id_document_type: Text100 | None = None
    id_document_number: Annotated[str, Field(max_length=40)] | None = None
    phone: Phone | None = None
    email: Email | None = None
    foreign_pep: bool | None = None
    beneficial_owner: Text200 | None = None

    @model_validator(mode="after")
    def _birth_before_verification(self) -> Subject:
        if self.birth_date and self.verified_on and self.birth_date > self.verified_on:
            raise ValueError("birth_date is after verified_on (生年月日が確認日より後です)")
        return self


# -- 口座情報 ----------------------------------------------------------------------------------------------
class DepositAddress(_Section):
    chain: Chain
    address: Annotated[str, Field(min_length=1, max_length=128)]

    @field_validator("address")
    @classmethod
    def _valid(cls, value: str, info: ValidationInfo) -> str:
        chain = info.data.get("chain")
        return value if chain is None else check_address(chain, value)


class Account(_Section):
    account_id: Identifier
    """The customer number (顧客番号) / account number."""
    opened_on: PastDay | None = None
    account_type: Text40 | None = None
    channel: OpeningChannel | None = None
    status: AccountStatus | None = None
    deposit_addresses: list[DepositAddress] = Field(default_factory=list, max_length=200)


# -- 取引情報 ----------------------------------------------------------------------------------------------
class Transaction(_Section):
    at: AwareDatetime
    kind: TransactionKind
    account_id: Identifier | None = None
    amount: Amount | None = None
    currency: Annotated[str, Field(pattern=r"^[A-Z]{3}$")] | None = None
    amount_jpy: Amount | None = None
    asset: Annotated[str, Field(max_length=16, pattern=r"^[A-Za-z0-9.]+$")] | None = None
    quantity: Amount | None = None
    chain: Chain | None = None
    from_address: Annotated[str, Field(max_length=128)] | None = None
    to_address: Annotated[str, Field(max_length=128)] | None = None
    tx_hash: Annotated[str, Field(max_length=128, pattern=r"^[A-Za-z0-9:x_-]+$")] | None = None
    counterparty: Text200 | None = None
    channel: Annotated[str, Field(max_length=32)] | None = None
    ip: Ip | None = None
    device_id: Annotated[str, Field(max_length=128)] | None = None
    note: Text200 | None = None
    """摘要: what the row is (a setting changed, a login's method), or an address that failed its check."""
    event_id: Annotated[str, Field(max_length=128)] | None = None
    rule_ids: list[Annotated[str, Field(max_length=64)]] = Field(default_factory=list, max_length=50)

    @field_validator("from_address", "to_address")
    @classmethod
    def _address(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        chain = info.data.get("chain")
        if chain is None:
            raise ValueError("an address needs the chain (アドレスにはチェーンの指定が必要です)")
        return check_address(chain, value)


# -- the document -------------------------------------------------------------------------------------------
class ReportDocument(_Section):
    """Everything a report says. Stored encrypted as one JSON document per version."""

    entity: ReportingEntity = Field(default_factory=ReportingEntity)
    filing: Filing = Field(default_factory=Filing)
    subjects: list[Subject] = Field(default_factory=list, max_length=MAX_SUBJECTS)
    accounts: list[Account] = Field(default_factory=list, max_length=MAX_ACCOUNTS)
    transactions: list[Transaction] = Field(default_factory=list, max_length=MAX_TRANSACTIONS)
    reasons: Reasons = Field(default_factory=Reasons)

    def to_json(self) -> dict[str, Any]:
        return self.model_dump(mode="json")


SECTIONS: Final = tuple(ReportDocument.model_fields)
"""The document's top-level sections (a ``PUT`` replaces the sections it names)."""
