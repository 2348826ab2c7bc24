"""Which risk decisions the customer is told about, with which notice, and telling them once.

:func:`notice_for` is the pure mapping from a committed decision (``Decision.to_dict()``) and its
event to a :class:`~mamori.notify.templates.Notice`:

* ``login`` with a fired rule that locks (``LOGIN-LOCK-001``/``-002``, or ``features.login_locked``
  with a ``block``), on a *failed* attempt (a success never creates a lock) -> ``account_locked``;
* ``login`` with a fired rule tagged ``notify`` or ``suspicious-login`` -> ``suspicious_login``;
* ``order`` held or blocked with a fired rule tagged ``takeover-trading``, ``pump``, ``campaign`` or
  ``cooling-off`` (or ``trading-limit`` with an action other than ``block``: a trading-limit block
  is shown to the customer by the order system itself) -> ``order_held``;
* ``fiat_withdrawal`` / ``crypto_withdrawal`` held or blocked -> ``withdrawal_held``;
* an *allowed* ``settings_change`` of email, phone, password, MFA device or withdrawal account ->
  ``settings_changed`` (every change of contact or payout details is told, FSA practice).

:class:`Dispatcher` is the stateful part the server calls after each committed decision: it tells
a lock only for the attempt that *created* it (the engine's ``login_lock_started`` feature, on every
lockable login decision), drops a notice the account was already given within the
dedupe window (:class:`NoticeLog`, in memory or the SQL ``notices`` table), looks up where to send
it (:class:`~mamori.notify.contacts.ContactDirectory`), renders it in the customer's language, sends
it and records who was told what and when. The record holds the account id, kind, reference,
dedupe key and per-channel results, never the text or the email address.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final, Protocol

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Engine,
    Index,
    MetaData,
    String,
    Table,
    Text,
    and_,
    insert,
    select,
)

from mamori.adapters.sql.schema import AUTO_ID
from mamori.notify.contacts import Contact, ContactLanguage
from mamori.notify.sanitize import mask_ip
from mamori.notify.sender import NoticeSender, SendResult, send_all
from mamori.notify.templates import (
    JST,
    Notice,
    NoticeContext,
    NoticeKind,
    OrderInfo,
    OrderSide,
    Recipient,
    SettingItem,
    WithdrawalInfo,
    build_notice,
)
from mamori.risk.features.lockout import FACTOR_OF_METHOD

__all__ = [
    "LOCK_RULES",
    "ORDER_TAGS",
    "DispatchOutcome",
    "Dispatcher",
    "FirmInfo",
    "InMemoryNoticeLog",
    "LocalizedNotice",
    "NoticeLog",
    "NoticeRecord",
    "SqlNoticeLog",
    "channel_entry",
    "classify",
    "dedupe_key",
    "describe_device",
    "localize",
    "notice_for",
    "notice_row",
    "notices_table",
    "reference_for",
]

log = logging.getLogger(__name__)

LOCK_RULES: Final = frozenset({"LOGIN-LOCK-001", "LOGIN-LOCK-002"})
LOGIN_TAGS: Final = frozenset({"notify", "suspicious-login"})
ORDER_TAGS: Final = frozenset({"takeover-trading", "pump", "campaign", "cooling-off"})
TRADING_LIMIT_TAG: Final = "trading-limit"
WITHDRAWAL_TYPES: Final = frozenset({"fiat_withdrawal", "crypto_withdrawal"})
SETTING_ITEMS: Final[Mapping[str, SettingItem]] = {
    "email": SettingItem.EMAIL,
    "phone": SettingItem.PHONE,
    "password": SettingItem.PASSWORD,
    "mfa_device": SettingItem.MFA,
    "withdrawal_account": SettingItem.WITHDRAWAL_ACCOUNT,
}
_HELD: Final = frozenset({"hold", "block"})
_PREFIX_RE: Final = re.compile(r"[A-Z][A-Z0-9]{0,7}")


@dataclass(frozen=True, slots=True)
class FirmInfo:
    """The firm's own settings a notice quotes (trusted configuration, validated here)."""

    name_ja: str
    name_en: str
    support_phone: str
    reference_prefix: str = "MR"
    """Start of every reference number (``MR-20260105-3F9A2C71``): 1-8 upper-case letters/digits."""

    def __post_init__(self) -> None:
        if not _PREFIX_RE.fullmatch(self.reference_prefix):
            raise ValueError(f"reference_prefix must be 1-8 upper-case letters or digits: {self.reference_prefix!r}")
        # NoticeContext validates names and phone (no links, a real phone number): fail at start-up.
        NoticeContext(firm_name=self.name_ja, firm_name_en=self.name_en, customer_name="",
                      occurred_at=datetime.now(UTC), support_phone=self.support_phone, reference="X")  # fmt: skip


# ---------------------------------------------------------------------------------------------
# The pure mapping


def _rules(decision: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    return [r for r in decision.get("rules") or () if isinstance(r, Mapping)]


def _tags(rule: Mapping[str, Any]) -> set[str]:
    return {str(t) for t in rule.get("tags") or ()}


def _features(decision: Mapping[str, Any]) -> Mapping[str, Any]:
    features = decision.get("features")
    return features if isinstance(features, Mapping) else {}


def is_lock_attempt(decision: Mapping[str, Any], event: Any) -> bool:
    """The login was refused because its factor is locked (whether or not this attempt locked it)."""
    if getattr(event, "type", None) != "login":
        return False
    if any(r.get("id") in LOCK_RULES for r in _rules(decision)):
        return True
    return _features(decision).get("login_locked") is True and decision.get("decision") == "block"


def classify(decision: Mapping[str, Any], event: Any) -> NoticeKind | None:
    """Which notice (if any) the decision calls for; see the module docstring."""
    event_type = getattr(event, "type", None)
    verdict = decision.get("decision")
    rules = _rules(decision)
    if event_type == "login":
        if is_lock_attempt(decision, event):
            # Only a failure can create a lock; refused successes during a lock never notify.
            return NoticeKind.ACCOUNT_LOCKED if str(getattr(event, "result", "")) == "failure" else None
        if any(_tags(r) & LOGIN_TAGS for r in rules):
            return NoticeKind.SUSPICIOUS_LOGIN
        return None
    if event_type == "order":
        if verdict not in _HELD:
            return None
        for rule in rules:
            tags = _tags(rule)
            if tags & ORDER_TAGS:
                return NoticeKind.ORDER_HELD
            if TRADING_LIMIT_TAG in tags and rule.get("action") not in ("block", None):
                return NoticeKind.ORDER_HELD  # a limit rule that holds rather than refuses
        return None
    if event_type in WITHDRAWAL_TYPES:
        return NoticeKind.WITHDRAWAL_HELD if verdict in _HELD else None
    if event_type == "settings_change":
        setting = str(getattr(event, "setting", ""))
        return NoticeKind.SETTINGS_CHANGED if verdict == "allow" and setting in SETTING_ITEMS else None
    return None


_UA_BROWSERS: Final = (
    ("edg/", "Edge"), ("edge/", "Edge"), ("opr/", "Opera"), ("samsungbrowser/", "Samsung Internet"),
    ("firefox/", "Firefox"), ("fxios/", "Firefox"), ("crios/", "Chrome"), ("chrome/", "Chrome"),
    ("safari/", "Safari"),
)  # fmt: skip
_UA_SYSTEMS: Final = (
    ("iphone", "iPhone"), ("ipad", "iPad"), ("android", "Android"), ("windows", "Windows"),
    ("mac os x", "Mac"), ("macintosh", "Mac"), ("cros", "ChromeOS"), ("linux", "Linux"),
)  # fmt: skip


def describe_device(user_agent: str | None) -> str | None:
    """``Chrome (Windows)``, ``Safari (iPhone)``; ``None`` if nothing is recognised. Only known
    names are ever returned, so nothing an attacker typed into the User-Agent reaches a notice."""
    if not user_agent:
        return None
    ua = user_agent.lower()
    browser = next((name for token, name in _UA_BROWSERS if token in ua), None)
    system = next((name for token, name in _UA_SYSTEMS if token in ua), None)
    if browser and system:
        return f"{browser} ({system})"
    return browser or system


def reference_for(event: Any, firm: FirmInfo) -> str:
    """``<prefix>-<YYYYMMDD in JST>-<8 hex of the event id>``: stable for one event, so support staff
    can find the event from the number the customer reads out."""
    occurred: datetime = event.occurred_at
    day = occurred.astimezone(JST).strftime("%Y%m%d")
    digest = hashlib.sha256(str(event.id).encode("utf-8")).hexdigest()[:8].upper()
    return f"{firm.reference_prefix}-{day}-{digest}"


def _context(kind: NoticeKind, decision: Mapping[str, Any], event: Any, firm: FirmInfo,
             customer_name: str) -> NoticeContext:  # fmt: skip
    features = _features(decision)
    country = features.get("ip_country")
    country = country if isinstance(country, str) and re.fullmatch(r"[A-Za-z]{2}", country) else None
    order = withdrawal = setting = None
    if kind is NoticeKind.ORDER_HELD:
        order = OrderInfo(symbol=str(event.symbol), side=OrderSide(str(event.side)), quantity=event.quantity)
    elif kind is NoticeKind.WITHDRAWAL_HELD:
        if event.type == "crypto_withdrawal":
            withdrawal = WithdrawalInfo(amount=event.amount, asset=str(event.asset).upper())
        else:
            withdrawal = WithdrawalInfo(amount=event.amount, asset=str(getattr(event, "currency", "JPY")))
    elif kind is NoticeKind.SETTINGS_CHANGED:
        setting = SETTING_ITEMS[str(event.setting)]
    return NoticeContext(
        firm_name=firm.name_ja, firm_name_en=firm.name_en, customer_name=customer_name,
        occurred_at=event.occurred_at, support_phone=firm.support_phone, reference=reference_for(event, firm),
        ip_address=getattr(event, "ip", None), country_code=country,
        device=describe_device(getattr(event, "user_agent", None)),
        order=order, withdrawal=withdrawal, setting=setting,
    )  # fmt: skip


def notice_for(decision: Mapping[str, Any], event: Any, *, firm: FirmInfo, customer_name: str = "",
               recipient: Recipient | None = None) -> Notice | None:  # fmt: skip
    """The notice ``decision`` (``Decision.to_dict()``) on ``event`` calls for, or ``None``. Pure.

    The notice is addressed to ``recipient`` (default: the account, no email address yet; the
    :class:`Dispatcher` fills in the address from the contact directory). ``account_locked`` is
    returned for *every* refused failed attempt during a lock; :class:`Dispatcher` keeps only the
    one that created the lock."""
    kind = classify(decision, event)
    if kind is None:
        return None
    ctx = _context(kind, decision, event, firm, customer_name)
    return build_notice(kind, ctx, recipient or Recipient(str(event.account_id)))


def dedupe_key(kind: NoticeKind, decision: Mapping[str, Any], event: Any) -> str:
    """What makes two notices of one kind to one account "the same thing" (stored; no personal data
    beyond ids: the login key is a hash of device and masked network)."""
    if kind is NoticeKind.ACCOUNT_LOCKED:
        factor = FACTOR_OF_METHOD.get(str(getattr(event, "method", "")), "other")
        return f"lock:{factor}:{event.id}"  # each lock is told once, by the attempt that created it
    if kind is NoticeKind.SUSPICIOUS_LOGIN:
        ip = getattr(event, "ip", None)
        where = mask_ip(ip) if ip else "-"
        device = getattr(event, "device_id", None) or describe_device(getattr(event, "user_agent", None)) or "-"
        return "login:" + hashlib.sha256(f"{device}|{where}".encode()).hexdigest()[:24]
    if kind is NoticeKind.ORDER_HELD:
        return f"order:{event.order_id}"
    if kind is NoticeKind.WITHDRAWAL_HELD:
        return f"withdrawal:{event.transfer_id}"
    return f"{kind}:{event.id}"  # settings changes: every change is told; only a replay is the same


# ---------------------------------------------------------------------------------------------
# One language


@dataclass(frozen=True, slots=True)
class LocalizedNotice(Notice):
    """A notice delivered in one language (``ja``/``en``) or both (``both``: as :class:`Notice`)."""

    language: ContactLanguage = "both"

    def text(self) -> str:
        if self.language == "ja":
            return f"{self.ja.body}\n"
        if self.language == "en":
            return f"{self.en.body}\n"
        return Notice.text(self)


def localize(notice: Notice, language: ContactLanguage) -> Notice:
    """``notice`` with the subject and text in the customer's language setting."""
    if language == "both":
        return notice
    subject = notice.ja.subject if language == "ja" else notice.en.subject
    return LocalizedNotice(notice.kind, notice.reference, notice.recipient, notice.occurred_at, notice.ja,
                           notice.en, subject, language)  # fmt: skip


# ---------------------------------------------------------------------------------------------
# The record of notices


@dataclass(frozen=True, slots=True)
class NoticeRecord:
    """Who was told what, when, through which channels (no text, no address)."""

    account_id: str
    kind: str
    dedupe_key: str
    reference: str
    event_id: str
    sent_at: datetime
    channels: tuple[Mapping[str, Any], ...] = ()
    """One entry per channel: ``sender``, ``ok``, ``attempts``, ``detail``, ``message_id``."""
    delivered: bool = False
    """At least one channel accepted the notice."""


class NoticeLog(Protocol):
    def seen(self, account_id: str, kind: str, dedupe_key: str, since: datetime) -> bool:
        """Whether this notice was recorded for the account at or after ``since``."""
        ...

    def record(self, record: NoticeRecord) -> None: ...

    def records(self, account_id: str | None = None) -> list[NoticeRecord]:
        """Every record (of one account), oldest first."""
        ...


class InMemoryNoticeLog:
    def __init__(self) -> None:
        self._records: list[NoticeRecord] = []
        self._mutex = threading.Lock()

    def seen(self, account_id: str, kind: str, dedupe_key: str, since: datetime) -> bool:
        with self._mutex:
            return any(r.account_id == account_id and r.kind == kind and r.dedupe_key == dedupe_key
                       and r.sent_at >= since for r in self._records)  # fmt: skip

    def record(self, record: NoticeRecord) -> None:
        with self._mutex:
            self._records.append(record)

    def records(self, account_id: str | None = None) -> list[NoticeRecord]:
        with self._mutex:
            return [r for r in self._records if account_id is None or r.account_id == account_id]


notices_metadata = MetaData()

notices_table = Table(
    "notices", notices_metadata,
    Column("id", AUTO_ID, primary_key=True, autoincrement=True),
    Column("account_id", String(128), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("dedupe_key", String(200), nullable=False),
    Column("reference", String(40), nullable=False),
    Column("event_id", String(128), nullable=False),
    Column("sent_at_us", BigInteger, nullable=False),
    Column("delivered", Boolean, nullable=False),
    Column("channels", Text, nullable=False),
)  # fmt: skip
Index("ix_notices_dedupe", notices_table.c.account_id, notices_table.c.kind, notices_table.c.dedupe_key,
      notices_table.c.sent_at_us)  # fmt: skip


def _us(at: datetime) -> int:
    return int(at.timestamp() * 1_000_000)


def notice_row(record: NoticeRecord) -> dict[str, Any]:
    """The ``notices`` row for ``record`` (to insert it in a caller's own transaction)."""
    return {"account_id": record.account_id, "kind": record.kind, "dedupe_key": record.dedupe_key[:200],
            "reference": record.reference, "event_id": record.event_id, "sent_at_us": _us(record.sent_at),
            "delivered": record.delivered, "channels": json.dumps(list(record.channels), ensure_ascii=False)}


class SqlNoticeLog:
    """The ``notices`` table on the store's SQLAlchemy engine (created if missing; own metadata)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        notices_table.create(engine, checkfirst=True)

    def seen(self, account_id: str, kind: str, dedupe_key: str, since: datetime) -> bool:
        t = notices_table
        query = select(t.c.id).where(and_(t.c.account_id == account_id, t.c.kind == kind,
                                          t.c.dedupe_key == dedupe_key, t.c.sent_at_us >= _us(since))).limit(1)
        with self.engine.connect() as conn:
            return conn.execute(query).first() is not None

    def record(self, record: NoticeRecord) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(notices_table).values(**notice_row(record)))

    def records(self, account_id: str | None = None) -> list[NoticeRecord]:
        t = notices_table
        query = select(t).order_by(t.c.id)
        if account_id is not None:
            query = query.where(t.c.account_id == account_id)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [NoticeRecord(r.account_id, r.kind, r.dedupe_key, r.reference, r.event_id,
                             datetime.fromtimestamp(r.sent_at_us / 1_000_000, UTC),
                             tuple(json.loads(r.channels)), bool(r.delivered)) for r in rows]  # fmt: skip


# ---------------------------------------------------------------------------------------------
# The dispatcher

_ADDRESS_IN_TEXT: Final = re.compile(r"[^@\s<>()\[\],;:\"']{1,64}@[A-Za-z0-9][A-Za-z0-9\-.]*")


def channel_entry(result: SendResult) -> dict[str, Any]:
    """A send result for the audit record, with any email address a server echoed removed."""
    return {"sender": result.sender, "ok": result.ok, "attempts": result.attempts,
            "detail": _ADDRESS_IN_TEXT.sub("<address>", result.detail)[:300], "message_id": result.message_id}


class ContactLookup(Protocol):
    def get(self, account_id: str) -> Contact | None: ...


@dataclass(frozen=True, slots=True)
class DispatchOutcome:
    """What the dispatcher did with one decision that called for a notice."""

    kind: NoticeKind
    reference: str
    status: str
    """``sent`` (at least one channel accepted), ``failed`` (every channel failed), ``no_contact``
    (no address or webhook for the account), ``duplicate`` (already told within the window: not
    recorded again) or ``lock_continues`` (a refused attempt during a lock already notified)."""
    results: tuple[SendResult, ...] = ()
    notice: Notice | None = None
    """The notice as rendered for the customer (``sent``, ``failed``, ``no_contact``): what a retry
    of the failed channels sends again (:mod:`mamori.notify.outbox`)."""


@dataclass
class Dispatcher:
    """Call :meth:`handle` after each committed decision (blocking: it sends; from async code use
    ``asyncio.to_thread``). Never raises for a delivery problem."""

    firm: FirmInfo
    contacts: ContactLookup
    log: NoticeLog
    email_senders: Sequence[NoticeSender] = ()
    """Used when the contact has an email address (e.g. one :class:`SmtpNoticeSender`)."""
    webhook_senders: Sequence[NoticeSender] = ()
    """Used when the contact has a ``webhook_ref`` (the firm's SMS/push/in-app relay)."""
    window: timedelta = timedelta(minutes=10)
    """The same notice (kind and dedupe key) is not given to one account twice within this."""
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    names: Callable[[str], str] = field(default=lambda _account: "")
    """Customer display name for the greeting (default: none, "お客様" / "Dear customer")."""

    def handle(self, decision: Mapping[str, Any], event: Any) -> DispatchOutcome | None:
        """Notify the customer about ``decision`` if it calls for a notice; ``None`` if it does not."""
        kind = classify(decision, event)
        if kind is None:
            return None
        reference = reference_for(event, self.firm)
        if kind is NoticeKind.ACCOUNT_LOCKED and _features(decision).get("login_lock_started") is not True:
            # The engine marks the attempt that created the lock; later refused attempts are not news.
            return DispatchOutcome(kind, reference, "lock_continues")
        account = str(event.account_id)
        key = dedupe_key(kind, decision, event)
        now = self.clock()
        if self.log.seen(account, str(kind), key, now - self.window):
            return DispatchOutcome(kind, reference, "duplicate")
        contact = self.contacts.get(account)
        senders: list[NoticeSender] = []
        recipient = Recipient(account)
        if contact is not None and contact.email:
            senders += self.email_senders
        if contact is not None and contact.webhook_ref:
            senders += self.webhook_senders
        if contact is not None:
            recipient = Recipient(account, contact.email, contact.webhook_ref)
        notice = notice_for(decision, event, firm=self.firm, customer_name=self.names(account),
                            recipient=recipient)  # fmt: skip
        if notice is None:  # pragma: no cover - classify() said otherwise
            return None
        notice = localize(notice, contact.language if contact is not None else "both")
        results = tuple(send_all(notice, senders)) if senders else ()
        delivered = any(r.ok for r in results)
        status = "sent" if delivered else ("failed" if results else "no_contact")
        self.log.record(NoticeRecord(account, str(kind), key, notice.reference, str(event.id), now,
                                     tuple(channel_entry(r) for r in results), delivered))  # fmt: skip
        log.info("notice %s %s for account %s: %s (%s)", kind, notice.reference, account, status,
                 ", ".join(f"{r.sender}={'ok' if r.ok else 'failed'}" for r in results) or "no channel")
        return DispatchOutcome(kind, notice.reference, status, results, notice)

