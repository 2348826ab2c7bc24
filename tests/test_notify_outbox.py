"""The durable notice outbox (transactional-outbox pattern) on the real store, SQLite and PostgreSQL:
catch-up after a restart, the contiguous cursor, the catch-up horizon, retries of failed deliveries
with backoff (a real SMTP server on loopback, an injected clock), giving up, and the background
worker's wake-ups (no polling)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select
from sqlalchemy.exc import OperationalError

from mamori.adapters.geo import open_geo_provider
from mamori.adapters.sql.store import SqlStore, now_us
from mamori.events.models import EVENT_TYPES, EventBase
from mamori.notify import Notice, SendResult, SmtpNoticeSender
from mamori.notify.contacts import ContactDirectory
from mamori.notify.dispatch import Dispatcher, FirmInfo, SqlNoticeLog, notices_table, reference_for
from mamori.notify.outbox import NoticeOutbox, RetryPolicy, is_permanent, notice_outbox
from mamori.notify.service import NoticeRelay, NoticeWorker, horizon_from_env, retry_policy_from_env
from mamori.risk.engine import Engine
from mamori.risk.rules.loader import builtin_ruleset
from mamori.risk.service import to_record
from server import free_port
from smtp import Mailbox

HOST = "127.0.0.1"
KEY = bytes(range(32))
FIRM = FirmInfo(name_ja="まもり証券", name_en="Mamori Securities", support_phone="0120-000-000")
HOME = {"ip": "153.156.10.20", "device_id": "home-pc"}
ATTACKER = {"ip": "3.112.5.5", "device_id": "phish-kit", "user_agent": "Mozilla/5.0 (Windows NT 10.0) Chrome/131.0"}


@dataclass
class Recorder:
    """A notice sender that keeps what it was given (``fail``: answers like a relay that is down)."""

    name: str = "recorder"
    sent: list[Notice] = field(default_factory=list)
    fail: bool = False

    def send(self, notice: Notice) -> SendResult:
        self.sent.append(notice)
        if self.fail:
            return SendResult(self.name, ok=False, attempts=1, detail="ConnectionRefusedError: [Errno 111] refused")
        return SendResult(self.name, ok=True, attempts=1, detail="accepted")


class Clock:
    def __init__(self) -> None:
        self.now = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.now


class World:
    """A real store, the real engine (built-in rules) and the encrypted contact directory."""

    def __init__(self, url: str) -> None:
        self.store = SqlStore(url)
        self.engine = Engine(builtin_ruleset(), geo=open_geo_provider())
        self.contacts = ContactDirectory(self.store.engine, key=KEY)
        self.n = 0
        self.start = datetime.now(UTC) - timedelta(days=3)

    def decide(self, type: str, account: str, received_us: int | None = None, **fields: Any) -> tuple[dict[str, Any], EventBase]:
        """Decide one event and store it with its decision, as the server does."""
        self.n += 1
        event = EVENT_TYPES[type].model_validate({"id": f"ev-{self.n}", "type": type, "account_id": account,
                                                  "occurred_at": self.start + timedelta(minutes=self.n), **fields})
        decision = self.engine.process(event)
        self.store.write_accepted([to_record(event, decision, orjson.dumps(decision.to_dict()),
                                             now_us() if received_us is None else received_us)])
        return decision.to_dict(), event

    def suspicious(self, account: str, received_us: int | None = None) -> tuple[dict[str, Any], EventBase]:
        """The customer's usual login (no notice), then a login from a new device: one notice."""
        self.contacts.set(account, email=f"{account.lower()}@customer.example", language="both", webhook_ref=None)
        self.decide("login", account, received_us, result="success", method="passkey", **HOME)
        return self.decide("login", account, received_us, result="success", method="password", **ATTACKER)

    def relay(self, *senders: Any, contacts: Any = None, policy: RetryPolicy | None = None,
              **kwargs: Any) -> NoticeRelay:
        clock = {"clock": kwargs["clock"]} if "clock" in kwargs else {}
        dispatcher = Dispatcher(FIRM, contacts=contacts or self.contacts, log=SqlNoticeLog(self.store.engine),
                                email_senders=senders, **clock)
        relay = NoticeRelay(dispatcher, self.store, NoticeOutbox(self.store.engine, policy), **kwargs)
        relay.open()
        return relay


@pytest.fixture
def world(store_url: str) -> Iterator[World]:
    w = World(store_url)
    try:
        yield w
    finally:
        w.store.close()


@pytest.fixture
def sqlite_world(tmp_path: Any) -> Iterator[World]:
    w = World(f"sqlite:///{tmp_path / 'mamori.db'}")
    try:
        yield w
    finally:
        w.store.close()


def drain(relay: NoticeRelay) -> None:
    while relay.step():
        pass


def refs(notices: list[Notice]) -> list[str]:
    return [n.reference for n in notices]


# ---------------------------------------------------------------------------------------------
# The cursor


def test_catch_up_after_a_restart_dispatches_exactly_the_missed_decisions_in_order(world: World) -> None:
    first = Recorder()
    relay = world.relay(first)
    told = [world.suspicious(f"C-{i}")[1] for i in range(2)]
    drain(relay)
    assert refs(first.sent) == [reference_for(e, FIRM) for e in told]
    # the process dies here (nothing saved beyond what each notice committed); meanwhile decisions are made
    missed = [world.suspicious(f"C-{i}")[1] for i in range(2, 5)]
    world.decide("login", "C-9", result="success", method="passkey", **HOME)  # calls for no notice
    second = Recorder()
    restarted = world.relay(second)
    assert restarted.cursor == relay.saved < world.store.last_seq()
    drain(restarted)
    assert refs(second.sent) == [reference_for(e, FIRM) for e in missed]
    assert [n.recipient.email for n in second.sent] == ["c-2@customer.example", "c-3@customer.example",
                                                        "c-4@customer.example"]
    restarted.save_cursor()
    assert NoticeOutbox(world.store.engine).cursor() == world.store.last_seq()
    # a decision handed over live after the relay already read it from the store is not dispatched again
    late = world.suspicious("C-5")
    drain(restarted)
    restarted.live.put(*late)
    assert restarted.step() == 0 and len(second.sent) == 4


def test_first_start_does_not_notify_history(world: World) -> None:
    world.suspicious("C-1")
    recorder = Recorder()
    relay = world.relay(recorder)
    assert relay.cursor == world.store.last_seq()
    drain(relay)
    assert recorder.sent == []


def test_live_decisions_are_used_and_every_decision_is_dispatched_once(sqlite_world: World) -> None:
    world = sqlite_world
    recorder = Recorder()
    relay = world.relay(recorder)
    events = []
    for i in range(6):
        decision, event = world.suspicious(f"C-{i}")
        events.append(event)
        if i % 2 == 0:  # the others' hand-over was lost: they are read back from the store
            relay.live.put(decision, event)
    assert len(relay.live) == 3
    drain(relay)
    assert refs(recorder.sent) == [reference_for(e, FIRM) for e in events]
    assert len(relay.live) == 0


def test_the_cursor_moves_only_over_a_contiguous_handled_prefix(world: World) -> None:
    class FlakyContacts:
        """The contact directory, whose database goes away once, on the second notice."""

        def __init__(self) -> None:
            self.failed = False

        def get(self, account_id: str) -> Any:
            if account_id == "C-1" and not self.failed:
                self.failed = True
                raise OperationalError("SELECT contacts", {}, Exception("server closed the connection"))
            return world.contacts.get(account_id)

    recorder = Recorder()
    relay = world.relay(recorder, contacts=FlakyContacts())
    told = [world.suspicious(f"C-{i}")[1] for i in range(3)]
    with pytest.raises(OperationalError):
        relay.step()
    assert refs(recorder.sent) == [reference_for(told[0], FIRM)]
    second_notice_seq = world.store.last_seq() - 2  # C-1's new-device login; C-2's two logins follow
    assert relay.cursor == second_notice_seq - 1  # C-1's usual login: handled (it calls for no notice)
    assert relay.saved == second_notice_seq - 2  # committed with C-0's notice
    drain(relay)
    assert refs(recorder.sent) == [reference_for(e, FIRM) for e in told]  # none twice, none skipped


def test_a_notice_sent_but_not_committed_is_committed_later_not_sent_again(world: World) -> None:
    recorder = Recorder()
    relay = world.relay(recorder)
    outbox = relay.outbox
    commit, calls = outbox.commit, []

    def failing_once(*args: Any, **kwargs: Any) -> None:
        calls.append(args)
        if len(calls) == 1:
            raise OperationalError("INSERT INTO notices", {}, Exception("database is locked"))
        commit(*args, **kwargs)

    outbox.commit = failing_once  # type: ignore[method-assign]
    _, event = world.suspicious("C-1")
    with pytest.raises(OperationalError):
        relay.step()
    assert len(recorder.sent) == 1 and relay.saved < world.store.last_seq()
    drain(relay)
    assert len(recorder.sent) == 1 and relay.saved == world.store.last_seq()
    assert [r.event_id for r in SqlNoticeLog(world.store.engine).records()] == [event.id]


def test_catch_up_skips_decisions_older_than_the_horizon(world: World, caplog: pytest.LogCaptureFixture) -> None:
    recorder = Recorder()
    relay = world.relay(recorder, horizon=timedelta(hours=2))
    world.suspicious("C-old", received_us=now_us() - 3 * 3600 * 1_000_000)
    _, recent = world.suspicious("C-new", received_us=now_us() - 3600 * 1_000_000)
    caplog.set_level(logging.WARNING, "mamori.notify")
    drain(relay)
    assert refs(recorder.sent) == [reference_for(recent, FIRM)]
    assert any("catch-up horizon" in r.getMessage() and "2 decision(s)" in r.getMessage() for r in caplog.records)
    assert relay.cursor == world.store.last_seq()


def test_settings_from_the_environment() -> None:
    assert horizon_from_env({}) == timedelta(hours=24)
    assert horizon_from_env({"MAMORI_NOTICE_CATCHUP_HOURS": "6"}) == timedelta(hours=6)
    with pytest.raises(ValueError):
        horizon_from_env({"MAMORI_NOTICE_CATCHUP_HOURS": "0"})
    assert retry_policy_from_env({}) == RetryPolicy()
    assert retry_policy_from_env({"MAMORI_NOTICE_RETRY_DELAY_S": "1"}).first_delay == timedelta(seconds=1)


# ---------------------------------------------------------------------------------------------
# Retries


@dataclass
class FlakyMailbox(Mailbox):
    """``defer``: answer every recipient 451 (try again later), as a relay under maintenance does."""

    defer: bool = False
    tries: int = 0

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, options: Any) -> str:
        self.tries += 1
        if self.defer:
            return "451 4.3.0 Try again later"
        return await super().handle_RCPT(server, session, envelope, address, options)


@contextmanager
def smtp(box: Mailbox) -> Iterator[SmtpNoticeSender]:
    port = free_port()
    controller = Controller(box, hostname=HOST, port=port)
    controller.start()
    try:
        yield SmtpNoticeSender(HOST, port, from_addr="no-reply@mamori.example", starttls=False,
                               local_hostname="localhost", timeout=5)
    finally:
        controller.stop()


def test_policy_and_permanent_failures() -> None:
    policy, t0 = RetryPolicy(), datetime(2026, 1, 5, tzinfo=UTC)
    delays = [policy.next_attempt(t0, n, t0) for n in range(1, 7)]
    assert [d - t0 for d in delays if d is not None] == [timedelta(minutes=m) for m in (1, 2, 4, 8, 16)]
    assert delays[-1] is None  # six attempts in all
    assert RetryPolicy(max_attempts=20).next_attempt(t0, 12, t0 + timedelta(hours=20)) is None  # past 24 h
    assert is_permanent(SendResult("smtp", False, 1, "SMTPRecipientsRefused: 550 No such user"))
    assert is_permanent(SendResult("hook", False, 1, "HTTP 400")) and is_permanent(SendResult("x", False, 0, "no address"))
    assert not is_permanent(SendResult("smtp", False, 1, "SMTPRecipientsRefused: 451 4.3.0 Try again later"))
    assert not is_permanent(SendResult("smtp", False, 1, "ConnectionRefusedError: [Errno 111] Connection refused"))
    assert not is_permanent(SendResult("hook", False, 4, "HTTP 503")) and not is_permanent(SendResult("h", False, 1, "HTTP 429"))


def test_a_failed_delivery_is_retried_with_backoff_then_delivered(world: World) -> None:
    box, clock = FlakyMailbox(defer=True), Clock()
    with smtp(box) as sender:
        relay = world.relay(sender, clock=clock)
        _, event = world.suspicious("C-1")
        drain(relay)
        assert box.tries == 1 and box.envelopes == []
        [entry] = relay.outbox.entries()
        assert (entry.status, entry.channels, entry.attempts) == ("pending", ("email",), 1)
        assert entry.next_attempt_at == relay.next_retry
        assert timedelta(seconds=59) < entry.next_attempt_at - clock.now <= timedelta(seconds=61)
        assert "451" in entry.last_error
        clock.now += timedelta(seconds=30)
        drain(relay)
        relay.step()
        assert box.tries == 1  # not due yet
        clock.now += timedelta(seconds=31)
        relay.step()
        [entry] = relay.outbox.entries()
        assert box.tries == 2 and (entry.status, entry.attempts) == ("pending", 2)
        assert timedelta(seconds=119) < entry.next_attempt_at - clock.now <= timedelta(seconds=121)  # doubled
        # the customer changes their address meanwhile: the retry looks the contact up again
        world.contacts.set("C-1", email="new-address@customer.example", language="ja", webhook_ref=None)
        box.defer = False
        clock.now += timedelta(seconds=121)
        relay.step()
    [entry] = relay.outbox.entries()
    assert (entry.status, entry.attempts) == ("delivered", 3) and relay.next_retry is None
    [envelope] = box.envelopes
    assert envelope.rcpt_tos == ["new-address@customer.example"]
    assert reference_for(event, FIRM).encode() in envelope.content
    records = SqlNoticeLog(world.store.engine).records("C-1")
    assert [(r.delivered, r.reference) for r in records] == [(False, entry.reference), (True, entry.reference)]
    with world.store.engine.connect() as conn:  # the stored notice has no address (it is looked up again)
        stored = " ".join(str(v) for table in (notice_outbox, notices_table) for row in conn.execute(select(table))
                          for v in row)
    assert "customer.example" not in stored and "c-1@" not in stored


def test_gives_up_after_max_attempts(world: World, caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    down = SmtpNoticeSender(HOST, free_port(), from_addr="no-reply@mamori.example", starttls=False, timeout=2)
    relay = world.relay(down, clock=clock, policy=RetryPolicy(max_attempts=3))
    world.suspicious("C-1")
    caplog.set_level(logging.INFO, "mamori")
    drain(relay)
    for _ in range(5):
        clock.now += timedelta(minutes=10)
        relay.step()
    [entry] = relay.outbox.entries()
    assert (entry.status, entry.attempts) == ("gave_up", 3) and relay.next_retry is None
    assert "ConnectionRefusedError" in entry.last_error
    assert any(r.levelno == logging.ERROR and "gave up after 3 attempts" in r.getMessage() for r in caplog.records)


def test_a_permanent_failure_is_not_retried(sqlite_world: World) -> None:
    box = Mailbox(refuse=True)
    with smtp(box) as sender:
        relay = sqlite_world.relay(sender)
        sqlite_world.suspicious("C-1")
        drain(relay)
    assert relay.outbox.entries() == [] and relay.next_retry is None
    [record] = SqlNoticeLog(sqlite_world.store.engine).records()
    assert not record.delivered and "550" in record.channels[0]["detail"]


# ---------------------------------------------------------------------------------------------
# The background worker


def test_the_worker_wakes_on_new_decisions_and_sleeps_until_a_retry_is_due(sqlite_world: World) -> None:
    world = sqlite_world
    recorder = Recorder(fail=True)
    relay = world.relay(recorder, policy=RetryPolicy(first_delay=timedelta(seconds=0.4)))
    steps = []
    step = relay.step

    def counted(**kwargs: Any) -> int:
        steps.append(time.monotonic())
        return step(**kwargs)

    relay.step = counted  # type: ignore[method-assign]

    async def until(condition: Any, timeout: float = 5.0) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline
            await asyncio.sleep(0.01)

    async def main() -> None:
        worker = NoticeWorker(relay)
        await worker.start()
        await asyncio.sleep(0.2)
        idle_steps = len(steps)
        await asyncio.sleep(0.3)
        assert len(steps) == idle_steps  # asleep: nothing to do, no polling
        worker.submit(*world.suspicious("C-1"))
        await until(lambda: len(recorder.sent) == 1)  # woken by the decision; the relay is down
        recorder.fail = False
        started = time.monotonic()
        await until(lambda: len(recorder.sent) == 2)  # woken by the due retry, with no new decision
        assert time.monotonic() - started > 0.2
        await asyncio.sleep(0.3)
        settled = len(steps)
        await asyncio.sleep(0.3)
        assert len(steps) == settled
        # stopping sends what is already decided first
        worker.submit(*world.suspicious("C-2"))
        await worker.stop()
        assert len(recorder.sent) == 3
        assert worker.task is not None and worker.task.done()

    asyncio.run(main())
    assert [e.status for e in relay.outbox.entries()] == ["delivered"]
    assert NoticeOutbox(world.store.engine).cursor() == world.store.last_seq()
