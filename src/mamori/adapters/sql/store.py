"""The durable store: accepted events with their decisions, alerts, API keys, rule sets, audit.

One class for SQLite (the embedded default, WAL mode) and PostgreSQL, through SQLAlchemy Core.
An event and its decision (and alert) are written in one transaction: either all are durable or
none is, and the HTTP response is sent only after the commit.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import orjson
from sqlalchemy import Connection, Engine, and_, create_engine, event, func, insert, select, update
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from mamori.adapters.sql.schema import alerts, api_keys, audit_log, decisions, events, metadata, rulesets
from mamori.kit.errors import NotFound, StorageUnavailable


def now_us() -> int:
    return time.time_ns() // 1000


@dataclass(frozen=True, slots=True)
class AcceptedRecord:
    """An accepted event and its decision, ready to be written together."""

    event_id: str
    event_type: str
    account_id: str
    occurred_at_us: int
    received_at_us: int
    payload: str
    decision: str
    score: int
    ruleset: str
    alert: bool
    rule_ids: tuple[str, ...]
    body: str
    decided_at_us: int


@dataclass(frozen=True, slots=True)
class ApiKey:
    key_id: str
    name: str
    scopes: frozenset[str]
    secret_sha256: str
    revoked: bool


def _sqlite_pragmas(synchronous: str) -> Any:
    def on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute(f"PRAGMA synchronous={synchronous}")
        cursor.execute("PRAGMA busy_timeout=5000")
        cursor.close()

    return on_connect


class SqlStore:
    def __init__(self, url: str, *, synchronous: str = "FULL") -> None:
        self.url = url
        engine: Engine | None = None
        try:
            if url.startswith("sqlite"):
                engine = create_engine(url, connect_args={"check_same_thread": False})
                if synchronous not in ("OFF", "NORMAL", "FULL", "EXTRA"):
                    raise ValueError(f"unknown SQLite synchronous mode {synchronous!r}")
                event.listen(engine, "connect", _sqlite_pragmas(synchronous))
            else:
                engine = create_engine(url, pool_pre_ping=True)
            metadata.create_all(engine)
        except SQLAlchemyError as exc:
            if engine is not None:
                engine.dispose()  # no pooled connection outlives the failed open
            raise StorageUnavailable(f"cannot open the store at {_redact(url)}: {exc.__class__.__name__}: "
                                     f"{str(exc).splitlines()[0]}") from None
        self.engine: Engine = engine

    def close(self) -> None:
        self.engine.dispose()

    # -- events and decisions ------------------------------------------------------------------
    def write_accepted(self, records: list[AcceptedRecord]) -> None:
        """Write events, decisions and alerts in one transaction."""
        if not records:
            return
        event_rows = [{"event_id": r.event_id, "event_type": r.event_type, "account_id": r.account_id,
                       "occurred_at_us": r.occurred_at_us, "received_at_us": r.received_at_us,
                       "payload": r.payload} for r in records]
        decision_rows = [{"event_id": r.event_id, "event_type": r.event_type, "account_id": r.account_id,
                          "occurred_at_us": r.occurred_at_us, "decided_at_us": r.decided_at_us,
                          "decision": r.decision, "score": r.score, "ruleset": r.ruleset,
                          "alert": r.alert, "body": r.body} for r in records]
        alert_rows = [{"event_id": r.event_id, "event_type": r.event_type, "account_id": r.account_id,
                       "decision": r.decision, "score": r.score, "rules": orjson.dumps(r.rule_ids).decode(),
                       "created_at_us": r.decided_at_us, "status": "open"} for r in records if r.alert]
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(events), event_rows)
                conn.execute(insert(decisions), decision_rows)
                if alert_rows:
                    conn.execute(insert(alerts), alert_rows)
        except SQLAlchemyError as exc:
            raise StorageUnavailable(f"could not store {len(records)} event(s): "
                                     f"{exc.__class__.__name__}") from exc

    def iter_history(self, *, after_seq: int = 0, batch: int = 5000) -> Iterator[tuple[str, str]]:
        """(event payload JSON, decision verdict) for every accepted event after ``after_seq``, in
        acceptance order."""
        last = after_seq
        while True:
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(events.c.seq, events.c.payload, decisions.c.decision)
                    .join(decisions, decisions.c.event_id == events.c.event_id)
                    .where(events.c.seq > last).order_by(events.c.seq).limit(batch)).all()
            if not rows:
                return
            for seq, payload, verdict in rows:
                last = seq
                yield payload, verdict

    def iter_events_between(self, start_us: int | None, end_us: int | None,
                            *, batch: int = 5000) -> Iterator[str]:
        """Event payloads in acceptance order, optionally limited to an occurred-at range."""
        last = 0
        while True:
            cond = [events.c.seq > last]
            if start_us is not None:
                cond.append(events.c.occurred_at_us >= start_us)
            if end_us is not None:
                cond.append(events.c.occurred_at_us < end_us)
            with self.engine.connect() as conn:
                rows = conn.execute(select(events.c.seq, events.c.payload).where(and_(*cond))
                                    .order_by(events.c.seq).limit(batch)).all()
            if not rows:
                return
            for seq, payload in rows:
                last = seq
                yield payload

    def event_ids(self, *, occurred_since_us: int | None = None) -> set[str]:
        """Ids of stored events (only those that occurred at or after ``occurred_since_us``)."""
        stmt = select(events.c.event_id)
        if occurred_since_us is not None:
            stmt = stmt.where(events.c.occurred_at_us >= occurred_since_us)
        with self.engine.connect() as conn:
            return set(conn.execute(stmt).scalars())

    def has_event(self, event_id: str) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(events.c.seq).where(events.c.event_id == event_id)).first() is not None

    def last_seq(self) -> int:
        """The acceptance sequence number of the newest stored event (0 when empty)."""
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.coalesce(func.max(events.c.seq), 0))).scalar_one())

    def accepted_after(self, after_seq: int, *, limit: int = 1000,
                       bodies: bool = False) -> list[tuple[int, str, int, str | None, str | None]]:
        """(seq, event id, received_at_us, event payload, decision body) of at most ``limit`` events
        accepted after ``after_seq``, in acceptance order; payload and body are ``None`` unless
        ``bodies`` (the notice worker's feed: it reads bodies only for decisions it did not see live)."""
        if bodies:
            stmt = (select(events.c.seq, events.c.event_id, events.c.received_at_us, events.c.payload,
                           decisions.c.body).join(decisions, decisions.c.event_id == events.c.event_id))
        else:
            stmt = select(events.c.seq, events.c.event_id, events.c.received_at_us)
        with self.engine.connect() as conn:
            rows = conn.execute(stmt.where(events.c.seq > after_seq).order_by(events.c.seq).limit(limit)).all()
        return [(int(r[0]), str(r[1]), int(r[2]), r[3] if bodies else None, r[4] if bodies else None)
                for r in rows]

    def newest_occurred_at_us(self) -> int | None:
        with self.engine.connect() as conn:
            value = conn.execute(select(func.max(events.c.occurred_at_us))).scalar()
        return None if value is None else int(value)

    def count_events(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(events)).scalar_one())

    def get_decision(self, event_id: str) -> dict[str, Any]:
        with self.engine.connect() as conn:
            body = conn.execute(select(decisions.c.body).where(decisions.c.event_id == event_id)).scalar()
        if body is None:
            raise NotFound(f"no decision for event {event_id!r}")
        return orjson.loads(body)  # type: ignore[no-any-return]

    def query_decisions(self, *, account_id: str | None = None, decision: str | None = None,
                        since_us: int | None = None, until_us: int | None = None, limit: int = 100,
                        before: tuple[int, str] | None = None) -> list[dict[str, Any]]:
        """Newest first. ``before`` is the (decided_at_us, event_id) of the last row of the previous page."""
        cond = []
        if account_id is not None:
            cond.append(decisions.c.account_id == account_id)
        if decision is not None:
            cond.append(decisions.c.decision == decision)
        if since_us is not None:
            cond.append(decisions.c.occurred_at_us >= since_us)
        if until_us is not None:
            cond.append(decisions.c.occurred_at_us < until_us)
        if before is not None:
            at, eid = before
            cond.append((decisions.c.decided_at_us < at)
                        | and_(decisions.c.decided_at_us == at, decisions.c.event_id < eid))
        stmt = (select(decisions.c.body, decisions.c.decided_at_us).where(*cond)
                .order_by(decisions.c.decided_at_us.desc(), decisions.c.event_id.desc()).limit(limit))
        with self.engine.connect() as conn:
            rows = conn.execute(stmt).all()
        out = []
        for body, decided in rows:
            item = orjson.loads(body)
            item["decided_at_us"] = decided
            out.append(item)
        return out

    def query_alerts(self, *, status: str | None = None, account_id: str | None = None, limit: int = 100,
                     before_id: int | None = None) -> list[dict[str, Any]]:
        cond = []
        if status is not None:
            cond.append(alerts.c.status == status)
        if account_id is not None:
            cond.append(alerts.c.account_id == account_id)
        if before_id is not None:
            cond.append(alerts.c.id < before_id)
        stmt = select(alerts).where(*cond).order_by(alerts.c.id.desc()).limit(limit)
        with self.engine.connect() as conn:
            rows = conn.execute(stmt).mappings().all()
        return [{"id": r["id"], "event_id": r["event_id"], "event_type": r["event_type"],
                 "account_id": r["account_id"], "decision": r["decision"], "score": r["score"],
                 "rules": orjson.loads(r["rules"]), "created_at_us": r["created_at_us"],
                 "status": r["status"]} for r in rows]

    def mark_alerts(self, account_id: str, *, status: str, since_us: int) -> int:
        """Set the status of the account's open alerts raised since ``since_us`` (e.g. to
        ``reported_takeover`` when the customer says "this was not me"). Returns how many."""
        with self.engine.begin() as conn:
            result = conn.execute(update(alerts).where(
                alerts.c.account_id == account_id, alerts.c.status == "open",
                alerts.c.created_at_us >= since_us).values(status=status))
        return int(result.rowcount)

    def raise_alert(self, *, event_id: str, event_type: str, account_id: str, occurred_at_us: int, decision: str,
                    score: int, rule_ids: tuple[str, ...], body: dict[str, Any], ruleset: str) -> tuple[int, bool]:
        """Raise an alert that no live event decision produced (e.g. the AML tracer: traced funds newly
        reached a risky entity): its decision body and the alert in one transaction. ``event_id`` is the
        idempotency key. No ``events`` row is written (replays and backtests read real events only), so
        the caller files the alert into cases itself. Returns (alert id, newly raised)."""
        now = now_us()
        with self.engine.begin() as conn:
            found = conn.execute(select(alerts.c.id).where(alerts.c.event_id == event_id)).scalar()
            if found is not None:
                return int(found), False
            conn.execute(insert(decisions).values(
                event_id=event_id, event_type=event_type, account_id=account_id, occurred_at_us=occurred_at_us,
                decided_at_us=now, decision=decision, score=score, ruleset=ruleset, alert=True,
                body=orjson.dumps(body).decode()))
            result = conn.execute(insert(alerts).values(
                event_id=event_id, event_type=event_type, account_id=account_id, decision=decision, score=score,
                rules=orjson.dumps(rule_ids).decode(), created_at_us=now, status="open"))
            return int(result.inserted_primary_key[0]), True  # type: ignore[index]

    # -- API keys --------------------------------------------------------------------------------
    def create_api_key(self, *, name: str, scopes: frozenset[str]) -> tuple[str, str]:
        """Returns (key id, full key). The full key is shown once and never stored."""
        key_id = secrets.token_hex(6)
        secret = secrets.token_urlsafe(32)
        with self.engine.begin() as conn:
            conn.execute(insert(api_keys).values(
                key_id=key_id, name=name, secret_sha256=hashlib.sha256(secret.encode()).hexdigest(),
                scopes=" ".join(sorted(scopes)), created_at_us=now_us()))
        return key_id, f"mk_{key_id}_{secret}"

    def revoke_api_key(self, key_id: str) -> None:
        """Revoke a key; revoking it again keeps the time of the first revocation."""
        with self.engine.begin() as conn:
            result = conn.execute(update(api_keys)
                                  .where(api_keys.c.key_id == key_id, api_keys.c.revoked_at_us.is_(None))
                                  .values(revoked_at_us=now_us()))
            if result.rowcount == 0 and conn.execute(
                    select(api_keys.c.key_id).where(api_keys.c.key_id == key_id)).first() is None:
                raise NotFound(f"no API key {key_id!r}")

    def api_keys(self) -> list[ApiKey]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(api_keys)).mappings().all()
        return [_api_key(r) for r in rows]

    def get_api_key(self, key_id: str) -> ApiKey | None:
        """One key by id (None if there is no such key), e.g. one created since the last :meth:`api_keys`."""
        try:
            with self.engine.connect() as conn:
                row = conn.execute(select(api_keys).where(api_keys.c.key_id == key_id)).mappings().first()
        except SQLAlchemyError as exc:
            raise StorageUnavailable(f"cannot read API keys: {exc.__class__.__name__}") from exc
        return None if row is None else _api_key(row)

    # -- rule sets and audit ---------------------------------------------------------------------
    def record_ruleset(self, identity: str, name: str, version: int, sources: dict[str, str]) -> None:
        """Record a rule set once; later calls with the same identity (from any instance) do nothing."""
        known = select(rulesets.c.identity).where(rulesets.c.identity == identity)
        try:
            with self.engine.begin() as conn:
                if conn.execute(known).first() is None:
                    conn.execute(insert(rulesets).values(identity=identity, name=name, version=version,
                                                         sources=orjson.dumps(sources).decode(),
                                                         activated_at_us=now_us()))
        except IntegrityError:
            # Another instance inserted it between our check and our insert: that is the same outcome.
            with self.engine.connect() as conn:
                if conn.execute(known).first() is None:
                    raise

    def audit(self, *, actor: str, action: str, target: str, details: dict[str, Any] | None = None) -> None:
        """Append a hash-chained audit record: hash = SHA-256(prev_hash || canonical JSON of the record)."""
        for _attempt in range(5):
            try:
                with self.engine.begin() as conn:
                    self._lock_audit_chain(conn)
                    prev = conn.execute(select(audit_log.c.hash).order_by(audit_log.c.seq.desc())
                                        .limit(1)).scalar() or "0" * 64
                    record = {"at_us": now_us(), "actor": actor, "action": action, "target": target,
                              "details": orjson.dumps(details or {}, option=orjson.OPT_SORT_KEYS).decode()}
                    digest = hashlib.sha256(prev.encode() + orjson.dumps(record, option=orjson.OPT_SORT_KEYS))
                    conn.execute(insert(audit_log).values(**record, prev_hash=prev, hash=digest.hexdigest()))
                return
            except OperationalError:
                time.sleep(0.05)
        raise StorageUnavailable("could not append to the audit log")

    def _lock_audit_chain(self, conn: Connection) -> None:
        """Serialize appends, so that no two records are chained to the same predecessor.

        Without this, two writers (threads or instances) both read the same last hash and fork the
        chain: on SQLite the driver runs the SELECT outside any transaction, on PostgreSQL READ
        COMMITTED lets both transactions see the same last row."""
        dialect = conn.dialect.name
        if dialect == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")  # take the write lock before reading the last hash
        elif dialect == "postgresql":
            # Conflicts with itself and with writers, not with readers; released at commit.
            conn.exec_driver_sql(f"LOCK TABLE {audit_log.name} IN SHARE ROW EXCLUSIVE MODE")

    def verify_audit_chain(self) -> int:
        """Recompute the chain; returns the number of records, raises ValueError at the first break."""
        prev = "0" * 64
        n = 0
        with self.engine.connect() as conn:
            for row in conn.execute(select(audit_log).order_by(audit_log.c.seq)).mappings():
                record = {k: row[k] for k in ("at_us", "actor", "action", "target", "details")}
                digest = hashlib.sha256(prev.encode() + orjson.dumps(record, option=orjson.OPT_SORT_KEYS))
                if row["prev_hash"] != prev or not hmac.compare_digest(row["hash"], digest.hexdigest()):
                    raise ValueError(f"audit log chain broken at record {row['seq']}")
                prev = row["hash"]
                n += 1
        return n


def _api_key(row: Any) -> ApiKey:
    return ApiKey(row["key_id"], row["name"], frozenset(row["scopes"].split()), row["secret_sha256"],
                  row["revoked_at_us"] is not None)


# A query parameter that may carry a secret: password=, sslpassword=, ...
_SECRET_PARAM = re.compile(r"([?&;][^=&;#]*pass[^=&;#]*=)[^&;#]*", re.IGNORECASE)


def _redact(url: str) -> str:
    """Hide passwords in a database URL (user info or query) before it reaches a message or a log."""
    scheme, sep, rest = url.partition("://")
    if sep and "@" in rest:
        creds, host = rest.rsplit("@", 1)
        user, colon, _password = creds.partition(":")
        rest = f"{user}{':***' if colon else ''}@{host}"
    return _SECRET_PARAM.sub(r"\1***", f"{scheme}{sep}{rest}")
