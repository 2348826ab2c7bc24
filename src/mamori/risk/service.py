"""The risk service: validated events in, durable explained decisions out.

Orchestrates the pure parts (engine) and the adapters (store, writer): idempotency by event id,
one durable write per event (event + decision + alert in one transaction, group-committed), state
rebuilt from the store at start-up, and rule sets hot-reloaded from disk with their new windows
backfilled from stored history.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson

from mamori.adapters.geo import GeoProvider, open_geo_provider
from mamori.adapters.sql.store import AcceptedRecord, SqlStore, now_us
from mamori.adapters.sql.writer import GroupCommitWriter
from mamori.events.models import EventBase
from mamori.events.parse import parse_event
from mamori.kit.errors import MamoriError, RuleCompileError, StorageUnavailable
from mamori.kit.files import write_atomically
from mamori.kit.settings import Settings
from mamori.risk.engine import Decision, Engine
from mamori.risk.rules.loader import builtin_rules_path, load_ruleset
from mamori.risk.rules.model import Ruleset
from mamori.rulesadmin.paths import managed_rules_paths

if TYPE_CHECKING:
    from mamori.aml.screening_service import ScreeningService

log = logging.getLogger("mamori.risk")


IDEMPOTENCY_HORIZON_S = 7 * 86400.0
SNAPSHOT_MAGIC = b"MAMORI-ENGINE-SNAPSHOT 1\n"


@dataclass(frozen=True, slots=True)
class Outcome:
    """A decision as the API returns it: the stored JSON body and a summary of it."""

    body: bytes
    event_id: str
    decision: str
    score: int
    rules: tuple[str, ...]
    duplicate: bool

    @classmethod
    def from_body(cls, body: bytes, *, duplicate: bool) -> Outcome:
        data = orjson.loads(body)
        return cls(body, data["event_id"], data["decision"], data["score"],
                   tuple(r["id"] for r in data["rules"]), duplicate)


def to_record(event: EventBase, decision: Decision, body: bytes, received_us: int) -> AcceptedRecord:
    return AcceptedRecord(
        event_id=event.id, event_type=decision.event_type, account_id=event.account_id,
        occurred_at_us=int(event.occurred_at.timestamp() * 1_000_000), received_at_us=received_us,
        payload=event.model_dump_json(exclude_none=True), decision=decision.verdict.name,
        score=decision.score, ruleset=decision.ruleset, alert=decision.alert,
        rule_ids=tuple(r.id for r in decision.rules), body=body.decode(),
        decided_at_us=now_us())


class RecentIds:
    """The idempotency index: ids of events that occurred within ``horizon_s`` of the newest one.

    Memory stays bounded however long the server runs. An event older than the horizon is not
    assumed new: :meth:`covers` says so and the caller asks the store."""

    def __init__(self, horizon_s: float = IDEMPOTENCY_HORIZON_S) -> None:
        self.horizon_s = horizon_s
        self._ids: set[str] = set()
        self._order: deque[tuple[float, str]] = deque()
        self._newest = float("-inf")

    def __contains__(self, event_id: str) -> bool:
        return event_id in self._ids

    def __len__(self) -> int:
        return len(self._ids)

    def covers(self, ts: float) -> bool:
        return ts >= self._newest - self.horizon_s

    def add(self, event_id: str, ts: float) -> None:
        self._ids.add(event_id)
        self._order.append((ts, event_id))
        if ts > self._newest:
            self._newest = ts
        cutoff = self._newest - self.horizon_s
        order = self._order
        while order and order[0][0] < cutoff:
            self._ids.discard(order.popleft()[1])

    def discard(self, event_id: str) -> None:
        self._ids.discard(event_id)


def rules_mtime(path: Path) -> tuple[tuple[str, int, int], ...]:
    """A signature of the rule files (name, mtime, size): changes when a file is edited, added or removed."""
    files = [path] if path.is_file() else sorted(path.glob("*.yaml"))
    out = []
    for f in files:
        try:
            st = f.stat()
        except FileNotFoundError:  # removed while we looked
            continue
        out.append((f.name, st.st_mtime_ns, st.st_size))
    return tuple(out)


class RiskService:
    def __init__(self, *, engine: Engine, store: SqlStore, rules_path: Path,
                 shadow_path: Path | None = None, snapshot_path: Path | None = None) -> None:
        self.engine = engine
        self.store = store
        self.rules_path = rules_path
        self.shadow_path = shadow_path
        self.snapshot_path = snapshot_path
        self.writer = GroupCommitWriter(store.write_accepted)
        self._seen = RecentIds()
        self._pending: dict[str, asyncio.Future[None]] = {}
        self._rules_mtime = self._rules_signature()
        # The engine is not thread-safe: events are processed on the event loop, and a rule set swap
        # (which may run in a worker thread, it reads history) holds this lock so the two never overlap.
        self._engine_lock = asyncio.Lock()
        # Called with (decision dict, event) after each decision is durable, in order (notices).
        self.on_decided: Callable[[dict[str, Any], EventBase], None] | None = None
        self.restored = 0  # events replayed into the engine at start-up
        self.restored_from_snapshot = 0  # events covered by the snapshot loaded at start-up
        self.screening: ScreeningService | None = None  # risk lists and address screening (mamori.aml)

    @classmethod
    def open(cls, settings: Settings) -> RiskService:
        geo = open_geo(settings)
        # A version published through rule management (mamori.rulesadmin) stays active after a restart.
        rules_path, shadow_path = managed_rules_paths(settings.data_dir, settings.rules_path or builtin_rules_path(),
                                                      settings.shadow_rules_path)
        ruleset = load_ruleset(rules_path)
        shadow = load_ruleset(shadow_path) if shadow_path else None
        store = SqlStore(settings.resolved_database_url(), synchronous=settings.sqlite_synchronous)
        from mamori.aml.screening_service import ScreeningService  # the risk lists (issue 6) on the same store

        screening = ScreeningService(store)
        engine = Engine(ruleset, geo=geo, shadow=shadow, home_country=settings.home_country,
                        screening=screening.screener)
        snapshot = settings.data_dir / "engine.snapshot"
        service = cls(engine=engine, store=store, rules_path=rules_path,
                      shadow_path=shadow_path, snapshot_path=snapshot)
        service.screening = screening
        service.restore()
        store.record_ruleset(ruleset.identity, ruleset.name, ruleset.version, ruleset.sources)
        return service

    def restore(self) -> None:
        """Rebuild feature state: from the snapshot if there is a usable one, then from the events
        stored after it (or from every stored event). Then reload the recent ids for idempotency."""
        after_seq, missing = self._load_snapshot()
        for payload, verdict in self.store.iter_history(after_seq=after_seq):
            self.engine.restore(parse_event(payload), verdict)
            self.restored += 1
        if missing:
            self._backfill(missing)
        newest = self.store.newest_occurred_at_us()
        if newest is not None:
            since = newest - int(self._seen.horizon_s * 1_000_000)
            for event_id in self.store.event_ids(occurred_since_us=since):
                self._seen.add(event_id, newest / 1_000_000)

    # -- snapshots -----------------------------------------------------------------------------
    def _load_snapshot(self) -> tuple[int, list[str]]:
        """(sequence number the snapshot covers, window features to backfill); (0, []) without one."""
        path = self.snapshot_path
        if path is None or not path.exists():
            return 0, []
        try:
            raw = path.read_bytes()
            if not raw.startswith(SNAPSHOT_MAGIC):
                raise ValueError("not a mamori snapshot file")
            header_end = raw.index(b"\n", len(SNAPSHOT_MAGIC))
            header = orjson.loads(raw[len(SNAPSHOT_MAGIC):header_end])
            body = raw[header_end + 1:]
            if hashlib.sha256(body).hexdigest() != header["sha256"]:
                raise ValueError("checksum mismatch")
            if int(header["seq"]) > self.store.last_seq():
                raise ValueError("snapshot is newer than the store (was the database replaced?)")
            missing = self.engine.load_snapshot(body)
        except (OSError, ValueError, KeyError, orjson.JSONDecodeError) as exc:
            log.warning("engine snapshot %s not used (%s); rebuilding from every stored event", path, exc)
            self.engine = Engine(self.engine.ruleset, geo=self.engine.geo, shadow=self.engine.shadow,
                                 home_country=self.engine.home_country, screening=self.engine.screening)
            return 0, []
        log.info("engine state loaded from %s (events up to #%s)", path, header["seq"])
        self.restored_from_snapshot = int(header["seq"])
        return int(header["seq"]), missing

    async def save_snapshot(self) -> int | None:
        """Write the engine state atomically (temp file, fsync, rename) at a consistent point:
        event processing paused and every decided event durable. Returns the covered sequence."""
        path = self.snapshot_path
        if path is None:
            return None
        async with self._engine_lock:
            await self.drain()
            seq = await asyncio.to_thread(self.store.last_seq)
            body = self.engine.snapshot()
        header = orjson.dumps({"seq": seq, "sha256": hashlib.sha256(body).hexdigest(),
                               "ruleset": self.engine.ruleset.identity, "created_at": time.time()})
        await asyncio.to_thread(write_atomically, path, SNAPSHOT_MAGIC + header + b"\n" + body)
        log.info("engine snapshot written: %s (events up to #%d, %d bytes)", path, seq, len(body))
        return seq

    def close(self) -> None:
        self.writer.close()
        self.store.close()

    async def _known(self, event: EventBase) -> bool:
        """Whether ``event.id`` was already accepted (the store is asked only for very old events)."""
        if event.id in self._seen:
            return True
        if self._seen.covers(event.occurred_at.timestamp()):
            return False
        return await asyncio.to_thread(self.store.has_event, event.id)

    async def decide(self, event: EventBase) -> Outcome:
        """Decide one event; the answer is returned only after the event is durable."""
        return (await self.ingest([event]))[0]

    async def ingest(self, events: list[EventBase]) -> list[Outcome]:
        """Decide a batch in order; one durable write for the whole batch."""
        received = now_us()
        outcomes: list[Outcome | None] = []
        records: list[AcceptedRecord] = []
        waits: list[asyncio.Future[None]] = []
        batch_ids: dict[str, Outcome] = {}
        decided: list[tuple[dict[str, Any], EventBase]] = []
        async with self._engine_lock:
            try:
                for event in events:
                    if await self._known(event):
                        pending = self._pending.get(event.id)
                        if pending is not None:
                            waits.append(pending)
                        outcomes.append(None)
                        continue
                    decision = self.engine.process(event)
                    as_dict = decision.to_dict()
                    body = orjson.dumps(as_dict)
                    decided.append((as_dict, event))
                    records.append(to_record(event, decision, body, received))
                    self._seen.add(event.id, event.occurred_at.timestamp())
                    outcome = Outcome(body, event.id, decision.verdict.name, decision.score,
                                      tuple(r.id for r in decision.rules), duplicate=False)
                    batch_ids[event.id] = outcome
                    outcomes.append(outcome)
            except BaseException:
                # Nothing of this batch is written: forget its ids, so that they are not taken for
                # (never stored) duplicates later.
                for r in records:
                    self._seen.discard(r.event_id)
                raise
        if records:
            await self._write(records)
            if self.on_decided is not None:  # side effects only after the decisions are durable
                for as_dict, event in decided:
                    self.on_decided(as_dict, event)
        for wait in waits:
            await asyncio.shield(wait)
        result: list[Outcome] = []
        for event, maybe in zip(events, outcomes, strict=True):
            if maybe is not None:
                result.append(maybe)
                continue
            own = batch_ids.get(event.id)
            if own is not None:
                result.append(Outcome(own.body, own.event_id, own.decision, own.score, own.rules, duplicate=True))
            else:
                stored = await asyncio.to_thread(self.store.get_decision, event.id)
                result.append(Outcome.from_body(orjson.dumps(stored), duplicate=True))
        return result

    async def _write(self, records: list[AcceptedRecord]) -> None:
        """Hand ``records`` to the group-commit writer and wait until they are durable.

        The bookkeeping (idempotency index, futures that duplicates wait on) follows the write's own
        outcome, not this request's: if the request is cancelled while the write is queued, the write
        still happens and its ids stay known, so a resend is a duplicate and never a second insert."""
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        for r in records:
            self._pending[r.event_id] = done

        def settle(write: asyncio.Future[None]) -> None:
            for r in records:
                if self._pending.get(r.event_id) is done:
                    del self._pending[r.event_id]
            exc = StorageUnavailable("the write was cancelled") if write.cancelled() else write.exception()
            if exc is not None:
                for r in records:
                    self._seen.discard(r.event_id)
                done.set_exception(exc)
                done.exception()  # mark retrieved; duplicates waiting on it re-raise it themselves
            else:
                done.set_result(None)

        write = asyncio.ensure_future(self.writer.submit(records))
        write.add_done_callback(settle)
        await asyncio.shield(write)

    async def drain(self) -> None:
        """Wait until every event decided so far is written (or failed)."""
        pending = set(self._pending.values())
        if pending:
            await asyncio.gather(*(asyncio.shield(f) for f in pending), return_exceptions=True)

    # -- rule sets -----------------------------------------------------------------------------
    def load_rules(self) -> tuple[Ruleset, Ruleset | None]:
        """Read and compile the rule files (thread-safe; the engine is not touched). A file that
        cannot be read is a :class:`RuleCompileError` like any other problem."""
        self._rules_mtime = self._rules_signature()  # before reading: a broken edit is reported once
        try:
            ruleset = load_ruleset(self.rules_path)
            shadow = load_ruleset(self.shadow_path) if self.shadow_path else None
        except (OSError, UnicodeDecodeError) as exc:
            paths = [self.rules_path, *([self.shadow_path] if self.shadow_path else [])]
            origin = _unreadable_file(exc, paths)
            raise RuleCompileError(f"{origin}: cannot read rule file: {exc}",
                                   details={"file": origin, "line": 1, "column": 1}) from None
        return ruleset, shadow

    def apply_rules(self, ruleset: Ruleset, shadow: Ruleset | None, *, actor: str = "system") -> str | None:
        """Swap in ``ruleset`` (and ``shadow``) unless they are the active ones. Returns the new
        identity, or None if nothing changed. Needs exclusive use of the engine."""
        current = self.engine.ruleset
        same_shadow = (shadow is None) == (self.engine.shadow is None) and (
            shadow is None or self.engine.shadow is None or shadow.identity == self.engine.shadow.identity)
        if ruleset.identity == current.identity and same_shadow:
            return None
        self.activate(ruleset, shadow, actor=actor)
        return ruleset.identity

    def reload_rules(self, *, actor: str = "system") -> str | None:
        """Load the rule files again; swap them in if they changed. Returns the new identity, or
        None if nothing changed. A broken rule set raises and leaves the active one in place.
        Only for callers that own the engine (no events being decided concurrently); a running
        server uses :meth:`reload`."""
        ruleset, shadow = self.load_rules()
        return self.apply_rules(ruleset, shadow, actor=actor)

    async def reload(self, *, actor: str = "system") -> str | None:
        """:meth:`reload_rules` while events are being decided: compile in a worker thread, then
        swap with event processing paused and every decided event written (so that new windows are
        backfilled from complete history)."""
        ruleset, shadow = await asyncio.to_thread(self.load_rules)
        async with self._engine_lock:
            await self.drain()
            return await asyncio.to_thread(self.apply_rules, ruleset, shadow, actor=actor)

    def activate(self, ruleset: Ruleset, shadow: Ruleset | None, *, actor: str) -> None:
        try:
            fresh = self.engine.set_ruleset(ruleset, shadow=shadow)
        except ValueError as exc:  # the engine refused the pair and keeps the active one
            origin = str(self.shadow_path or self.rules_path)
            raise RuleCompileError(f"{origin}: {exc}", details={"file": origin, "line": 1, "column": 1}) from None
        if fresh:
            self._backfill(fresh)
        self.store.record_ruleset(ruleset.identity, ruleset.name, ruleset.version, ruleset.sources)
        self.store.audit(actor=actor, action="ruleset.activate", target=ruleset.identity,
                         details={"shadow": shadow.identity if shadow else None, "backfilled": fresh})
        log.info("rule set %s active (shadow: %s)", ruleset.identity, shadow.identity if shadow else None)

    def _backfill(self, names: list[str]) -> None:
        longest = max(d.window_s for d in self.engine.aggregates.definitions if d.name in names)
        newest = self.store.newest_occurred_at_us()
        if newest is None:
            return
        # Measured from the newest stored event (not the wall clock), with a day of slack for late events.
        start_us = newest - int(longest * 1_000_000) - 86_400_000_000
        events = [parse_event(p) for p in self.store.iter_events_between(start_us, None)]
        self.engine.backfill(events, names)

    def _rules_signature(self) -> tuple[tuple[str, int, int], ...]:
        shadow = rules_mtime(self.shadow_path) if self.shadow_path else ()
        return rules_mtime(self.rules_path) + shadow

    def rules_changed_on_disk(self) -> bool:
        """Whether a rule file (active or shadow) was edited, added or removed since the last load."""
        try:
            return self._rules_signature() != self._rules_mtime
        except OSError:
            return False


def _unreadable_file(exc: OSError | UnicodeDecodeError, paths: list[Path]) -> str:
    """The name of the rule file behind ``exc`` (UnicodeDecodeError does not say which file)."""
    if isinstance(exc, OSError) and exc.filename:
        return Path(exc.filename).name
    for path in paths:
        files = [path] if path.is_file() else sorted(path.glob("*.yaml"))
        for f in files:
            try:
                f.read_bytes().decode("utf-8")
            except (OSError, UnicodeDecodeError):
                return f.name
    return str(paths[0])


def open_geo(settings: Settings) -> GeoProvider:
    return open_geo_provider(country_mmdb=settings.geo_country_mmdb, asn_mmdb=settings.geo_asn_mmdb,
                             network_classes=settings.geo_network_classes, tor_exits=settings.geo_tor_exits)


__all__ = ["MamoriError", "Outcome", "RiskService"]
