"""Where customer notices go: a directory of contact addresses, the email encrypted at rest.

A customer's email address is personal data (APPI): the ``contacts`` table keeps it only as
AES-256-GCM ciphertext, bound to the account id (as associated data, so a ciphertext copied to
another row does not decrypt), plus an HMAC-SHA256 of the normalised address (``email_hmac``) so
that one address registered on several accounts can be found without decrypting anything. Both
keys are derived (HKDF-SHA256) from one 32-byte directory key that the caller loads with
:func:`load_key` (``MAMORI_CONTACTS_KEY`` or a 0600 key file in the data directory, created on
first use by :func:`load_or_create_key`). The key is never stored in the database.

A wrong key is reported as :class:`ContactKeyError` (naming the key as the problem), never as a
crash deep inside the cipher.

Usage::

    key = load_key(data_dir / "contacts.key")
    contacts = ContactDirectory(engine, key=key)
    contacts.set("C-1001", email="taro@example.jp", language="ja", webhook_ref=None)
    contacts.get("C-1001")       # Contact(account_id='C-1001', email=<hidden>, language='ja', ...)
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import secrets
import stat
import time
import unicodedata
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF
from sqlalchemy import BigInteger, Column, Engine, Index, LargeBinary, MetaData, String, Table, delete, insert, select

__all__ = [
    "KEY_ENV",
    "Contact",
    "ContactDirectory",
    "ContactKeyError",
    "ContactLanguage",
    "contacts_table",
    "load_key",
    "load_or_create_key",
    "normalise_email",
]

KEY_ENV: Final = "MAMORI_CONTACTS_KEY"
"""Environment variable holding the directory key (URL-safe base64 of 32 random bytes)."""
KEY_BYTES: Final = 32
_FORMAT: Final = b"\x01"  # ciphertext layout version: 0x01 || nonce(12) || AES-GCM(ciphertext || tag)
_NONCE_BYTES: Final = 12
_EMAIL_RE: Final = re.compile(r"[^@\s<>()\[\],;:\"]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9\-.]{0,252}[A-Za-z0-9])?")
_LANGUAGES: Final = frozenset({"ja", "en", "both"})

ContactLanguage = Literal["ja", "en", "both"]

metadata = MetaData()

contacts_table = Table(
    "contacts", metadata,
    Column("account_id", String(128), primary_key=True),
    Column("email_enc", LargeBinary, nullable=True),
    Column("email_hmac", String(64), nullable=True),
    Column("language", String(4), nullable=False),
    Column("webhook_ref", String(128), nullable=True),
    Column("updated_at_us", BigInteger, nullable=False),
)  # fmt: skip
Index("ix_contacts_email_hmac", contacts_table.c.email_hmac)


class ContactKeyError(Exception):
    """The contacts key is missing, malformed, or not the key the stored data was encrypted with."""


@dataclass(frozen=True, slots=True)
class Contact:
    account_id: str
    email: str | None = field(repr=False)
    """Plain address (decrypted); not shown by ``repr`` so that it does not end up in logs."""
    language: ContactLanguage
    webhook_ref: str | None = None

    def __repr__(self) -> str:
        email = "None" if self.email is None else "<hidden>"
        return (f"Contact(account_id={self.account_id!r}, email={email}, language={self.language!r}, "
                f"webhook_ref={self.webhook_ref!r})")  # fmt: skip


def normalise_email(email: str) -> str:
    """The form the HMAC is taken of: NFKC, surrounding spaces removed, lower case."""
    return unicodedata.normalize("NFKC", email).strip().lower()


# ---------------------------------------------------------------------------------------------
# Keys


def _decode_key(text: str, source: str) -> bytes:
    try:
        key = base64.urlsafe_b64decode(text.strip().encode("ascii"))
    except (binascii.Error, UnicodeEncodeError, ValueError):
        raise ContactKeyError(f"{source} is not URL-safe base64 of a {KEY_BYTES}-byte key") from None
    if len(key) != KEY_BYTES:
        raise ContactKeyError(f"{source} must hold a {KEY_BYTES}-byte key, found {len(key)} bytes")
    return key


def load_or_create_key(path: str | os.PathLike[str]) -> bytes:
    """Read the key file at ``path``, or create it (mode 0600, new random key) if it does not exist.

    The file holds URL-safe base64 text (the same form :data:`KEY_ENV` takes). A key file that group
    or others can read is refused: that is a copy of every customer's email address."""
    file = Path(path)
    try:
        fd = os.open(file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        pass
    else:
        with os.fdopen(fd, "w", encoding="ascii") as out:
            out.write(base64.urlsafe_b64encode(secrets.token_bytes(KEY_BYTES)).decode("ascii") + "\n")
            out.flush()
            os.fsync(out.fileno())
    mode = file.stat().st_mode
    if mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise ContactKeyError(f"contacts key file {file} is accessible to group or others "
                              f"(mode {stat.S_IMODE(mode):o}); chmod 600 it")  # fmt: skip
    return _decode_key(file.read_text(encoding="ascii"), f"contacts key file {file}")


def load_key(path: str | os.PathLike[str], *, environ: Mapping[str, str] | None = None) -> bytes:
    """The key from :data:`KEY_ENV` if set, otherwise from the key file at ``path`` (created if absent)."""
    env = os.environ if environ is None else environ
    value = env.get(KEY_ENV)
    if value:
        return _decode_key(value, KEY_ENV)
    return load_or_create_key(path)


def _derive(key: bytes, purpose: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"mamori contacts v1 " + purpose).derive(key)


# ---------------------------------------------------------------------------------------------
# The directory


class ContactDirectory:
    """Contact settings per account in the ``contacts`` table of ``engine`` (created if missing)."""

    def __init__(self, engine: Engine, *, key: bytes) -> None:
        if not isinstance(key, bytes) or len(key) != KEY_BYTES:
            raise ContactKeyError(f"the contacts key must be {KEY_BYTES} bytes (see load_key)")
        self.engine = engine
        self._aead = AESGCM(_derive(key, b"email encryption"))
        self._hmac_key = _derive(key, b"email hmac")
        contacts_table.create(engine, checkfirst=True)

    def __repr__(self) -> str:
        return f"ContactDirectory({self.engine.url.render_as_string(hide_password=True)!r}, key=<redacted>)"

    def email_hmac(self, email: str) -> str:
        """HMAC-SHA256 (hex) of the normalised address, as stored in ``email_hmac``."""
        return hmac.new(self._hmac_key, normalise_email(email).encode("utf-8"), hashlib.sha256).hexdigest()

    def _encrypt(self, account_id: str, email: str) -> bytes:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        return _FORMAT + nonce + self._aead.encrypt(nonce, email.encode("utf-8"), account_id.encode("utf-8"))

    def _decrypt(self, account_id: str, blob: bytes) -> str:
        if blob[:1] != _FORMAT or len(blob) < 1 + _NONCE_BYTES + 16:
            raise ContactKeyError(f"stored email of account {account_id} is not in a known format")
        nonce, ciphertext = blob[1 : 1 + _NONCE_BYTES], blob[1 + _NONCE_BYTES :]
        try:
            plain = self._aead.decrypt(nonce, ciphertext, account_id.encode("utf-8"))
        except InvalidTag:
            raise ContactKeyError(
                f"cannot decrypt the email of account {account_id}: the contacts key ({KEY_ENV} or the key "
                "file) is not the key it was stored with, or the row was altered"
            ) from None
        return plain.decode("utf-8")

    def set(self, account_id: str, *, email: str | None, language: ContactLanguage,
            webhook_ref: str | None) -> None:  # fmt: skip
        """Create or replace the account's contact settings."""
        if not account_id or len(account_id) > 128:
            raise ValueError("account_id must be 1-128 characters")
        if language not in _LANGUAGES:
            raise ValueError(f"language must be one of ja, en, both: {language!r}")
        if email is not None:
            email = email.strip()
            if not _EMAIL_RE.fullmatch(email):
                raise ValueError(f"not an email address (account {account_id})")  # never echo the value
        if webhook_ref is not None and not 1 <= len(webhook_ref) <= 128:
            raise ValueError("webhook_ref must be 1-128 characters")
        row = {
            "account_id": account_id,
            "email_enc": None if email is None else self._encrypt(account_id, email),
            "email_hmac": None if email is None else self.email_hmac(email),
            "language": language,
            "webhook_ref": webhook_ref,
            "updated_at_us": time.time_ns() // 1000,
        }
        with self.engine.begin() as conn:
            conn.execute(delete(contacts_table).where(contacts_table.c.account_id == account_id))
            conn.execute(insert(contacts_table).values(**row))

    def get(self, account_id: str) -> Contact | None:
        """The account's contact settings, the email decrypted; ``None`` if none are registered.
        Raises :class:`ContactKeyError` if the key does not match."""
        with self.engine.connect() as conn:
            row = conn.execute(select(contacts_table).where(contacts_table.c.account_id == account_id)).first()
        if row is None:
            return None
        email = None if row.email_enc is None else self._decrypt(account_id, bytes(row.email_enc))
        language: ContactLanguage = row.language if row.language in _LANGUAGES else "both"
        return Contact(account_id, email, language, row.webhook_ref)

    def delete(self, account_id: str) -> bool:
        """Remove the account's contact settings; whether there were any."""
        with self.engine.begin() as conn:
            result = conn.execute(delete(contacts_table).where(contacts_table.c.account_id == account_id))
        return bool(result.rowcount)

    def accounts_with_email(self, email: str) -> list[str]:
        """Accounts registered with this address (compared by HMAC, nothing decrypted)."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(contacts_table.c.account_id)
                                .where(contacts_table.c.email_hmac == self.email_hmac(email))
                                .order_by(contacts_table.c.account_id)).all()  # fmt: skip
        return [r.account_id for r in rows]
