"""What the mail proxy and archive scans record (SQLAlchemy Core, the same database as the rest).

* ``mail_log`` — one row per message and recipient class: when, the sender's department, the
  counterparty domain, what was found (PPAP half one or two, links to customers) and the action.
  These rows are the evidence counts (:mod:`mamori.mail.evidence`). No bodies, no attachments.
* ``mail_quarantine`` — held messages: the raw message is kept intact in a file (SHA-256 recorded and
  checked on release), with the reasons, until an operator releases or deletes it.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import BigInteger, Column, Engine, Index, Integer, MetaData, String, Table, Text, insert, select, update

from mamori.adapters.sql.schema import AUTO_ID
from mamori.kit.errors import Conflict, NotFound

metadata = MetaData()

mail_log = Table(
    "mail_log", metadata,
    Column("id", AUTO_ID, primary_key=True, autoincrement=True),
    Column("at_us", BigInteger, nullable=False),
    Column("month", String(7), nullable=False),  # JST month, e.g. 2026-11
    Column("source", String(16), nullable=False),  # proxy | archive
    Column("department", String(128), nullable=False),
    Column("recipient_class", String(16), nullable=False),
    Column("counterparty", String(253), nullable=False),
    Column("encrypted_attachment", Integer, nullable=False),
    Column("ppap_password", Integer, nullable=False),
    Column("links", Integer, nullable=False),
    Column("action", String(16), nullable=False),
    Column("message_sha256", String(64), nullable=False),
)
Index("ix_mail_log_month", mail_log.c.month)

quarantine = Table(
    "mail_quarantine", metadata,
    Column("id", String(32), primary_key=True),
    Column("at_us", BigInteger, nullable=False),
    Column("sender", String(320), nullable=False),
    Column("recipients", Text, nullable=False),
    Column("reasons", Text, nullable=False),
    Column("sha256", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("status", String(16), nullable=False),  # held | released | deleted
    Column("decided_at_us", BigInteger, nullable=True),
    Column("decided_by", String(128), nullable=True),
)


@dataclass(frozen=True)
class Held:
    id: str
    at_us: int
    sender: str
    recipients: tuple[str, ...]
    reasons: tuple[str, ...]
    sha256: str
    size: int
    status: str


class MailStore:
    def __init__(self, engine: Engine, quarantine_dir: Path) -> None:
        self.engine = engine
        self.dir = quarantine_dir
        metadata.create_all(engine)

    def log(self, rows: list[dict[str, Any]]) -> None:
        if rows:
            with self.engine.begin() as conn:
                conn.execute(insert(mail_log), rows)

    def log_rows(self) -> list[dict[str, Any]]:
        with self.engine.connect() as conn:
            return [dict(r._mapping) for r in conn.execute(select(mail_log).order_by(mail_log.c.id))]

    # -- quarantine ------------------------------------------------------------------------------
    def hold(self, raw: bytes, *, sender: str, recipients: list[str], reasons: list[str], at_us: int) -> str:
        """Keep the message intact (written and fsynced before the row exists) and return its id."""
        self.dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        held_id = secrets.token_hex(16)
        path = self.dir / f"{held_id}.eml"
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as f:
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
        with self.engine.begin() as conn:
            conn.execute(insert(quarantine).values(
                id=held_id, at_us=at_us, sender=sender, recipients="\n".join(recipients), reasons="\n".join(reasons),
                sha256=hashlib.sha256(raw).hexdigest(), size=len(raw), status="held", decided_at_us=None,
                decided_by=None))
        return held_id

    def held(self, status: str | None = "held") -> list[Held]:
        query = select(quarantine).order_by(quarantine.c.at_us)
        if status is not None:
            query = query.where(quarantine.c.status == status)
        with self.engine.connect() as conn:
            return [_held(r) for r in conn.execute(query)]

    def get(self, held_id: str) -> tuple[Held, bytes]:
        with self.engine.connect() as conn:
            row = conn.execute(select(quarantine).where(quarantine.c.id == held_id)).first()
        if row is None:
            raise NotFound("no such quarantined message", details={"id": held_id})
        item = _held(row)
        raw = (self.dir / f"{held_id}.eml").read_bytes()
        if hashlib.sha256(raw).hexdigest() != item.sha256:
            raise Conflict("the quarantined message file was changed since it was held; not released",
                           details={"id": held_id})
        return item, raw

    def decide(self, held_id: str, *, status: str, by: str, at_us: int) -> None:
        with self.engine.begin() as conn:
            result = conn.execute(update(quarantine).where(quarantine.c.id == held_id, quarantine.c.status == "held")
                                  .values(status=status, decided_at_us=at_us, decided_by=by))
        if result.rowcount == 0:
            raise Conflict("the message is not held any more (already released or deleted)", details={"id": held_id})
        if status == "deleted":
            (self.dir / f"{held_id}.eml").unlink(missing_ok=True)


def _held(row: Any) -> Held:
    return Held(row.id, row.at_us, row.sender, tuple(r for r in row.recipients.split("\n") if r),
                tuple(r for r in row.reasons.split("\n") if r), row.sha256, row.size, row.status)
