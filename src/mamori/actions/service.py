"""The actions service: propose, approve (four-eyes), reject, execute, call the firm, retry.

Lifecycle (:class:`mamori.actions.policy.ActionState`)::

    proposed --approve (another principal)--> approved --effects--> executed --webhook 2xx--> done
        \\--reject--> rejected                                          \\--gave up--> failed --retry--> executed

* Approving is one transaction: compare-and-set ``proposed`` -> ``approved`` (two approvals at once:
  one wins, the other gets ``Conflict``), compare-and-set of the held item ``pending`` -> ``released``
  / ``cancelled`` (no longer pending: ``Conflict``, nothing changes), and the webhook outbox row. A
  protective action (policy ``single``) is inserted already approved, with its outbox row.
* Executing sends the action's engine events (:mod:`mamori.actions.effects`, idempotent ids), then
  marks the action ``executed`` and its outbox row ready. A crash between approval and execution
  loses nothing: the worker executes ``approved`` actions it finds (:meth:`ActionsService.recover`).
* The worker delivers ready outbox rows with backoff; the receiver may see a message twice (a crash
  between its answer and our commit) and de-duplicates by ``webhook-id``.

Every step writes its audit record in its own transaction (``action_audit``), appended right after to the
hash-chained audit log (ids and codes only, never the reason text); a record whose append failed stays
pending and is appended by the worker, so the log gets every step at least once.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final

import orjson
from sqlalchemy import Connection, RowMapping, insert, select, update

from mamori.actions import held
from mamori.actions.effects import engine_events, raises_limits
from mamori.actions.params import FreezeParams, HeldParams, LimitParams, params_json, parse_params
from mamori.actions.policy import POLICY, ActionKind, ActionState, needs_second_person
from mamori.actions.tables import action_audit, action_webhooks, actions, create_tables
from mamori.actions.webhook import ActionsSettings, ActionWebhook
from mamori.adapters.sql.audit_outbox import AuditRecord, flush_audit_outbox
from mamori.adapters.sql.store import now_us
from mamori.events.parse import parse_event
from mamori.kit.errors import ConfigError, Conflict, FourEyesRequired, InvalidRequest, MamoriError, NotFound
from mamori.notify.outbox import is_permanent
from mamori.risk.service import RiskService

log = logging.getLogger("mamori.actions")
_UNLOADED: Any = object()  # _view: the webhook row was not fetched by the caller

RECOVER_AFTER_US: Final = 5_000_000  # an approved action not executed after 5 s is executed by the worker
HELD_REFRESH_S: Final = 5.0
MAX_REASON: Final = 2000


def _iso(us: int | None) -> str | None:
    return None if us is None else datetime.fromtimestamp(us / 1e6, UTC).isoformat().replace("+00:00", "Z")


class ActionsService:
    def __init__(self, risk: RiskService, settings: ActionsSettings | None = None, *,
                 webhook: ActionWebhook | None = None, clock: Callable[[], int] = now_us,
                 end_sessions: Callable[[str], int] | None = None) -> None:
        """``end_sessions(account_id)`` ends the account's live sessions when it is frozen (the
        application passes the customer authentication's); returns how many were ended."""
        self.risk = risk
        self.end_sessions = end_sessions
        self.db = risk.store.engine
        self.settings = settings or ActionsSettings()
        self.clock = clock
        self.policy = self.settings.retry_policy()
        if webhook is None and self.settings.webhook_url:
            if not self.settings.webhook_secret:
                raise ConfigError("MAMORI_ACTIONS_WEBHOOK_URL is set without MAMORI_ACTIONS_WEBHOOK_SECRET")
            try:
                webhook = ActionWebhook(self.settings.webhook_url, secret=self.settings.webhook_secret,
                                        timeout_s=self.settings.webhook_timeout_s,
                                        trust_env=self.settings.webhook_trust_env)
            except ValueError as exc:
                raise ConfigError(f"actions webhook: {exc}") from None
        self.webhook = webhook
        create_tables(self.db)
        self._wake: asyncio.Event | None = None
        self._task: asyncio.Task[None] | None = None
        self._held_refreshed = float("-inf")
        self._audit_lock = threading.Lock()

    # -- reads -----------------------------------------------------------------------------------
    def refresh_held(self) -> int:
        return held.refresh(self.db)

    def held(self, **filters: Any) -> list[dict[str, Any]]:
        self.refresh_held()
        return held.query(self.db, **filters)

    def get(self, action_id: str) -> dict[str, Any]:
        with self.db.connect() as conn:
            return self._view(conn, self._load(conn, action_id))

    def list(self, *, state: str | None = None, account_id: str | None = None, kind: str | None = None,
             limit: int = 100, offset: int = 0) -> list[dict[str, Any]]:
        cond = []
        if state is not None:
            cond.append(actions.c.state == state)
        if account_id is not None:
            cond.append(actions.c.account_id == account_id)
        if kind is not None:
            cond.append(actions.c.kind == kind)
        with self.db.connect() as conn:
            rows = conn.execute(select(actions).where(*cond).order_by(actions.c.proposed_at_us.desc(), actions.c.id)
                                .limit(limit).offset(offset)).all()
            hooks = {h.action_id: h for h in conn.execute(  # one query for the page, not one per action
                select(action_webhooks).where(action_webhooks.c.action_id.in_([r.id for r in rows])))} if rows else {}
            return [self._view(conn, r, hooks.get(r.id)) for r in rows]

    @staticmethod
    def _load(conn: Connection, action_id: str) -> Any:
        row = conn.execute(select(actions).where(actions.c.id == action_id)).first()
        if row is None:
            raise NotFound(f"no action {action_id!r}", details={"action_id": action_id})
        return row

    def _view(self, conn: Connection, row: Any, hook: Any = _UNLOADED) -> dict[str, Any]:
        if hook is _UNLOADED:
            hook = conn.execute(select(action_webhooks).where(action_webhooks.c.action_id == row.id)).first()
        delivery = None if hook is None else {
            "webhook_id": hook.webhook_id, "status": hook.status, "attempts": hook.attempts,
            "next_attempt_at": _iso(hook.next_attempt_at_us) if hook.status == "pending" else None,
            "delivered_at": _iso(hook.delivered_at_us), "last_error": hook.last_error or None}
        policy = POLICY[ActionKind(row.kind)]
        return {"id": row.id, "kind": row.kind, "state": row.state, "control": row.control, "target": row.target,
                "account_id": row.account_id, "held_id": row.held_id, "case_id": row.case_id,
                "params": orjson.loads(row.params), "reason": row.reason, "proposed_by": row.proposed_by,
                "proposed_at": _iso(row.proposed_at_us), "decided_by": row.decided_by,
                "decided_at": _iso(row.decided_at_us), "decision_note": row.decision_note,
                "executed_at": _iso(row.executed_at_us), "effects": orjson.loads(row.effects),
                "webhook": row.webhook, "delivery": delivery, "error": row.error,
                "title": {"en": policy.en, "ja": policy.ja}}

    # -- propose ---------------------------------------------------------------------------------
    async def propose(self, actor: str, *, kind: str, reason: str, params: Any,
                      case_id: int | None = None) -> dict[str, Any]:
        try:
            action_kind = ActionKind(kind)
        except ValueError:
            raise InvalidRequest(f"unknown action kind {str(kind)[:40]!r}", details=[
                {"field": "kind", "kind": "enum", "message": f"one of {', '.join(k.value for k in ActionKind)}"}]) \
                from None
        if not isinstance(reason, str) or not reason.strip() or len(reason) > MAX_REASON:
            raise InvalidRequest("a reason is required", details=[
                {"field": "reason", "kind": "missing", "message": f"1-{MAX_REASON} characters"}])
        parsed = parse_params(action_kind, params)
        policy = POLICY[action_kind]
        held_row = None
        if isinstance(parsed, HeldParams):
            await asyncio.to_thread(self.refresh_held)
            held_row = await asyncio.to_thread(self.held_item, parsed.held_id)
            wanted = "order" if policy.target == "held_order" else "withdrawal"
            if held_row.kind != wanted:
                raise InvalidRequest(f"{action_kind.value} acts on a held {wanted}; held item {held_row.id} is "
                                     f"a {held_row.kind}", details=[{"field": "params.held_id", "kind": "mismatch",
                                                                      "message": f"not a held {wanted}"}])
            if held_row.state != "pending":
                raise Conflict(f"held item {held_row.id} is already {held_row.state}",
                               details={"held_id": held_row.id, "state": held_row.state})
        raising = isinstance(parsed, LimitParams) and raises_limits(self.risk.engine, parsed)
        four_eyes = needs_second_person(action_kind, raises_limits=raising)
        account_id = held_row.account_id if held_row is not None else getattr(parsed, "account_id", None)
        target = (f"held:{held_row.id}" if held_row is not None else f"account:{account_id}" if account_id else
                  f"network:{parsed.cidr}" if hasattr(parsed, "cidr") else f"symbol:{parsed.symbol}")  # type: ignore[attr-defined]
        now = self.clock()
        action_id = uuid.uuid4().hex
        row = {"id": action_id, "kind": action_kind.value, "control": "four_eyes" if four_eyes else "single",
               "target": target, "account_id": account_id, "held_id": held_row.id if held_row is not None else None,
               "case_id": case_id, "params": orjson.dumps(params_json(parsed)).decode(), "reason": reason.strip(),
               "proposed_by": actor, "proposed_at_us": now, "effects": "{}", "updated_at_us": now,
               "state": ActionState.proposed.value, "webhook": "pending" if self.webhook else "not_configured"}
        audit = {"kind": action_kind.value, "control": row["control"], "target": target, "case_id": case_id,
                 "raises_limits": raising if isinstance(parsed, LimitParams) else None}
        if four_eyes:
            await asyncio.to_thread(self._insert, row, None, audit)
        else:  # protective: runs at once on one person's say
            row |= {"state": ActionState.approved.value, "decided_by": actor, "decided_at_us": now}
            await asyncio.to_thread(self._insert, row, self._message(row, held_row, now), audit)
        await self._flush()
        if not four_eyes:
            await self.execute(action_id)
        return await asyncio.to_thread(self.get, action_id)

    def _insert(self, row: dict[str, Any], message: bytes | None, audit: dict[str, Any]) -> None:
        with self.db.begin() as conn:
            conn.execute(insert(actions).values(**row))
            self._record(conn, row["proposed_by"], "action.propose", row["id"], audit)
            if message is not None:
                self._outbox(conn, row["id"], message)

    def _outbox(self, conn: Connection, action_id: str, message: bytes) -> None:
        now = self.clock()
        conn.execute(insert(action_webhooks).values(
            action_id=action_id, webhook_id=f"msg_{action_id}", body=message.decode(), status="pending",
            attempts=0, created_at_us=now, next_attempt_at_us=now, last_error="", ready=False, updated_at_us=now))

    def _message(self, row: dict[str, Any] | Any, held_row: Any, approved_at: int) -> bytes | None:
        """The JSON body for the firm's systems (see docs/actions.md), or None without a webhook."""
        if self.webhook is None:
            return None
        get: Callable[[str], Any] = row.get if isinstance(row, dict) else lambda k: getattr(row, k)
        kind = ActionKind(get("kind"))
        target: dict[str, Any] = {"type": POLICY[kind].target, "account_id": get("account_id")}
        if held_row is not None:
            target["held"] = {"held_id": held_row.id, "event_id": held_row.event_id,
                              "event_type": held_row.event_type, "reference": held_row.reference,
                              "outcome": POLICY[kind].held_outcome}
        params = orjson.loads(get("params"))
        if "cidr" in params or "symbol" in params:
            target["value"] = params.get("cidr") or params.get("symbol")
        approvals = [{"by": get("decided_by"), "at": _iso(approved_at),
                      "policy": "four_eyes" if get("control") == "four_eyes" else "single"}]
        return orjson.dumps({
            "type": "mamori.action", "action_id": get("id"), "idempotency_key": get("id"), "kind": kind.value,
            "target": target, "parameters": params, "reason": get("reason"), "case_id": get("case_id"),
            "proposed_by": get("proposed_by"), "proposed_at": _iso(get("proposed_at_us")),
            "control": get("control"), "approvals": approvals})

    # -- approve / reject ------------------------------------------------------------------------
    async def approve(self, actor: str, action_id: str, note: str | None = None) -> dict[str, Any]:
        await asyncio.to_thread(self._approve, actor, action_id, note)
        await self._flush()
        await self.execute(action_id)
        return await asyncio.to_thread(self.get, action_id)

    def _approve(self, actor: str, action_id: str, note: str | None) -> Any:
        now = self.clock()
        with self.db.begin() as conn:
            row = self._load(conn, action_id)
            if row.state != ActionState.proposed:
                raise Conflict(f"action {action_id} is {row.state}, not proposed",
                               details={"action_id": action_id, "state": row.state})
            if row.proposed_by == actor:
                raise FourEyesRequired("the approver must be someone other than the proposer",
                                       details={"action_id": action_id, "proposed_by": row.proposed_by})
            moved = conn.execute(update(actions).where(actions.c.id == action_id,
                                                       actions.c.state == ActionState.proposed.value)
                                 .values(state=ActionState.approved.value, decided_by=actor, decided_at_us=now,
                                         decision_note=note, updated_at_us=now)).rowcount
            if not moved:
                raise Conflict(f"action {action_id} was decided meanwhile", details={"action_id": action_id})
            held_row = None
            if row.held_id is not None:
                held_row = held.load(conn, row.held_id)
                outcome = POLICY[ActionKind(row.kind)].held_outcome or "released"
                if not held.resolve(conn, row.held_id, outcome=outcome, by=actor, at_us=now, action_id=action_id):
                    raise Conflict(f"held item {row.held_id} is no longer pending (state {held_row.state})",
                                   details={"held_id": row.held_id, "state": held_row.state})
            approved = self._load(conn, action_id)
            self._record(conn, actor, "action.approve", action_id, {"kind": row.kind, "target": row.target,
                                                                   "proposed_by": row.proposed_by})
            message = self._message(approved, held_row, now)
            if message is not None:
                self._outbox(conn, action_id, message)
        return approved

    async def reject(self, actor: str, action_id: str, note: str | None = None) -> dict[str, Any]:
        def run() -> None:
            now = self.clock()
            with self.db.begin() as conn:
                row = self._load(conn, action_id)
                moved = conn.execute(update(actions).where(actions.c.id == action_id,
                                                           actions.c.state == ActionState.proposed.value)
                                     .values(state=ActionState.rejected.value, decided_by=actor, decided_at_us=now,
                                             decision_note=note, webhook="not_sent", updated_at_us=now)).rowcount
                if not moved:
                    raise Conflict(f"action {action_id} is {row.state}, not proposed",
                                   details={"action_id": action_id, "state": row.state})
                self._record(conn, actor, "action.reject", action_id, {"kind": row.kind, "target": row.target,
                                                                       "proposed_by": row.proposed_by})

        await asyncio.to_thread(run)
        await self._flush()
        return await asyncio.to_thread(self.get, action_id)

    # -- execute ---------------------------------------------------------------------------------
    async def execute(self, action_id: str) -> None:
        """Carry out an approved action's effects inside mamori (idempotent). A failure is recorded on
        the action, which stays ``approved``; the worker tries again."""
        row = await asyncio.to_thread(self._row, action_id)
        if row.state != ActionState.approved:
            return
        try:
            params = parse_params(ActionKind(row.kind), orjson.loads(row.params))
            now = datetime.fromtimestamp(self.clock() / 1e6, UTC)
            events = engine_events(self.risk.engine, action_id, params, operator=row.decided_by, now=now)
            decided = []
            for data in events:
                outcome = await self.risk.decide(parse_event(data))
                decided.append({"event_id": outcome.event_id, "type": data["type"], "decision": outcome.decision})
        except MamoriError as exc:
            await asyncio.to_thread(self._note_error, action_id, f"{exc.code}: {exc.message}", exc.code)
            await self._flush()
            return
        effects: dict[str, Any] = {"events": decided}
        if isinstance(params, FreezeParams) and self.end_sessions is not None:
            try:  # a frozen account keeps no live session anywhere (the attacker's included)
                effects["sessions_ended"] = await asyncio.to_thread(self.end_sessions, params.account_id)
            except Exception:
                log.exception("action %s: could not end the sessions of the frozen account", action_id)
                effects["sessions_ended"] = None
        if row.held_id is not None:
            effects["held"] = {"held_id": row.held_id, "state": POLICY[ActionKind(row.kind)].held_outcome}
        done = await asyncio.to_thread(self._executed, row, effects)
        if done:
            await self._flush()
            self.wake()

    def held_item(self, held_id: int) -> Any:
        with self.db.connect() as conn:
            return held.load(conn, held_id)

    def _row(self, action_id: str) -> Any:
        with self.db.connect() as conn:
            return self._load(conn, action_id)

    def _note_error(self, action_id: str, error: str, code: str) -> None:
        with self.db.begin() as conn:
            conn.execute(update(actions).where(actions.c.id == action_id)
                         .values(error=error[:300], updated_at_us=self.clock()))
            self._record(conn, "system", "action.execute_failed", action_id, {"code": code})

    def _executed(self, row: Any, effects: dict[str, Any]) -> bool:
        now, action_id = self.clock(), row.id
        with self.db.begin() as conn:
            has_hook = conn.execute(select(action_webhooks.c.id).where(action_webhooks.c.action_id == action_id)
                                    ).first() is not None
            state = ActionState.executed if has_hook else ActionState.done
            moved = conn.execute(update(actions).where(actions.c.id == action_id,
                                                       actions.c.state == ActionState.approved.value)
                                 .values(state=state.value, executed_at_us=now, effects=orjson.dumps(effects).decode(),
                                         error=None, updated_at_us=now)).rowcount
            if moved and has_hook:
                conn.execute(update(action_webhooks).where(action_webhooks.c.action_id == action_id)
                             .values(ready=True, next_attempt_at_us=now, updated_at_us=now))
            if moved:
                self._record(conn, row.decided_by, "action.execute", action_id, {
                    "kind": row.kind, "target": row.target, "sessions_ended": effects.get("sessions_ended"),
                    "event_ids": [e["event_id"] for e in effects["events"]]})
        return bool(moved)

    async def recover(self) -> int:
        """Execute approved actions whose execution did not finish (a crash, a failed effect)."""
        cutoff = self.clock() - RECOVER_AFTER_US

        def stuck() -> list[str]:
            with self.db.connect() as conn:
                return list(conn.execute(select(actions.c.id).where(
                    actions.c.state == ActionState.approved.value, actions.c.decided_at_us <= cutoff)
                    .order_by(actions.c.decided_at_us).limit(100)).scalars())

        ids = await asyncio.to_thread(stuck)
        for action_id in ids:
            await self.execute(action_id)
        return len(ids)

    # -- the webhook -----------------------------------------------------------------------------
    async def deliver_due(self) -> int:
        """One attempt for every ready, due outbox row; returns how many were attempted."""
        if self.webhook is None:
            return 0
        now = self.clock()

        def due() -> list[Any]:
            t = action_webhooks
            with self.db.connect() as conn:
                return list(conn.execute(select(t).where(t.c.status == "pending", t.c.ready.is_(True),
                                                         t.c.next_attempt_at_us <= now)
                                         .order_by(t.c.next_attempt_at_us, t.c.id).limit(50)))

        rows = await asyncio.to_thread(due)
        for row in rows:
            result = await asyncio.to_thread(self.webhook.post, row.webhook_id, row.body.encode())
            await asyncio.to_thread(self._settle, row, result.ok, result.detail, is_permanent(result))
        await self._flush()
        return len(rows)

    def _settle(self, row: Any, ok: bool, detail: str, permanent: bool) -> str:
        now = self.clock()
        attempts = row.attempts + 1
        first = row.first_attempt_at_us or now
        t = action_webhooks
        if ok:
            status, hook, state, next_us = "delivered", "delivered", ActionState.done, now
        else:
            next_at = None if permanent else self.policy.next_attempt(
                datetime.fromtimestamp(first / 1e6, UTC), attempts, datetime.fromtimestamp(now / 1e6, UTC))
            if next_at is None:
                status, hook, state, next_us = "gave_up", "failed", ActionState.failed, now
            else:
                next_us = int(next_at.timestamp() * 1e6)
                status, hook, state = "pending", "pending", ActionState.executed
        with self.db.begin() as conn:
            conn.execute(update(t).where(t.c.id == row.id).values(
                status=status, attempts=attempts, first_attempt_at_us=first, next_attempt_at_us=next_us,
                delivered_at_us=now if ok else None, last_error="" if ok else detail[:300], updated_at_us=now))
            conn.execute(update(actions).where(actions.c.id == row.action_id).values(
                state=state.value, webhook=hook, error=None if ok else detail[:300], updated_at_us=now))
            self._record(conn, "system", f"action.webhook_{status}", row.action_id, {
                "webhook_id": row.webhook_id, "attempts": attempts, "detail": detail[:80]})
        if status == "gave_up":
            log.error("action %s: the firm's systems were not reached after %d attempts (%s); an operator can "
                      "retry it", row.action_id, attempts, detail)
        elif not ok:
            log.warning("action %s: webhook attempt %d failed (%s); next attempt at %s", row.action_id, attempts,
                        detail, _iso(next_us))
        return status

    async def retry(self, actor: str, action_id: str) -> dict[str, Any]:
        """An operator tries a failed action again: its webhook from the start, or its execution."""
        row = await asyncio.to_thread(self._row, action_id)
        if row.state == ActionState.approved:
            def note() -> None:
                with self.db.begin() as conn:
                    self._record(conn, actor, "action.retry", action_id, {"step": "execute"})

            await asyncio.to_thread(note)
            await self.execute(action_id)
            await self._flush()
            return await asyncio.to_thread(self.get, action_id)
        if row.state != ActionState.failed:
            raise Conflict(f"action {action_id} is {row.state}; only failed (or stuck approved) actions are retried",
                           details={"action_id": action_id, "state": row.state})

        def reset() -> None:
            now = self.clock()
            with self.db.begin() as conn:
                moved = conn.execute(update(actions).where(actions.c.id == action_id,
                                                           actions.c.state == ActionState.failed.value)
                                     .values(state=ActionState.executed.value, webhook="pending", updated_at_us=now)
                                     ).rowcount
                if not moved:
                    raise Conflict(f"action {action_id} changed meanwhile", details={"action_id": action_id})
                conn.execute(update(action_webhooks).where(action_webhooks.c.action_id == action_id).values(
                    status="pending", attempts=0, first_attempt_at_us=None, next_attempt_at_us=now, updated_at_us=now))
                self._record(conn, actor, "action.retry", action_id, {"step": "webhook"})

        await asyncio.to_thread(reset)
        await self._flush()
        self.wake()
        return await asyncio.to_thread(self.get, action_id)

    # -- audit and the worker --------------------------------------------------------------------
    def _record(self, conn: Connection, actor: str, action: str, action_id: str, details: dict[str, Any]) -> None:
        """The step's audit record, in the step's own transaction (appended to the log by :meth:`flush_audit`)."""
        conn.execute(insert(action_audit).values(
            actor=actor, action=action, target=f"action:{action_id}", created_at_us=self.clock(), pending=True,
            details=orjson.dumps({"action_id": action_id, **details}).decode()))

    def flush_audit(self, limit: int = 1000) -> int:
        """Append pending step records to the hash-chained audit log, in order; returns how many (never raises;
        what could not be appended stays pending for the next call — the worker calls it too)."""
        return flush_audit_outbox(self.risk.store, action_audit, action_audit.c.pending, _action_audit_record,
                                  lock=self._audit_lock, what="action steps", limit=limit)

    async def _flush(self) -> None:
        await asyncio.to_thread(self.flush_audit)

    def wake(self) -> None:
        if self._wake is not None:
            self._wake.set()

    async def run_round(self) -> None:
        loop_time = asyncio.get_running_loop().time()
        if loop_time - self._held_refreshed >= HELD_REFRESH_S:
            await asyncio.to_thread(self.refresh_held)
            self._held_refreshed = loop_time
        await self.recover()
        await self.deliver_due()
        await self._flush()

    async def start(self) -> None:
        self._wake = asyncio.Event()
        self._task = asyncio.create_task(self._run(), name="mamori-actions")
        log.info("actions: webhook to the firm's systems %s", self.webhook.name if self.webhook else
                 "off (set MAMORI_ACTIONS_WEBHOOK_URL and MAMORI_ACTIONS_WEBHOOK_SECRET to turn it on)")

    async def _run(self) -> None:
        assert self._wake is not None
        while True:
            self._wake.clear()
            try:
                await self.run_round()
            except Exception:
                log.exception("actions worker round failed; trying again in %.1f s", self.settings.worker_interval_s)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), self.settings.worker_interval_s)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None


def _action_audit_record(row: RowMapping) -> AuditRecord:
    details = {**orjson.loads(row["details"]), "audit_id": row["id"]}
    return AuditRecord(row["actor"], row["action"], row["target"], details)
