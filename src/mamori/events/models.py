"""The event contract, version 1: what the trading site, wallet and login service send to mamori.

Every event shares the envelope (:class:`EventBase`): an ``id`` that makes it idempotent (the same
id twice is processed once), the ``occurred_at`` time at the source (events are placed by this time,
even when they arrive late), the customer ``account_id`` and optional client context (IP, user
agent, device, session). Each type adds its own fields. ``mamori schema`` prints the JSON Schema;
``docs/events.md`` documents every field and a test keeps it complete.

Money and quantities are ``Decimal`` (send them as JSON strings or integers to keep them exact);
times must carry a timezone offset (``Z`` or ``+09:00``).
"""

from __future__ import annotations

import ipaddress
import re
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
)

SCHEMA_VERSION = 1

Identifier = Annotated[
    str,
    StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9][A-Za-z0-9._:@/+=-]*$"),
]
ShortText = Annotated[str, StringConstraints(min_length=1, max_length=64)]
Symbol = Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=r"^[A-Za-z0-9._:-]+$")]
PositiveDecimal = Annotated[Decimal, Field(gt=0, allow_inf_nan=False, max_digits=38)]
NonNegativeDecimal = Annotated[Decimal, Field(ge=0, allow_inf_nan=False, max_digits=38)]
Currency = Annotated[str, StringConstraints(pattern=r"^[A-Z]{3}$")]


def _canonical_ip(value: str) -> str:
    """Reject anything that is not an IPv4 or IPv6 literal; return its canonical text form."""
    try:
        return str(ipaddress.ip_address(value.strip()))
    except ValueError:
        raise ValueError("not a valid IPv4 or IPv6 address") from None


_DATE_PREFIX = re.compile(r"\s*\d{4}-\d{2}-\d{2}")


def _rfc3339_text(value: object) -> object:
    """Only RFC 3339 text (or a ``datetime``) is a timestamp: pydantic would otherwise read numbers and
    numeric strings as Unix times, guessing seconds or milliseconds, which the contract does not allow."""
    if isinstance(value, datetime) or (isinstance(value, str) and _DATE_PREFIX.match(value)):
        return value
    raise ValueError("timestamp must be an RFC 3339 string with a timezone offset, "
                     "e.g. '2024-04-01T09:30:00+09:00'")


def _not_bool(value: object) -> object:
    """JSON ``true`` is not the number 1 (pydantic's ``Literal[1]`` would accept it)."""
    if isinstance(value, bool):
        raise ValueError("must be the integer 1")
    return value


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError("timestamp must include a timezone offset (e.g. 'Z' or '+09:00')")
    return value


IpAddress = Annotated[str, StringConstraints(max_length=64), AfterValidator(_canonical_ip)]
AwareDatetime = Annotated[datetime, BeforeValidator(_rfc3339_text), AfterValidator(_aware)]
ContractVersion = Annotated[Literal[1], BeforeValidator(_not_bool)]


class LoginResult(StrEnum):
    success = "success"
    failure = "failure"


class AuthMethod(StrEnum):
    password = "password"  # noqa: S105 (a method name, not a secret)
    passkey = "passkey"
    totp = "totp"
    sms_otp = "sms_otp"
    email_otp = "email_otp"


class Setting(StrEnum):
    email = "email"
    phone = "phone"
    password = "password"  # noqa: S105 (a setting name, not a secret)
    mfa_device = "mfa_device"
    withdrawal_account = "withdrawal_account"
    address = "address"


class SettingChange(StrEnum):
    added = "added"
    removed = "removed"
    updated = "updated"


class Side(StrEnum):
    buy = "buy"
    sell = "sell"


class OrderType(StrEnum):
    market = "market"
    limit = "limit"
    stop = "stop"
    stop_limit = "stop_limit"


class EventBase(BaseModel):
    """Fields every event carries."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    id: Identifier = Field(description="Unique event id chosen by the sender; resending the same id is "
                           "idempotent (the first decision is returned).")
    version: ContractVersion = Field(default=1, description="Event contract version. Only 1 exists.")
    occurred_at: AwareDatetime = Field(description="When it happened at the source (RFC 3339 with offset). "
                                       "Late events are placed by this time.")
    account_id: Identifier = Field(description="The customer account the event belongs to (for a login "
                                   "attempt on an unknown user: the login id that was tried).")
    ip: IpAddress | None = Field(default=None, description="Client IP address as seen by the firm's edge.")
    user_agent: str | None = Field(default=None, max_length=512, description="Client User-Agent header.")
    device_id: Identifier | None = Field(default=None, description="Stable device identifier from the "
                                         "firm's app or device-fingerprint service.")
    session_id: Identifier | None = Field(default=None, description="Session the action belongs to.")
    channel: Literal["web", "app", "api", "branch", "call_center"] | None = Field(
        default=None, description="Channel the customer used.")


class LoginAttempt(EventBase):
    """A customer tried to authenticate (one event per factor attempt)."""

    type: Literal["login"] = Field(description="Event type.")
    result: LoginResult = Field(description="Whether this authentication step succeeded.")
    method: AuthMethod = Field(description="Authentication factor used in this attempt.")
    failure_reason: Literal["bad_credential", "unknown_account", "bad_otp", "expired_otp", "locked",
                            "other"] | None = Field(default=None,
                                                    description="Why it failed (failures only).")


class Logout(EventBase):
    """A session ended."""

    type: Literal["logout"] = Field(description="Event type.")


class SettingsChange(EventBase):
    """A change to the account's contact, credential or payout settings."""

    type: Literal["settings_change"] = Field(description="Event type.")
    setting: Setting = Field(description="Which setting changed.")
    change: SettingChange = Field(default=SettingChange.updated,
                                  description="added / removed (MFA devices, accounts) or updated.")
    new_value_fingerprint: Identifier | None = Field(
        default=None, description="Keyed hash of the new value (never the value itself), so repeated "
        "use of one new email, phone or bank account across customers can be linked.")


class Order(EventBase):
    """A new order, sent before the order system accepts it."""

    type: Literal["order"] = Field(description="Event type.")
    order_id: Identifier = Field(description="The order system's id for this order.")
    side: Side = Field(description="buy or sell.")
    symbol: Symbol = Field(description="Security code, e.g. '7203' or a ticker.")
    market: ShortText = Field(description="Market or venue, e.g. 'TSE', 'PTS', 'NSE'.")
    quantity: PositiveDecimal = Field(description="Number of shares or units.")
    price: PositiveDecimal | None = Field(default=None, description="Limit price; absent for market orders.")
    order_type: OrderType = Field(description="market, limit, stop or stop_limit.")
    reference_price: PositiveDecimal | None = Field(
        default=None, description="Last traded price the firm used to value a market order.")
    currency: Currency = Field(default="JPY", description="ISO 4217 currency of the prices.")
    account_type: Literal["cash", "margin", "nisa", "specific", "general"] | None = Field(
        default=None, description="Sub-account the order trades in.")


class OrderCancel(EventBase):
    """An order cancellation."""

    type: Literal["order_cancel"] = Field(description="Event type.")
    order_id: Identifier = Field(description="Id of the cancelled order.")
    symbol: Symbol | None = Field(default=None, description="Security code of the cancelled order.")


class Execution(EventBase):
    """A fill of an order (full or partial)."""

    type: Literal["execution"] = Field(description="Event type.")
    execution_id: Identifier = Field(description="The venue's or order system's id of this fill.")
    order_id: Identifier = Field(description="Order that was filled.")
    side: Side = Field(description="buy or sell.")
    symbol: Symbol = Field(description="Security code.")
    market: ShortText = Field(description="Market or venue.")
    quantity: PositiveDecimal = Field(description="Filled quantity.")
    price: PositiveDecimal = Field(description="Fill price.")
    currency: Currency = Field(default="JPY", description="ISO 4217 currency of the price.")


class FiatTransfer(EventBase):
    """Fields shared by fiat deposits and withdrawals."""

    transfer_id: Identifier = Field(description="The firm's id for this transfer.")
    amount: PositiveDecimal = Field(description="Amount in the currency's major unit (yen for JPY).")
    currency: Currency = Field(default="JPY", description="ISO 4217 currency.")
    bank_account_fingerprint: Identifier | None = Field(
        default=None, description="Keyed hash of the counterparty bank account (never the number itself).")


class FiatDeposit(FiatTransfer):
    """Money arrived in the customer's account."""

    type: Literal["fiat_deposit"] = Field(description="Event type.")


class FiatWithdrawal(FiatTransfer):
    """A withdrawal request, sent before funds leave."""

    type: Literal["fiat_withdrawal"] = Field(description="Event type.")


class CryptoTransfer(EventBase):
    """Fields shared by crypto-asset deposits and withdrawals."""

    transfer_id: Identifier = Field(description="The exchange's id for this transfer.")
    asset: Annotated[str, StringConstraints(min_length=1, max_length=16, pattern=r"^[A-Za-z0-9.]+$")] = Field(
        description="Asset ticker, e.g. 'BTC', 'ETH', 'USDT'.")
    chain: Annotated[str, StringConstraints(min_length=1, max_length=32, pattern=r"^[a-z0-9_-]+$")] = Field(
        description="Chain or network, e.g. 'bitcoin', 'ethereum', 'tron'.")
    address: Annotated[str, StringConstraints(min_length=1, max_length=128,
                                              pattern=r"^[A-Za-z0-9:._-]+$")] = Field(
        description="Counterparty address: destination of a withdrawal, source of a deposit.")
    amount: PositiveDecimal = Field(description="Amount in the asset's unit (e.g. BTC, not satoshi).")
    amount_jpy: NonNegativeDecimal | None = Field(default=None, description="Value in yen at the time.")
    tx_hash: Annotated[str, StringConstraints(max_length=128)] | None = Field(
        default=None, description="On-chain transaction hash, when known.")
    memo: Annotated[str, StringConstraints(max_length=128)] | None = Field(
        default=None, description="Destination tag or memo, for chains that use one.")


class CryptoDeposit(CryptoTransfer):
    """Crypto-assets arrived at the customer's deposit address."""

    type: Literal["crypto_deposit"] = Field(description="Event type.")


class CryptoWithdrawal(CryptoTransfer):
    """A crypto withdrawal request, sent before it is broadcast."""

    type: Literal["crypto_withdrawal"] = Field(description="Event type.")


class Position(BaseModel):
    """One security held, as one line of a holdings snapshot."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)

    symbol: Symbol = Field(description="Security code.")
    quantity: NonNegativeDecimal = Field(description="Quantity held.")
    market_value_jpy: NonNegativeDecimal | None = Field(default=None, description="Value in yen.")


class HoldingsSnapshot(EventBase):
    """The account's positions as the firm's books show them (sent daily or at first use), so that
    sell-out detection knows what the customer holds. Replaces earlier positions."""

    type: Literal["holdings_snapshot"] = Field(description="Event type.")
    positions: list[Position] = Field(max_length=10_000, description="Every position held.")


class AccountUnlock(EventBase):
    """An operator lifted a lock after identifying the customer again (the only way to end a
    permanent lock). mamori's own unlock API sends this event; a firm whose own back office unlocks
    accounts sends it too, so that mamori's lock state follows."""

    type: Literal["account_unlock"] = Field(description="Event type.")
    operator_id: Identifier = Field(description="The operator who unlocked the account.")
    reason: Literal["reidentified", "false_positive"] = Field(
        description="reidentified: the customer proved their identity again (e.g. a call-back to the "
        "registered phone and ID check); false_positive: the lock was not caused by an attack.")
    reference: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = Field(
        default=None, description="The firm's ticket or case reference for the re-identification.")


class AccountFreeze(EventBase):
    """The account is frozen: every login, order, withdrawal and settings change is refused until an
    operator unlocks it after identifying the customer again (``account_unlock``). Sent by mamori's
    "this was not me" and freeze APIs, or by the firm's own back office."""

    type: Literal["account_freeze"] = Field(description="Event type.")
    reason: Literal["customer_reported_not_me", "operator", "fraud_confirmed"] = Field(
        description="customer_reported_not_me: the customer said a login or action was not theirs; "
        "operator: an analyst froze it; fraud_confirmed: an investigation confirmed a takeover.")
    operator_id: Identifier | None = Field(default=None, description="The operator, for operator freezes.")
    reference: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = Field(
        default=None, description="The event, notice or case the freeze refers to.")


class AccountProfile(EventBase):
    """The account's segment and the trading limits the customer chose for themselves (they can
    only lower the firm's limits). Send it when the account opens and whenever either changes."""

    type: Literal["account_profile"] = Field(description="Event type.")
    segment: Identifier | None = Field(default=None, description="The firm's customer segment, e.g. "
                                       "'retail', 'nisa', 'senior', 'corporate' (selects segment limits).")
    per_order_limit_jpy: NonNegativeDecimal | None = Field(
        default=None, description="Customer-chosen cap on one order's value, in yen.")
    daily_buy_limit_jpy: NonNegativeDecimal | None = Field(
        default=None, description="Customer-chosen cap on the yen value bought per day (JST).")
    daily_sell_limit_jpy: NonNegativeDecimal | None = Field(
        default=None, description="Customer-chosen cap on the yen value sold per day (JST).")


FIRM_CONTROLS_ACCOUNT = "firm-controls"
"""The ``account_id`` of firm-wide control events (``firm_block``): they belong to no customer."""


def _block_value(value: str, info: ValidationInfo) -> str:
    """A network as its canonical CIDR (host bits cleared), a symbol as sent (checked like ``symbol``)."""
    target = info.data.get("target")
    if target is None:
        return value  # the target itself is invalid and reported; nothing to check this against
    if target == "network":
        try:
            return str(ipaddress.ip_network(value.strip(), strict=False))
        except ValueError:
            raise ValueError("not an IPv4 or IPv6 network in CIDR form (e.g. '203.0.113.0/24')") from None
    if not re.fullmatch(r"[A-Za-z0-9._:-]{1,32}", value):
        raise ValueError("not a symbol: 1-32 of A-Z a-z 0-9 . _ : -")
    return value


class FirmBlock(EventBase):
    """A firm-wide block of a source network or a symbol, or its lifting: while a network is blocked,
    logins, orders, withdrawals and settings changes from it are refused; while a symbol is blocked,
    buy orders for it are refused and sell orders held for review. Sent by mamori's four-eyes actions
    (``block_network``, ``unblock_network``, ``block_symbol``, ``unblock_symbol``) with ``account_id``
    ``firm-controls``; a firm whose own systems decide such blocks sends it too."""

    type: Literal["firm_block"] = Field(description="Event type.")
    target: Literal["network", "symbol"] = Field(description="What is blocked: a source network or a symbol.")
    value: Annotated[str, StringConstraints(min_length=1, max_length=64), AfterValidator(_block_value)] = Field(
        description="The network in CIDR form (stored canonical, e.g. '203.0.113.0/24') or the symbol.")
    operation: Literal["block", "unblock"] = Field(description="block, or unblock (lifts the block at once).")
    operator_id: Identifier = Field(description="The operator (or the action) that decided it.")
    reason: Annotated[str, StringConstraints(min_length=1, max_length=500)] = Field(
        description="Why (kept with the event; no personal data).")
    expires_at: AwareDatetime | None = Field(default=None, description="When a block lapses by itself "
                                             "(none: until unblocked).")
    reference: Annotated[str, StringConstraints(min_length=1, max_length=128)] | None = Field(
        default=None, description="The action, case or ticket the block refers to.")


Event = Annotated[
    LoginAttempt | Logout | SettingsChange | Order | OrderCancel | Execution | FiatDeposit
    | FiatWithdrawal | CryptoDeposit | CryptoWithdrawal | HoldingsSnapshot | AccountUnlock | AccountProfile
    | AccountFreeze | FirmBlock,
    Field(discriminator="type"),
]

EVENT_TYPES: dict[str, type[EventBase]] = {
    "login": LoginAttempt,
    "logout": Logout,
    "settings_change": SettingsChange,
    "order": Order,
    "order_cancel": OrderCancel,
    "execution": Execution,
    "fiat_deposit": FiatDeposit,
    "fiat_withdrawal": FiatWithdrawal,
    "crypto_deposit": CryptoDeposit,
    "crypto_withdrawal": CryptoWithdrawal,
    "holdings_snapshot": HoldingsSnapshot,
    "account_unlock": AccountUnlock,
    "account_profile": AccountProfile,
    "account_freeze": AccountFreeze,
    "firm_block": FirmBlock,
}

MONEY_MOVEMENT_TYPES = frozenset({"fiat_withdrawal", "crypto_withdrawal", "order"})
