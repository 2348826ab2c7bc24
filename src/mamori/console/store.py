"""Durable state of console operators (SQLAlchemy Core; SQLite by default, PostgreSQL in production).

* ``console_operators``: login id, display name, role, an opaque WebAuthn user handle (random, never
  personal data; W3C WebAuthn Level 3 §14.6.1), and when the operator was disabled.
* ``console_passkeys``: the operators' credentials (same shape as customers' passkeys, separate table:
  an operator credential can never sign a customer in, nor the reverse).
* ``console_enrolments``: one-time enrolment codes, stored as SHA-256, with expiry and a cap on guesses.
* ``console_sessions``: a **SHA-256 of the session token** (the cookie holds the only copy), idle and
  absolute expiry, revocation.

Times are integer microseconds since the epoch (UTC), as elsewhere in mamori.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Engine,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    and_,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from mamori.auth.store import Passkey, sha256_hex
from mamori.kit.errors import Conflict, NotFound

metadata = MetaData()

operators = Table(
    "console_operators", metadata,
    Column("login_id", String(64), primary_key=True),
    Column("name", String(128), nullable=False),
    Column("role", String(16), nullable=False),
    Column("user_handle", String(64), nullable=False, unique=True),
    Column("created_at_us", BigInteger, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
    Column("disabled_at_us", BigInteger, nullable=True),
)

passkeys = Table(
    "console_passkeys", metadata,
    Column("credential_id", String(1400), primary_key=True),
    Column("login_id", String(64), nullable=False),
    Column("name", String(64), nullable=False),
    Column("public_key", LargeBinary, nullable=False),
    Column("sign_count", BigInteger, nullable=False),
    Column("aaguid", String(36), nullable=False),
    Column("backup_eligible", Boolean, nullable=False),
    Column("backed_up", Boolean, nullable=False),
    Column("transports", Text, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("last_used_at_us", BigInteger, nullable=True),
)
Index("ix_console_passkeys_login", passkeys.c.login_id)

enrolments = Table(
    "console_enrolments", metadata,
    Column("code_sha256", String(64), primary_key=True),
    Column("login_id", String(64), nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("expires_at_us", BigInteger, nullable=False),
    Column("used_at_us", BigInteger, nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
)
Index("ix_console_enrolments_login", enrolments.c.login_id)

sessions = Table(
    "console_sessions", metadata,
    Column("token_sha256", String(64), primary_key=True),
    Column("session_id", String(64), nullable=False, unique=True),
    Column("login_id", String(64), nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("last_seen_at_us", BigInteger, nullable=False),
    Column("expires_at_us", BigInteger, nullable=False),
    Column("ip", String(64), nullable=True),
    Column("user_agent", String(256), nullable=True),
    Column("revoked_at_us", BigInteger, nullable=True),
    Column("revoked_reason", String(32), nullable=True),
)
Index("ix_console_sessions_login", sessions.c.login_id)


@dataclass(frozen=True, slots=True)
class Operator:
    login_id: str
    name: str
    role: str
    user_handle: str
    created_at_us: int
    disabled_at_us: int | None

    @property
    def active(self) -> bool:
        return self.disabled_at_us is None


@dataclass(frozen=True, slots=True)
class OperatorSession:
    session_id: str
    login_id: str
    created_at_us: int
    last_seen_at_us: int
    expires_at_us: int
    revoked_at_us: int | None


def _operator(row: Any) -> Operator:
    return Operator(row.login_id, row.name, row.role, row.user_handle, row.created_at_us, row.disabled_at_us)


def _passkey(row: Any) -> Passkey:
    return Passkey(row.credential_id, row.login_id, row.name, row.public_key, row.sign_count, row.aaguid,
                   row.backup_eligible, row.backed_up, tuple(t for t in row.transports.split(",") if t),
                   row.created_at_us, row.last_used_at_us)


class OperatorStore:
    """Synchronous; web handlers call it from worker threads."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        metadata.create_all(engine)

    # -- operators -------------------------------------------------------------------------------
    def create(self, *, login_id: str, name: str, role: str, user_handle: str, now_us: int) -> Operator:
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(operators).values(login_id=login_id, name=name, role=role, user_handle=user_handle,
                                                      created_at_us=now_us, updated_at_us=now_us,
                                                      disabled_at_us=None))
        except IntegrityError:
            raise Conflict("an operator with this login id already exists", details={"field": "login_id"}) from None
        return self.get(login_id)

    def find(self, login_id: str) -> Operator | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(operators).where(operators.c.login_id == login_id)).first()
        return None if row is None else _operator(row)

    def get(self, login_id: str) -> Operator:
        found = self.find(login_id)
        if found is None:
            raise NotFound("no such operator", details={"login_id": login_id})
        return found

    def by_user_handle(self, user_handle: str) -> Operator | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(operators).where(operators.c.user_handle == user_handle)).first()
        return None if row is None else _operator(row)

    def all(self, limit: int = 10_000) -> list[Operator]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(operators).order_by(operators.c.login_id).limit(limit)).all()
        return [_operator(r) for r in rows]

    def update(self, login_id: str, *, now_us: int, **values: Any) -> None:
        with self.engine.begin() as conn:
            result = conn.execute(update(operators).where(operators.c.login_id == login_id)
                                  .values(updated_at_us=now_us, **values))
        if result.rowcount == 0:
            raise NotFound("no such operator", details={"login_id": login_id})

    # -- passkeys --------------------------------------------------------------------------------
    def add_passkey(self, key: Passkey) -> None:
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(passkeys).values(
                    credential_id=key.credential_id, login_id=key.account_id, name=key.name,
                    public_key=key.public_key, sign_count=key.sign_count, aaguid=key.aaguid,
                    backup_eligible=key.backup_eligible, backed_up=key.backed_up,
                    transports=",".join(key.transports), created_at_us=key.created_at_us,
                    last_used_at_us=key.last_used_at_us))
        except IntegrityError:
            raise Conflict("this passkey is already registered", details={"field": "credential"}) from None

    def passkey(self, credential_id: str) -> Passkey | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(passkeys).where(passkeys.c.credential_id == credential_id)).first()
        return None if row is None else _passkey(row)

    def passkeys_of(self, login_id: str) -> list[Passkey]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(passkeys).where(passkeys.c.login_id == login_id)
                                .order_by(passkeys.c.created_at_us)).all()
        return [_passkey(r) for r in rows]

    def passkey_counts(self) -> dict[str, int]:
        from sqlalchemy import func

        with self.engine.connect() as conn:
            rows = conn.execute(select(passkeys.c.login_id, func.count()).group_by(passkeys.c.login_id)).all()
        return {str(login): int(n) for login, n in rows}

    def record_passkey_use(self, credential_id: str, *, old_count: int, new_count: int, backed_up: bool,
                           now_us: int) -> bool:
        """Compare-and-set on the signature counter (W3C WebAuthn L3 §6.1.1)."""
        with self.engine.begin() as conn:
            result = conn.execute(update(passkeys).where(passkeys.c.credential_id == credential_id,
                                                         passkeys.c.sign_count == old_count)
                                  .values(sign_count=new_count, backed_up=backed_up, last_used_at_us=now_us))
        return bool(result.rowcount)

    def remove_passkeys(self, login_id: str) -> int:
        with self.engine.begin() as conn:
            return int(conn.execute(delete(passkeys).where(passkeys.c.login_id == login_id)).rowcount)

    # -- enrolment codes -------------------------------------------------------------------------
    def set_enrolment(self, *, login_id: str, code: str, now_us: int, expires_at_us: int) -> None:
        """A new code replaces every earlier one of the operator."""
        with self.engine.begin() as conn:
            conn.execute(delete(enrolments).where(enrolments.c.login_id == login_id))
            conn.execute(insert(enrolments).values(code_sha256=sha256_hex(code), login_id=login_id,
                                                   created_at_us=now_us, expires_at_us=expires_at_us,
                                                   used_at_us=None, attempts=0))

    def check_enrolment(self, login_id: str, code: str, now_us: int, *, max_attempts: int) -> bool:
        """Whether ``code`` is the operator's live code (not consumed). Every wrong guess counts; after
        ``max_attempts`` the code is dead and an administrator must issue a new one."""
        with self.engine.begin() as conn:
            row = conn.execute(select(enrolments).where(enrolments.c.login_id == login_id,
                                                        enrolments.c.used_at_us.is_(None))).first()
            if row is None or row.expires_at_us <= now_us or row.attempts >= max_attempts:
                return False
            if row.code_sha256 != sha256_hex(code):
                conn.execute(update(enrolments).where(enrolments.c.code_sha256 == row.code_sha256)
                             .values(attempts=row.attempts + 1))
                return False
            return True

    def use_enrolment(self, login_id: str, code: str, now_us: int) -> bool:
        """Consume the code (once: a compare-and-set on ``used_at_us``)."""
        with self.engine.begin() as conn:
            result = conn.execute(update(enrolments).where(
                enrolments.c.login_id == login_id, enrolments.c.code_sha256 == sha256_hex(code),
                enrolments.c.used_at_us.is_(None), enrolments.c.expires_at_us > now_us).values(used_at_us=now_us))
        return bool(result.rowcount)

    # -- sessions --------------------------------------------------------------------------------
    def create_session(self, *, token: str, session_id: str, login_id: str, now_us: int, expires_at_us: int,
                       ip: str | None, user_agent: str | None) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(sessions).values(
                token_sha256=sha256_hex(token), session_id=session_id, login_id=login_id, created_at_us=now_us,
                last_seen_at_us=now_us, expires_at_us=expires_at_us, ip=ip,
                user_agent=(user_agent or "")[:256] or None, revoked_at_us=None, revoked_reason=None))

    def session_by_token(self, token: str) -> tuple[OperatorSession, Operator] | None:
        """The session and its operator, in one query."""
        query = (select(sessions, operators.c.name, operators.c.role, operators.c.user_handle,
                        operators.c.created_at_us.label("op_created_at_us"), operators.c.disabled_at_us)
                 .join(operators, operators.c.login_id == sessions.c.login_id)
                 .where(sessions.c.token_sha256 == sha256_hex(token)))
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        return (OperatorSession(row.session_id, row.login_id, row.created_at_us, row.last_seen_at_us,
                                row.expires_at_us, row.revoked_at_us),
                Operator(row.login_id, row.name, row.role, row.user_handle, row.op_created_at_us, row.disabled_at_us))

    def touch_session(self, session_id: str, now_us: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(sessions).where(sessions.c.session_id == session_id).values(last_seen_at_us=now_us))

    def revoke_sessions(self, login_id: str, *, reason: str, now_us: int, session_id: str | None = None) -> int:
        condition = and_(sessions.c.login_id == login_id, sessions.c.revoked_at_us.is_(None))
        if session_id is not None:
            condition = and_(condition, sessions.c.session_id == session_id)
        with self.engine.begin() as conn:
            result = conn.execute(update(sessions).where(condition).values(revoked_at_us=now_us,
                                                                           revoked_reason=reason[:32]))
        return int(result.rowcount)
