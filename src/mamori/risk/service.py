"""The risk service: validated events in, durable explained decisions out.

Orchestrates the pure parts (engine) and the adapters (store, writer): idempotency by event id,
one durable write per event (event + decision + alert in one transaction, group-committed), state
rebuilt from the store at start-up, and rule sets hot-reloaded from disk with their new windows
backfilled from stored history.
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from mamori.adapters.geo import GeoProvider, open_geo_provider
from mamori.adapters.sql.store import AcceptedRecord, SqlStore, now_us
from mamori.adapters.sql.writer import GroupCommitWriter
from mamori.events.models import EventBase
from mamori.events.parse import parse_event
from mamori.kit.errors import MamoriError, RuleCompileError, StorageUnavailable
from mamori.kit.settings import Settings
from mamori.risk.engine import Decision, Engine
from mamori.risk.rules.loader import builtin_rules_path, load_ruleset
from mamori.risk.rules.model import Ruleset

log = logging.getLogger("mamori.risk")


@dataclass(frozen=True, slots=True)
class Outcome:
    body: dict[str, Any]
    duplicate: bool


def to_record(event: EventBase, decision: Decision, body: dict[str, Any], received_us: int) -> AcceptedRecord:
    return AcceptedRecord(
        event_id=event.id, event_type=decision.event_type, account_id=event.account_id,
        occurred_at_us=int(event.occurred_at.timestamp() * 1_000_000), received_at_us=received_us,
        payload=event.model_dump_json(exclude_none=True), decision=decision.verdict.name,
        score=decision.score, ruleset=decision.ruleset, alert=decision.alert,
        rule_ids=tuple(r.id for r in decision.rules), body=orjson.dumps(body).decode(),
        decided_at_us=now_us())


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
                 shadow_path: Path | None = None) -> None:
        self.engine = engine
        self.store = store
        self.rules_path = rules_path
        self.shadow_path = shadow_path
        self.writer = GroupCommitWriter(store.write_accepted)
        self._seen: set[str] = set()
        self._pending: dict[str, asyncio.Future[None]] = {}
        self._rules_mtime = self._rules_signature()
        # The engine is not thread-safe: events are processed on the event loop, and a rule set swap
        # (which may run in a worker thread, it reads history) holds this lock so the two never overlap.
        self._engine_lock = asyncio.Lock()
        self.restored = 0

    @classmethod
    def open(cls, settings: Settings) -> RiskService:
        geo = open_geo(settings)
        rules_path = settings.rules_path or builtin_rules_path()
        ruleset = load_ruleset(rules_path)
        shadow = load_ruleset(settings.shadow_rules_path) if settings.shadow_rules_path else None
        store = SqlStore(settings.resolved_database_url(), synchronous=settings.sqlite_synchronous)
        engine = Engine(ruleset, geo=geo, shadow=shadow, home_country=settings.home_country)
        service = cls(engine=engine, store=store, rules_path=rules_path,
                      shadow_path=settings.shadow_rules_path)
        service.restore()
        store.record_ruleset(ruleset.identity, ruleset.name, ruleset.version, ruleset.sources)
        return service

    def restore(self) -> None:
        """Rebuild feature state and the idempotency index from every stored event."""
        for payload, verdict in self.store.iter_history():
            event = parse_event(payload)
            self.engine.restore(event, verdict)
            self._seen.add(event.id)
            self.restored += 1

    def close(self) -> None:
        self.writer.close()
        self.store.close()

    async def decide(self, event: EventBase) -> Outcome:
        """Decide one event; the answer is returned only after the event is durable."""
        return (await self.ingest([event]))[0]

    async def ingest(self, events: list[EventBase]) -> list[Outcome]:
        """Decide a batch in order; one durable write for the whole batch."""
        received = now_us()
        outcomes: list[Outcome | None] = []
        records: list[AcceptedRecord] = []
        waits: list[asyncio.Future[None]] = []
        async with self._engine_lock:
            try:
                for event in events:
                    if event.id in self._seen:
                        pending = self._pending.get(event.id)
                        if pending is not None:
                            waits.append(pending)
                        outcomes.append(None)
                        continue
                    decision = self.engine.process(event)
                    body = decision.to_dict()
                    records.append(to_record(event, decision, body, received))
                    self._seen.add(event.id)
                    outcomes.append(Outcome(body, duplicate=False))
            except BaseException:
                # Nothing of this batch is written: forget its ids, so that they are not taken for
                # (never stored) duplicates later.
                for r in records:
                    self._seen.discard(r.event_id)
                raise
        if records:
            await self._write(records)
        for wait in waits:
            await asyncio.shield(wait)
        result = []
        for event, outcome in zip(events, outcomes, strict=True):
            if outcome is None:
                own = next((o for e, o in zip(events, outcomes, strict=True) if o and e.id == event.id), None)
                body = (own.body if own is not None
                        else await asyncio.to_thread(self.store.get_decision, event.id))
                outcome = Outcome(body, duplicate=True)
            result.append(outcome)
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
        start_us = now_us() - int(longest * 1_000_000) - 86_400_000_000  # a day of slack for late events
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
