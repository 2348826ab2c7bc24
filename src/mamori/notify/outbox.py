"""The durable side of customer notices: a transactional outbox, and retries of failed deliveries.

Transactional outbox
    A decision and its event are committed together (``events``/``decisions``); the ``events`` table
    is therefore the outbox of every notice that may be due, in acceptance order (``seq``). The notice
    worker (:mod:`mamori.notify.service`) relays it to the :class:`~mamori.notify.dispatch.Dispatcher`
    and remembers in ``notice_cursor`` (one row) the last ``seq`` it has fully handled. When a decision
    leads to a notice, the ``notices`` record, the retry entry (if a channel failed) and the cursor move
    are written in **one** transaction (:meth:`NoticeOutbox.commit`), so after a crash a notice is sent
    again only if the process died between the send and that commit: at most one duplicate of that
    one notice. Decisions that called for no notice are cheap to read again, so the cursor is saved
    over them only now and then.

Retries
    A channel that failed in a way a retry can fix (connection refused, timeout, SMTP 4xx, HTTP 5xx,
    408, 425, 429) gets a row in ``notice_outbox``: account, kind, reference, the channels still to
    deliver (``email``, ``webhook``), attempts, next attempt time and the rendered notice as JSON
    (subjects and texts; never the e-mail address). :class:`Redelivery` sends due entries again, with
    the contact looked up afresh in the :class:`~mamori.notify.contacts.ContactDirectory` (where the
    address is kept encrypted), with exponential backoff (:class:`RetryPolicy`: 1 minute, doubling, at
    most 6 attempts in all and never more than 24 hours after the first). An entry ends ``delivered``
    or ``gave_up`` (logged at ERROR). Permanent failures (SMTP 5xx, HTTP 4xx, no valid address) are
    not retried: the ``notices`` record already says they failed.

Tables use SQLAlchemy Core with their own metadata (like ``notices``), created if missing, times in
integer microseconds UTC; the same code runs on SQLite and PostgreSQL. One worker per store.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Final

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    Engine,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    insert,
    select,
    update,
)

from mamori.adapters.sql.schema import AUTO_ID
from mamori.notify.contacts import ContactKeyError
from mamori.notify.dispatch import (
    ContactLookup,
    LocalizedNotice,
    NoticeLog,
    NoticeRecord,
    channel_entry,
    notice_row,
    notices_table,
)
from mamori.notify.sender import NoticeSender, SendResult, send_all
from mamori.notify.templates import Language, Notice, NoticeKind, Recipient, RenderedText

__all__ = [
    "EMAIL",
    "WEBHOOK",
    "NewRetry",
    "NoticeOutbox",
    "OutboxEntry",
    "PendingRecords",
    "Redelivery",
    "RetryPolicy",
    "is_permanent",
    "notice_from_json",
    "notice_to_json",
]

log = logging.getLogger(__name__)

EMAIL: Final = "email"
WEBHOOK: Final = "webhook"
_CURSOR_NAME: Final = "notices"

outbox_metadata = MetaData()

notice_cursor = Table(
    "notice_cursor", outbox_metadata,
    Column("name", String(32), primary_key=True),
    Column("seq", BigInteger, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
)  # fmt: skip
"""How far the notice worker got: the last ``events.seq`` whose decision was fully handled."""

notice_outbox = Table(
    "notice_outbox", outbox_metadata,
    Column("id", AUTO_ID, primary_key=True, autoincrement=True),
    Column("account_id", String(128), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("reference", String(40), nullable=False),
    Column("event_id", String(128), nullable=False),
    Column("dedupe_key", String(200), nullable=False),
    Column("channels", String(64), nullable=False),
    Column("notice", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("next_attempt_at_us", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),
    Column("last_error", String(300), nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
)  # fmt: skip
"""Deliveries to retry: ``status`` is ``pending``, then ``delivered`` or ``gave_up``."""
Index("ix_notice_outbox_due", notice_outbox.c.status, notice_outbox.c.next_attempt_at_us)


_EPOCH: Final = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND: Final = timedelta(microseconds=1)


def _us(at: datetime) -> int:
    return (at - _EPOCH) // _MICROSECOND


def _at(us: int) -> datetime:
    return _EPOCH + us * _MICROSECOND


# ---------------------------------------------------------------------------------------------
# Policy and classification


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Exponential backoff: ``first_delay`` after the first failure, doubling after each further one."""

    first_delay: timedelta = timedelta(minutes=1)
    max_attempts: int = 6
    """Attempts in all, the first delivery included."""
    max_age: timedelta = timedelta(hours=24)
    """No attempt later than this after the first one: an old notice confuses more than it helps."""

    def next_attempt(self, first: datetime, attempts: int, now: datetime) -> datetime | None:
        """When to try again after ``attempts`` failed attempts (the first at ``first``); ``None``: give up."""
        if attempts >= self.max_attempts:
            return None
        at = now + self.first_delay * (2 ** max(attempts - 1, 0))
        return at if at <= first + self.max_age else None


_HTTP_STATUS: Final = re.compile(r"HTTP (\d{3})")
_SMTP_REPLY: Final = re.compile(r"SMTP\w*: ([2-5])\d\d\b")
_RETRY_HTTP: Final = frozenset({408, 425, 429})


def is_permanent(result: SendResult) -> bool:
    """A failure no retry can fix: nothing was attempted (no valid address), a webhook answer 4xx
    other than 408/425/429, or an SMTP reply 5xx (RFC 5321: permanent negative completion)."""
    if result.attempts == 0:
        return True
    http = _HTTP_STATUS.fullmatch(result.detail)
    if http is not None:
        code = int(http.group(1))
        return 400 <= code < 500 and code not in _RETRY_HTTP
    smtp = _SMTP_REPLY.match(result.detail)
    return smtp is not None and smtp.group(1) == "5"


# ---------------------------------------------------------------------------------------------
# The rendered notice, stored


def notice_to_json(notice: Notice) -> str:
    """What a retry sends again: subjects, texts, language; no recipient (no address)."""
    return json.dumps({
        "kind": str(notice.kind), "reference": notice.reference, "occurred_at": notice.occurred_at.isoformat(),
        "subject": notice.subject, "language": getattr(notice, "language", "both"),
        "ja": {"subject": notice.ja.subject, "body": notice.ja.body},
        "en": {"subject": notice.en.subject, "body": notice.en.body},
    }, ensure_ascii=False)  # fmt: skip


def notice_from_json(text: str, recipient: Recipient) -> Notice:
    """The stored notice, addressed to ``recipient`` (looked up again at send time)."""
    data = json.loads(text)
    ja = RenderedText(Language.JA, data["ja"]["subject"], data["ja"]["body"])
    en = RenderedText(Language.EN, data["en"]["subject"], data["en"]["body"])
    kind, occurred = NoticeKind(data["kind"]), datetime.fromisoformat(data["occurred_at"])
    language = data.get("language", "both")
    if language in ("ja", "en"):
        return LocalizedNotice(kind, data["reference"], recipient, occurred, ja, en, data["subject"], language)
    return Notice(kind, data["reference"], recipient, occurred, ja, en, data["subject"])


# ---------------------------------------------------------------------------------------------
# Storage


@dataclass(frozen=True, slots=True)
class NewRetry:
    """A delivery to retry, as the worker found it failed."""

    record: NoticeRecord
    notice: Notice
    channels: tuple[str, ...]
    error: str


@dataclass(frozen=True, slots=True)
class OutboxEntry:
    id: int
    account_id: str
    kind: str
    reference: str
    event_id: str
    dedupe_key: str
    channels: tuple[str, ...]
    notice: str
    attempts: int
    created_at: datetime
    next_attempt_at: datetime
    status: str
    last_error: str


def _entry(row: Any) -> OutboxEntry:
    return OutboxEntry(row.id, row.account_id, row.kind, row.reference, row.event_id, row.dedupe_key,
                       tuple(c for c in row.channels.split(",") if c), row.notice, int(row.attempts),
                       _at(row.created_at_us), _at(row.next_attempt_at_us), row.status, row.last_error)  # fmt: skip


class NoticeOutbox:
    """``notice_cursor`` and ``notice_outbox`` on the store's engine (created if missing)."""

    def __init__(self, engine: Engine, policy: RetryPolicy | None = None) -> None:
        self.engine = engine
        self.policy = policy or RetryPolicy()
        notices_table.create(engine, checkfirst=True)
        outbox_metadata.create_all(engine)

    # -- the cursor ---------------------------------------------------------------------------
    def cursor(self) -> int | None:
        """The last fully handled ``events.seq``; ``None`` before the first start."""
        with self.engine.connect() as conn:
            value = conn.execute(select(notice_cursor.c.seq).where(notice_cursor.c.name == _CURSOR_NAME)).scalar()
        return None if value is None else int(value)

    def save_cursor(self, seq: int) -> None:
        with self.engine.begin() as conn:
            self._set_cursor(conn, seq)

    @staticmethod
    def _set_cursor(conn: Connection, seq: int) -> None:
        now = _us(datetime.now(UTC))
        t = notice_cursor
        if not conn.execute(update(t).where(t.c.name == _CURSOR_NAME).values(seq=seq, updated_at_us=now)).rowcount:
            conn.execute(insert(t).values(name=_CURSOR_NAME, seq=seq, updated_at_us=now))

    def commit(self, seq: int, records: Sequence[NoticeRecord], retry: NewRetry | None, now: datetime) -> None:
        """One transaction: the notice records of the decision at ``seq``, its retry entry, the cursor."""
        with self.engine.begin() as conn:
            if records:
                conn.execute(insert(notices_table), [notice_row(r) for r in records])
            if retry is not None:
                first = retry.record.sent_at
                next_at = self.policy.next_attempt(first, 1, now)
                conn.execute(insert(notice_outbox).values(
                    account_id=retry.record.account_id, kind=retry.record.kind, reference=retry.record.reference,
                    event_id=retry.record.event_id, dedupe_key=retry.record.dedupe_key[:200],
                    channels=",".join(retry.channels), notice=notice_to_json(retry.notice), attempts=1,
                    created_at_us=_us(first), next_attempt_at_us=_us(next_at or now),
                    status="pending" if next_at is not None else "gave_up", last_error=retry.error[:300],
                    updated_at_us=_us(now)))  # fmt: skip
            self._set_cursor(conn, seq)

    # -- retries ------------------------------------------------------------------------------
    def due(self, now: datetime, limit: int = 100) -> list[OutboxEntry]:
        t = notice_outbox
        query = (select(t).where(t.c.status == "pending", t.c.next_attempt_at_us <= _us(now))
                 .order_by(t.c.next_attempt_at_us, t.c.id).limit(limit))  # fmt: skip
        with self.engine.connect() as conn:
            return [_entry(r) for r in conn.execute(query)]

    def next_due(self) -> datetime | None:
        """When the earliest pending entry is due (``None``: nothing to retry)."""
        t = notice_outbox
        with self.engine.connect() as conn:
            value = conn.execute(select(func.min(t.c.next_attempt_at_us)).where(t.c.status == "pending")).scalar()
        return None if value is None else _at(int(value))

    def entries(self, account_id: str | None = None) -> list[OutboxEntry]:
        """Every entry (of one account), oldest first."""
        t = notice_outbox
        query = select(t).order_by(t.c.id)
        if account_id is not None:
            query = query.where(t.c.account_id == account_id)
        with self.engine.connect() as conn:
            return [_entry(r) for r in conn.execute(query)]

    def settle(self, entry: OutboxEntry, *, status: str, channels: Iterable[str], attempts: int,
               next_at: datetime | None, error: str, record: NoticeRecord | None, now: datetime) -> None:  # fmt: skip
        """Store the outcome of one retry (and the ``notices`` record of a delivery) in one transaction."""
        with self.engine.begin() as conn:
            conn.execute(update(notice_outbox).where(notice_outbox.c.id == entry.id).values(
                status=status, channels=",".join(channels), attempts=attempts,
                next_attempt_at_us=_us(next_at or now), last_error=error[:300], updated_at_us=_us(now)))
            if record is not None:
                conn.execute(insert(notices_table).values(**notice_row(record)))


# ---------------------------------------------------------------------------------------------
# The dispatcher's record, held until the worker commits it with the cursor


class PendingRecords:
    """A :class:`~mamori.notify.dispatch.NoticeLog` that keeps what the dispatcher records until the
    worker writes it with :meth:`NoticeOutbox.commit` (dedupe still sees it meanwhile)."""

    def __init__(self, log: NoticeLog) -> None:
        self.log = log
        self.pending: list[NoticeRecord] = []

    def seen(self, account_id: str, kind: str, dedupe_key: str, since: datetime) -> bool:
        held = any(r.account_id == account_id and r.kind == kind and r.dedupe_key == dedupe_key
                   and r.sent_at >= since for r in self.pending)  # fmt: skip
        return held or self.log.seen(account_id, kind, dedupe_key, since)

    def record(self, record: NoticeRecord) -> None:
        self.pending.append(record)

    def records(self, account_id: str | None = None) -> list[NoticeRecord]:
        mine = [r for r in self.pending if account_id is None or r.account_id == account_id]
        return [*self.log.records(account_id), *mine]

    def take(self) -> list[NoticeRecord]:
        taken, self.pending = self.pending, []
        return taken


# ---------------------------------------------------------------------------------------------
# Sending again


@dataclass
class Redelivery:
    """Sends due outbox entries again (blocking; from async code use ``asyncio.to_thread``)."""

    outbox: NoticeOutbox
    contacts: ContactLookup
    email_senders: Sequence[NoticeSender] = ()
    webhook_senders: Sequence[NoticeSender] = ()
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))

    def channel_of(self) -> Mapping[str, str]:
        """Sender name -> ``email`` / ``webhook``."""
        return {**{s.name: EMAIL for s in self.email_senders}, **{s.name: WEBHOOK for s in self.webhook_senders}}

    def retry_for(self, record: NoticeRecord, notice: Notice | None, results: Sequence[SendResult]) -> NewRetry | None:
        """The outbox entry a dispatch calls for: its channels that failed and may work later."""
        channel_of = self.channel_of()
        failed = [r for r in results if not r.ok and not is_permanent(r) and r.sender in channel_of]
        if notice is None or not failed:
            return None
        channels = tuple(sorted({channel_of[r.sender] for r in failed}))
        return NewRetry(record, notice, channels, "; ".join(channel_entry(r)["detail"] for r in failed))

    def run_due(self) -> datetime | None:
        """Try every due entry once; returns when the next one is due (``None``: nothing pending)."""
        for entry in self.outbox.due(self.clock()):
            self.retry(entry)
        return self.outbox.next_due()

    def retry(self, entry: OutboxEntry) -> str:
        """One more attempt for ``entry``; returns its new status."""
        now = self.clock()
        attempts = entry.attempts + 1
        try:
            contact = self.contacts.get(entry.account_id)
        except ContactKeyError as exc:
            contact, problem = None, str(exc)
        else:
            problem = "no contact left for the channels that failed"
        channels: list[tuple[str, NoticeSender]] = []
        recipient = Recipient(entry.account_id)
        if contact is not None:
            recipient = Recipient(entry.account_id, contact.email, contact.webhook_ref)
            if EMAIL in entry.channels and contact.email:
                channels += [(EMAIL, s) for s in self.email_senders]
            if WEBHOOK in entry.channels and contact.webhook_ref:
                channels += [(WEBHOOK, s) for s in self.webhook_senders]
        notice = notice_from_json(entry.notice, recipient)
        results = send_all(notice, [s for _, s in channels]) if channels else []
        retryable = sorted({ch for (ch, _), r in zip(channels, results, strict=True)
                            if not r.ok and not is_permanent(r)})  # fmt: skip
        errors = "; ".join(channel_entry(r)["detail"] for r in results if not r.ok) or problem
        record = None
        if any(r.ok for r in results):
            record = NoticeRecord(entry.account_id, entry.kind, entry.dedupe_key, entry.reference, entry.event_id,
                                  now, tuple(channel_entry(r) for r in results), delivered=True)  # fmt: skip
        next_at = self.outbox.policy.next_attempt(entry.created_at, attempts, now) if retryable else None
        if next_at is not None:
            status = "pending"
            log.warning("notice %s %s for account %s: attempt %d failed (%s); next attempt at %s", entry.kind,
                        entry.reference, entry.account_id, attempts, errors, next_at.isoformat())  # fmt: skip
        elif results and all(r.ok for r in results):
            status = "delivered"
            log.info("notice %s %s for account %s delivered on attempt %d", entry.kind, entry.reference,
                     entry.account_id, attempts)  # fmt: skip
        else:
            status = "gave_up"
            log.error("notice %s %s for account %s: gave up after %d attempts (%s)", entry.kind, entry.reference,
                      entry.account_id, attempts, errors)  # fmt: skip
        self.outbox.settle(entry, status=status, channels=retryable if next_at is not None else entry.channels,
                           attempts=attempts, next_at=next_at, error="" if status == "delivered" else errors,
                           record=record, now=now)  # fmt: skip
        return status
