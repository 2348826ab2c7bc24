"""Durable state of the customer authentication service (SQLAlchemy Core, the same database as the
risk engine: SQLite by default, PostgreSQL in production).

What is kept, and how:

* ``auth_customers``: the login id, an opaque WebAuthn user handle (random, never personal data,
  W3C WebAuthn Level 3 §14.6.1), the Argon2id password hash, the TOTP secret **encrypted**
  (AES-256-GCM, bound to the account id) and the last accepted TOTP step, and the customer's
  fallback transition deadline (the date until which a weaker factor is still accepted).
* ``auth_passkeys``: credential id, COSE public key, signature counter, backup flags, name.
* ``auth_sessions``: a **SHA-256 of the session token** (the cookie holds the only copy of the
  token), idle and absolute expiry, how the customer authenticated (``amr``/``acr``), revocation.
* ``auth_recovery_codes``: one-time re-enrolment codes an operator issues after re-identifying the
  customer, stored as SHA-256.

Times are integer microseconds since the epoch (UTC), as elsewhere in mamori.
"""

from __future__ import annotations

import hashlib
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

from mamori.kit.errors import Conflict, NotFound

metadata = MetaData()

customers = Table(
    "auth_customers", metadata,
    Column("account_id", String(128), primary_key=True),
    Column("login_id", String(128), nullable=False, unique=True),
    Column("user_handle", String(64), nullable=False, unique=True),
    Column("segment", String(64), nullable=True),
    Column("password_hash", String(256), nullable=True),
    Column("totp_secret_enc", LargeBinary, nullable=True),
    Column("totp_last_step", BigInteger, nullable=True),
    Column("fallback_until_us", BigInteger, nullable=True),
    Column("created_at_us", BigInteger, nullable=False),
    Column("updated_at_us", BigInteger, nullable=False),
)

passkeys = Table(
    "auth_passkeys", metadata,
    Column("credential_id", String(1400), primary_key=True),  # base64url; WebAuthn caps ids at 1023 bytes
    Column("account_id", String(128), nullable=False),
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
Index("ix_auth_passkeys_account", passkeys.c.account_id)

sessions = Table(
    "auth_sessions", metadata,
    Column("token_sha256", String(64), primary_key=True),
    Column("session_id", String(64), nullable=False, unique=True),
    Column("account_id", String(128), nullable=False),
    Column("acr", String(64), nullable=False),
    Column("amr", String(128), nullable=False),
    Column("auth_time_us", BigInteger, nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("last_seen_at_us", BigInteger, nullable=False),
    Column("expires_at_us", BigInteger, nullable=False),
    Column("ip", String(64), nullable=True),
    Column("user_agent", String(256), nullable=True),
    Column("device_id", String(128), nullable=True),
    Column("purpose", String(16), nullable=False),  # "full", or "enrol" (recovery: may only add a passkey)
    Column("revoked_at_us", BigInteger, nullable=True),
    Column("revoked_reason", String(32), nullable=True),
)
Index("ix_auth_sessions_account", sessions.c.account_id)

recovery_codes = Table(
    "auth_recovery_codes", metadata,
    Column("code_sha256", String(64), primary_key=True),
    Column("account_id", String(128), nullable=False),
    Column("operator_id", String(128), nullable=False),
    Column("created_at_us", BigInteger, nullable=False),
    Column("expires_at_us", BigInteger, nullable=False),
    Column("used_at_us", BigInteger, nullable=True),
    Column("attempts", Integer, nullable=False, default=0),
)
Index("ix_auth_recovery_account", recovery_codes.c.account_id)


def sha256_hex(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


@dataclass(frozen=True, slots=True)
class Customer:
    account_id: str
    login_id: str
    user_handle: str
    segment: str | None
    password_hash: str | None
    totp_secret_enc: bytes | None
    totp_last_step: int | None
    fallback_until_us: int | None


@dataclass(frozen=True, slots=True)
class Passkey:
    credential_id: str
    account_id: str
    name: str
    public_key: bytes
    sign_count: int
    aaguid: str
    backup_eligible: bool
    backed_up: bool
    transports: tuple[str, ...]
    created_at_us: int
    last_used_at_us: int | None


@dataclass(frozen=True, slots=True)
class SessionRow:
    session_id: str
    account_id: str
    acr: str
    amr: tuple[str, ...]
    auth_time_us: int
    created_at_us: int
    last_seen_at_us: int
    expires_at_us: int
    ip: str | None
    user_agent: str | None
    device_id: str | None
    purpose: str
    revoked_at_us: int | None


def _customer(row: Any) -> Customer:
    return Customer(row.account_id, row.login_id, row.user_handle, row.segment, row.password_hash,
                    row.totp_secret_enc, row.totp_last_step, row.fallback_until_us)


def _passkey(row: Any) -> Passkey:
    return Passkey(row.credential_id, row.account_id, row.name, row.public_key, row.sign_count, row.aaguid,
                   row.backup_eligible, row.backed_up, tuple(t for t in row.transports.split(",") if t),
                   row.created_at_us, row.last_used_at_us)


def _session(row: Any) -> SessionRow:
    return SessionRow(row.session_id, row.account_id, row.acr, tuple(a for a in row.amr.split(" ") if a),
                      row.auth_time_us, row.created_at_us, row.last_seen_at_us, row.expires_at_us, row.ip,
                      row.user_agent, row.device_id, row.purpose, row.revoked_at_us)


class AuthStore:
    """Synchronous store; the service calls it from worker threads (``asyncio.to_thread``)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        metadata.create_all(engine)

    # -- customers -------------------------------------------------------------------------------
    def create_customer(self, *, account_id: str, login_id: str, user_handle: str, segment: str | None,
                        password_hash: str | None, fallback_until_us: int | None, now_us: int) -> Customer:
        row = {"account_id": account_id, "login_id": login_id, "user_handle": user_handle, "segment": segment,
               "password_hash": password_hash, "totp_secret_enc": None, "totp_last_step": None,
               "fallback_until_us": fallback_until_us, "created_at_us": now_us, "updated_at_us": now_us}
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(customers).values(**row))
        except IntegrityError:
            raise Conflict("a customer with this account id or login id already exists",
                           details={"field": "account_id"}) from None
        return self.customer(account_id)

    def customer(self, account_id: str) -> Customer:
        found = self.find_customer(account_id=account_id)
        if found is None:
            raise NotFound("no such customer", details={"account_id": account_id})
        return found

    def find_customer(self, *, account_id: str | None = None, login_id: str | None = None,
                      user_handle: str | None = None) -> Customer | None:
        query = select(customers)
        if account_id is not None:
            query = query.where(customers.c.account_id == account_id)
        elif login_id is not None:
            query = query.where(customers.c.login_id == login_id)
        elif user_handle is not None:
            query = query.where(customers.c.user_handle == user_handle)
        else:
            raise ValueError("find_customer needs one key")
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else _customer(row)

    def update_customer(self, account_id: str, *, now_us: int, **values: Any) -> None:
        with self.engine.begin() as conn:
            result = conn.execute(update(customers).where(customers.c.account_id == account_id)
                                  .values(updated_at_us=now_us, **values))
        if result.rowcount == 0:
            raise NotFound("no such customer", details={"account_id": account_id})

    def accept_totp_step(self, account_id: str, step: int, now_us: int) -> bool:
        """Record ``step`` as the last used TOTP step only if it is newer (RFC 6238 §5.2: a code is
        accepted once). Atomic, so two concurrent submissions of one code cannot both pass."""
        with self.engine.begin() as conn:
            result = conn.execute(
                update(customers)
                .where(customers.c.account_id == account_id,
                       (customers.c.totp_last_step.is_(None)) | (customers.c.totp_last_step < step))
                .values(totp_last_step=step, updated_at_us=now_us))
        return bool(result.rowcount)

    def customers_in_transition(self, limit: int = 1000) -> list[Customer]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(customers).where(customers.c.fallback_until_us.is_not(None))
                                .order_by(customers.c.fallback_until_us).limit(limit)).all()
        return [_customer(r) for r in rows]

    # -- passkeys --------------------------------------------------------------------------------
    def add_passkey(self, key: Passkey) -> None:
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(passkeys).values(
                    credential_id=key.credential_id, account_id=key.account_id, name=key.name,
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

    def passkeys_of(self, account_id: str) -> list[Passkey]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(passkeys).where(passkeys.c.account_id == account_id)
                                .order_by(passkeys.c.created_at_us)).all()
        return [_passkey(r) for r in rows]

    def record_passkey_use(self, credential_id: str, *, old_count: int, new_count: int, backed_up: bool,
                           now_us: int) -> bool:
        """Advance the signature counter (compare-and-set on the old value, so two concurrent
        assertions with the same counter cannot both be accepted; WebAuthn L3 §6.1.1)."""
        with self.engine.begin() as conn:
            result = conn.execute(update(passkeys).where(passkeys.c.credential_id == credential_id,
                                                         passkeys.c.sign_count == old_count)
                                  .values(sign_count=new_count, backed_up=backed_up, last_used_at_us=now_us))
        return bool(result.rowcount)

    def rename_passkey(self, account_id: str, credential_id: str, name: str) -> None:
        with self.engine.begin() as conn:
            result = conn.execute(update(passkeys).where(passkeys.c.credential_id == credential_id,
                                                         passkeys.c.account_id == account_id).values(name=name))
        if result.rowcount == 0:
            raise NotFound("no such passkey", details={"field": "credential_id"})

    def remove_passkey(self, account_id: str, credential_id: str) -> None:
        with self.engine.begin() as conn:
            result = conn.execute(delete(passkeys).where(passkeys.c.credential_id == credential_id,
                                                         passkeys.c.account_id == account_id))
        if result.rowcount == 0:
            raise NotFound("no such passkey", details={"field": "credential_id"})

    def remove_all_passkeys(self, account_id: str) -> int:
        with self.engine.begin() as conn:
            return int(conn.execute(delete(passkeys).where(passkeys.c.account_id == account_id)).rowcount)

    # -- sessions --------------------------------------------------------------------------------
    def create_session(self, *, token: str, session_id: str, account_id: str, acr: str, amr: tuple[str, ...],
                       auth_time_us: int, now_us: int, expires_at_us: int, ip: str | None,
                       user_agent: str | None, device_id: str | None, purpose: str) -> None:
        with self.engine.begin() as conn:
            conn.execute(insert(sessions).values(
                token_sha256=sha256_hex(token), session_id=session_id, account_id=account_id, acr=acr,
                amr=" ".join(amr), auth_time_us=auth_time_us, created_at_us=now_us, last_seen_at_us=now_us,
                expires_at_us=expires_at_us, ip=ip, user_agent=(user_agent or "")[:256] or None,
                device_id=device_id, purpose=purpose, revoked_at_us=None, revoked_reason=None))

    def session_by_token(self, token: str) -> SessionRow | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(sessions).where(sessions.c.token_sha256 == sha256_hex(token))).first()
        return None if row is None else _session(row)

    def touch_session(self, session_id: str, now_us: int) -> None:
        with self.engine.begin() as conn:
            conn.execute(update(sessions).where(sessions.c.session_id == session_id)
                         .values(last_seen_at_us=now_us))

    def sessions_of(self, account_id: str, *, active_since_us: int, now_us: int) -> list[SessionRow]:
        """Sessions not revoked, not past their absolute expiry and seen since ``active_since_us``."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(sessions).where(
                sessions.c.account_id == account_id, sessions.c.revoked_at_us.is_(None),
                sessions.c.expires_at_us > now_us, sessions.c.last_seen_at_us >= active_since_us)
                .order_by(sessions.c.last_seen_at_us.desc())).all()
        return [_session(r) for r in rows]

    def revoke_sessions(self, account_id: str, *, reason: str, now_us: int,
                        session_id: str | None = None) -> list[str]:
        """Revoke one session of the account, or all of them; returns the revoked session ids."""
        condition = and_(sessions.c.account_id == account_id, sessions.c.revoked_at_us.is_(None))
        if session_id is not None:
            condition = and_(condition, sessions.c.session_id == session_id)
        with self.engine.begin() as conn:
            ids = [r.session_id for r in conn.execute(select(sessions.c.session_id).where(condition)).all()]
            if ids:
                conn.execute(update(sessions).where(sessions.c.session_id.in_(ids))
                             .values(revoked_at_us=now_us, revoked_reason=reason))
        return ids

    # -- recovery codes --------------------------------------------------------------------------
    def add_recovery_code(self, *, code: str, account_id: str, operator_id: str, now_us: int,
                          expires_at_us: int) -> None:
        with self.engine.begin() as conn:
            # A new code replaces any earlier unused one.
            conn.execute(delete(recovery_codes).where(recovery_codes.c.account_id == account_id,
                                                      recovery_codes.c.used_at_us.is_(None)))
            conn.execute(insert(recovery_codes).values(
                code_sha256=sha256_hex(code), account_id=account_id, operator_id=operator_id,
                created_at_us=now_us, expires_at_us=expires_at_us, used_at_us=None, attempts=0))

    def use_recovery_code(self, account_id: str, code: str, now_us: int, *, max_attempts: int) -> bool:
        """Consume the account's recovery code if ``code`` matches, is unexpired and unused. Every
        wrong guess counts; after ``max_attempts`` the code is dead (an operator must issue a new one)."""
        with self.engine.begin() as conn:
            row = conn.execute(select(recovery_codes).where(
                recovery_codes.c.account_id == account_id, recovery_codes.c.used_at_us.is_(None))).first()
            if row is None or row.expires_at_us <= now_us or row.attempts >= max_attempts:
                return False
            if row.code_sha256 != sha256_hex(code):
                conn.execute(update(recovery_codes).where(recovery_codes.c.code_sha256 == row.code_sha256)
                             .values(attempts=row.attempts + 1))
                return False
            result = conn.execute(update(recovery_codes).where(
                recovery_codes.c.code_sha256 == row.code_sha256, recovery_codes.c.used_at_us.is_(None))
                .values(used_at_us=now_us))
            return bool(result.rowcount)
