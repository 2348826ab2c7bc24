"""Customer notices from the running server: a durable relay (the transactional-outbox pattern) from the
stored decisions to the :class:`~mamori.notify.dispatch.Dispatcher`, off the request path. Configured
from settings; off until the firm's name and support phone are set.

The store writes each event and its decision in one transaction, so the ``events`` table is the
outbox: :class:`NoticeRelay` reads the decisions accepted after its durable cursor (``notice_cursor``,
see :mod:`mamori.notify.outbox`) in ``seq`` order (the dispatcher's lock tracking needs arrival
order) and hands each to the dispatcher once. :class:`NoticeWorker` runs it in the background: a
decision made while the server runs wakes it (and is handed over in memory, so that it need not be
read back), and it sleeps until the next decision or the next due retry of a failed delivery; it
never polls.

Restarts and crashes
    On start the worker first catches up: every decision after the cursor, i.e. notices that were due
    when the process stopped or crashed, is dispatched, then the live ones. Catch-up is bounded:
    decisions received more than the horizon ago (24 h by default, ``MAMORI_NOTICE_CATCHUP_HOURS``)
    are skipped with a log line, because a notice about a login two days ago, arriving after a long
    outage, confuses more than it protects. On the very first start the cursor begins at the newest
    stored event: turning notices on does not notify history (turning them back on after a pause
    sends those of the pause's last horizon).

    A decision that called for a notice is committed with the cursor (notice record, retry entry and
    cursor in one transaction), so it is never dispatched twice, with one exception: if the process
    dies after the notice was sent and before that commit, the notice is sent once more after the
    restart (the only duplicate; the 10-minute dedupe of the notice log catches it when the restart is
    quick). Decisions that called for no notice are read again after a crash (the cursor is saved over
    them every few seconds); that has no effect. Failed deliveries are retried with backoff from the
    ``notice_outbox`` table (:class:`~mamori.notify.outbox.Redelivery`; ``MAMORI_NOTICE_RETRY_DELAY_S``,
    ``MAMORI_NOTICE_RETRY_ATTEMPTS``). One worker per store.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any, Final

import orjson
from sqlalchemy.exc import SQLAlchemyError

from mamori.adapters.sql.store import SqlStore
from mamori.events.models import EventBase
from mamori.events.parse import parse_event
from mamori.kit.errors import StorageUnavailable
from mamori.kit.settings import Settings
from mamori.notify.contacts import ContactDirectory, load_key
from mamori.notify.dispatch import Dispatcher, FirmInfo, SqlNoticeLog
from mamori.notify.outbox import NoticeOutbox, PendingRecords, Redelivery, RetryPolicy
from mamori.notify.sender import NoticeSender, SmtpNoticeSender, WebhookNoticeSender

log = logging.getLogger("mamori.notify")

DEFAULT_HORIZON: Final = timedelta(hours=24)
HORIZON_ENV: Final = "MAMORI_NOTICE_CATCHUP_HOURS"
RETRY_DELAY_ENV: Final = "MAMORI_NOTICE_RETRY_DELAY_S"
RETRY_ATTEMPTS_ENV: Final = "MAMORI_NOTICE_RETRY_ATTEMPTS"
TRANSIENT: Final = (SQLAlchemyError, StorageUnavailable)
"""Failures that say nothing about the decision (the database is away): try it again later."""
_RECORDED: Final = frozenset({"sent", "failed", "no_contact", "duplicate"})

Item = tuple[dict[str, Any], EventBase]


def contacts_for(settings: Settings, store: SqlStore) -> ContactDirectory:
    """The contact directory, its key from ``MAMORI_CONTACTS_KEY`` or ``data_dir/contacts.key`` (0600)."""
    return ContactDirectory(store.engine, key=load_key(settings.data_dir / "contacts.key"))


def dispatcher_for(settings: Settings, store: SqlStore, contacts: ContactDirectory) -> Dispatcher | None:
    if not (settings.firm_name_ja and settings.support_phone):
        return None
    email: list[NoticeSender] = []
    if settings.smtp_host and settings.smtp_from:
        email.append(SmtpNoticeSender(settings.smtp_host, settings.smtp_port, from_addr=settings.smtp_from,
                                      starttls=settings.smtp_starttls, username=settings.smtp_username,
                                      password=settings.smtp_password))
    hooks: list[NoticeSender] = []
    if settings.notice_webhook_url and settings.notice_webhook_secret:
        hooks.append(WebhookNoticeSender(settings.notice_webhook_url, secret=settings.notice_webhook_secret))
    firm = FirmInfo(settings.firm_name_ja, settings.firm_name_en or settings.firm_name_ja, settings.support_phone)
    return Dispatcher(firm=firm, contacts=contacts, log=SqlNoticeLog(store.engine), email_senders=email,
                      webhook_senders=hooks)


def horizon_from_env(environ: dict[str, str] | None = None) -> timedelta:
    """The catch-up horizon: ``MAMORI_NOTICE_CATCHUP_HOURS`` (a positive number), default 24 hours."""
    raw = (os.environ if environ is None else environ).get(HORIZON_ENV)
    if not raw:
        return DEFAULT_HORIZON
    hours = float(raw)
    if not 0 < hours <= 24 * 30:
        raise ValueError(f"{HORIZON_ENV} must be more than 0 and at most 720 hours: {raw!r}")
    return timedelta(hours=hours)


def retry_policy_from_env(environ: dict[str, str] | None = None) -> RetryPolicy:
    """Backoff of failed deliveries: ``MAMORI_NOTICE_RETRY_DELAY_S`` (first delay, default 60 s, then
    doubling) and ``MAMORI_NOTICE_RETRY_ATTEMPTS`` (attempts in all, default 6); never beyond 24 hours."""
    env = os.environ if environ is None else environ
    delay = float(env.get(RETRY_DELAY_ENV) or 60)
    attempts = int(env.get(RETRY_ATTEMPTS_ENV) or 6)
    if not 0 < delay <= 3600 or not 1 <= attempts <= 20:
        raise ValueError(f"{RETRY_DELAY_ENV} must be in (0, 3600] and {RETRY_ATTEMPTS_ENV} in [1, 20]")
    return RetryPolicy(first_delay=timedelta(seconds=delay), max_attempts=attempts)


def notice_worker_for(settings: Settings, store: SqlStore, contacts: ContactDirectory) -> NoticeWorker | None:
    """The worker for the configured notices (``None`` when notices are off). Creates its tables."""
    dispatcher = dispatcher_for(settings, store, contacts)
    if dispatcher is None:
        return None
    outbox = NoticeOutbox(store.engine, retry_policy_from_env())
    return NoticeWorker(NoticeRelay(dispatcher, store, outbox, horizon=horizon_from_env()))


# ---------------------------------------------------------------------------------------------
# The relay (blocking; one thread at a time)


class LiveDecisions:
    """Decisions handed over in memory as they are made, so the relay need not read them back.

    Only a cache: the store decides what is dispatched, so an item dropped here (cache full, or not
    claimed within ``ttl_s`` because the relay was busy catching up) is simply read from the store."""

    def __init__(self, max_items: int = 10_000, ttl_s: float = 60.0) -> None:
        self.max_items, self.ttl_s = max_items, ttl_s
        self._items: OrderedDict[str, tuple[float, Item]] = OrderedDict()
        self._mutex = threading.Lock()

    def __len__(self) -> int:
        return len(self._items)

    def put(self, decision: dict[str, Any], event: EventBase) -> None:
        now = time.monotonic()
        with self._mutex:
            while self._items and next(iter(self._items.values()))[0] < now - self.ttl_s:
                self._items.popitem(last=False)
            if len(self._items) < self.max_items:
                self._items[event.id] = (now, (decision, event))

    def take(self, event_id: str) -> Item | None:
        with self._mutex:
            found = self._items.pop(event_id, None)
        return None if found is None else found[1]


class NoticeRelay:
    """Reads decisions after the cursor from the store, dispatches each once in ``seq`` order, commits
    the result with the cursor, and retries due failed deliveries (see the module docstring)."""

    def __init__(self, dispatcher: Dispatcher, store: SqlStore, outbox: NoticeOutbox, *,
                 horizon: timedelta = DEFAULT_HORIZON, clock: Callable[[], datetime] = lambda: datetime.now(UTC),
                 batch: int = 500, cursor_interval_s: float = 5.0) -> None:  # fmt: skip
        self.records = PendingRecords(dispatcher.log)
        self.dispatcher = replace(dispatcher, log=self.records)
        self.store, self.outbox = store, outbox
        self.redelivery = Redelivery(outbox, dispatcher.contacts, dispatcher.email_senders,
                                     dispatcher.webhook_senders, clock)  # fmt: skip
        self.horizon, self.clock, self.batch = horizon, clock, batch
        self.cursor_interval_s = cursor_interval_s
        self.live = LiveDecisions()
        self.cursor = 0
        """The last ``seq`` handled (in memory); :attr:`saved` is the one in ``notice_cursor``."""
        self.saved = 0
        self.next_retry: datetime | None = None
        self._saved_at = time.monotonic()
        self._unsaved: tuple[int, Callable[[], None]] | None = None

    def open(self) -> None:
        """Load the cursor (on the very first start: the newest stored event) and the next retry time."""
        cursor, newest = self.outbox.cursor(), self.store.last_seq()
        if cursor is None:
            cursor = newest
            self.outbox.save_cursor(cursor)
        self.cursor = self.saved = cursor
        self.next_retry = self.outbox.next_due()
        if newest > cursor:
            log.info("notices: catching up on the decisions after event #%d (newest #%d), those received in "
                     "the last %s", cursor, newest, self.horizon)  # fmt: skip

    def step(self, *, retries: bool = True) -> int:
        """One batch of decisions (and, if ``retries``, the due retries); returns how many decisions
        were read (0: caught up). Raises what the store raised; the next step resumes where it stopped."""
        self._flush()
        rows = self.store.accepted_after(self.cursor, limit=self.batch)
        if rows:
            self._handle(rows)
        self.save_cursor(force=False)
        if retries and self.next_retry is not None and self.next_retry <= self.clock():
            self.next_retry = self.redelivery.run_due()
        return len(rows)

    def save_cursor(self, *, force: bool = True) -> None:
        """Save the cursor over decisions that called for no notice (every ``cursor_interval_s``)."""
        if self.cursor != self.saved and (force or time.monotonic() - self._saved_at >= self.cursor_interval_s):
            self.outbox.save_cursor(self.cursor)
            self.saved, self._saved_at = self.cursor, time.monotonic()

    def _handle(self, rows: list[tuple[int, str, int, str | None, str | None]]) -> None:
        cutoff = int((self.clock() - self.horizon).timestamp() * 1_000_000)
        old = [seq for seq, _id, received, *_ in rows if received < cutoff]
        if old:
            log.warning("notices: %d decision(s) between events #%d and #%d were received more than %s ago "
                        "(the catch-up horizon): skipped, their notices (if any) are not sent", len(old), old[0],
                        old[-1], self.horizon)  # fmt: skip
        items = {seq: item for seq, event_id, received, *_ in rows
                 if received >= cutoff and (item := self.live.take(event_id)) is not None}  # fmt: skip
        missing = [i for i, row in enumerate(rows) if row[2] >= cutoff and row[0] not in items]
        if missing:
            first, last = missing[0], missing[-1]
            stored = self.store.accepted_after(rows[first][0] - 1, limit=last - first + 1, bodies=True)
            for seq, event_id, _received, payload, body in stored:
                if seq in items or payload is None or body is None:
                    continue
                try:
                    items[seq] = (orjson.loads(body), parse_event(payload))
                except Exception:
                    log.exception("notices: decision for event %s (#%d) cannot be read; skipped", event_id, seq)
        for seq, _event_id, received, *_ in rows:
            item = items.get(seq)
            if item is not None and received >= cutoff:
                self._dispatch(seq, *item)
            self.cursor = seq

    def _dispatch(self, seq: int, decision: dict[str, Any], event: EventBase) -> None:
        self.records.take()
        try:
            outcome = self.dispatcher.handle(decision, event)
        except TRANSIENT:
            self.records.take()
            raise  # nothing was sent: this decision is dispatched again at the next step
        except Exception:
            log.exception("notice dispatch failed for event %s", event.id)
            outcome = None
        records = self.records.take()
        if outcome is None or outcome.status not in _RECORDED:
            return  # no notice, or a lock already told: the same outcome if read again
        retry = self.redelivery.retry_for(records[0], outcome.notice, outcome.results) if records else None
        now = self.clock()

        def commit() -> None:
            self.outbox.commit(seq, records, retry, now)

        self._unsaved = (seq, commit)
        self._flush()
        due = None if retry is None else self.outbox.policy.next_attempt(retry.record.sent_at, 1, now)
        if due is not None and (self.next_retry is None or due < self.next_retry):
            self.next_retry = due
        if retry is not None:
            log.warning("notice %s %s to account %s: %s failed; %s", outcome.kind, outcome.reference,
                        event.account_id, "+".join(retry.channels),
                        f"next attempt at {due.isoformat()}" if due else "not retried")  # fmt: skip
        elif outcome.status == "failed":
            log.warning("notice %s %s to account %s could not be delivered (not retried: a permanent failure)",
                        outcome.kind, outcome.reference, event.account_id)  # fmt: skip

    def _flush(self) -> None:
        """Commit the last notice's record and cursor if that failed before (no second send)."""
        if self._unsaved is not None:
            seq, commit = self._unsaved
            commit()
            self._unsaved = None
            self.cursor = self.saved = seq
            self._saved_at = time.monotonic()


# ---------------------------------------------------------------------------------------------
# The background worker


class NoticeWorker:
    """Runs a :class:`NoticeRelay` in the background: wakes on a new decision or a due retry."""

    def __init__(self, relay: NoticeRelay, *, error_backoff_s: float = 5.0, stop_timeout_s: float = 15.0) -> None:
        self.relay = relay
        self.error_backoff_s = error_backoff_s
        self.stop_timeout_s = stop_timeout_s
        self.task: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self._stopping = asyncio.Event()

    async def start(self) -> None:
        """Load the cursor (before the server takes requests), then catch up and follow in the background."""
        await asyncio.to_thread(self.relay.open)
        self.task = asyncio.create_task(self._run(), name="mamori-notices")

    def submit(self, decision: dict[str, Any], event: EventBase) -> None:
        """A decision is durable (``RiskService.on_decided``): cheap, never blocks the request."""
        self.relay.live.put(decision, event)
        self._wake.set()

    async def _run(self) -> None:
        while True:
            self._wake.clear()
            stopping = self._stopping.is_set()
            try:
                read = await asyncio.to_thread(self.relay.step, retries=not stopping)
                if stopping and read == 0:
                    await asyncio.to_thread(self.relay.save_cursor)
                    return
            except Exception as exc:
                if stopping:
                    log.warning("notices: stopped before catching up (%s); the rest is sent after the next start",
                                type(exc).__name__)  # fmt: skip
                    return
                log.exception("notices: the store is not answering; trying again in %.0f s", self.error_backoff_s)
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._stopping.wait(), self.error_backoff_s)
                continue
            if read == 0:
                await self._sleep()

    async def _sleep(self) -> None:
        """Until a new decision, a stop, or the next retry is due."""
        due = self.relay.next_retry
        timeout = None if due is None else max((due - self.relay.clock()).total_seconds(), 0.0)
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._wake.wait(), timeout)

    async def stop(self) -> None:
        """Dispatch the decisions already durable (not the retries), then stop. What is left after
        ``stop_timeout_s`` (a slow mail relay) is sent after the next start: the cursor is durable."""
        if self.task is None:
            return
        self._stopping.set()
        self._wake.set()
        try:
            await asyncio.wait_for(asyncio.shield(self.task), self.stop_timeout_s)
        except TimeoutError:
            log.warning("notices: not caught up after %.0f s; the rest is sent after the next start",
                        self.stop_timeout_s)  # fmt: skip
            self.task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self.task
