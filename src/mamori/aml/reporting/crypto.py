"""Encryption at rest of report documents (they hold customers' personal data: APPI, 犯収法).

Each version's document is AES-256-GCM ciphertext bound to the report id (associated data), so a
ciphertext copied to another row does not decrypt. The key is derived (HKDF-SHA256, its own
``info`` label) from the same 32-byte key that protects customers' e-mail addresses in the contact
directory (:mod:`mamori.notify.contacts`: ``MAMORI_CONTACTS_KEY`` or the 0600 file
``data_dir/contacts.key``, created on first use). The key is never stored in the database.
"""

from __future__ import annotations

import secrets
from pathlib import Path
from typing import Any, Final

import orjson
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from mamori.kit.errors import ConfigError
from mamori.notify.contacts import KEY_BYTES, ContactKeyError, load_key

__all__ = ["ReportCipher", "cipher_for_data_dir"]

_FORMAT: Final = b"\x01"  # 0x01 || nonce(12) || AES-GCM(ciphertext || tag)
_NONCE_BYTES: Final = 12
_INFO: Final = b"mamori str v1 report encryption"


class ReportCipher:
    """Encrypts and decrypts report documents (JSON objects) for one report id."""

    def __init__(self, key: bytes) -> None:
        if not isinstance(key, bytes) or len(key) != KEY_BYTES:
            raise ConfigError(f"the report key must be {KEY_BYTES} bytes")
        derived = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(key)
        self._aead = AESGCM(derived)

    def __repr__(self) -> str:
        return "ReportCipher(<key redacted>)"

    @staticmethod
    def _aad(report_id: int) -> bytes:
        return f"mamori-str-report:{report_id}".encode()

    def seal(self, report_id: int, document: dict[str, Any]) -> bytes:
        nonce = secrets.token_bytes(_NONCE_BYTES)
        plain = orjson.dumps(document, option=orjson.OPT_SORT_KEYS)
        return _FORMAT + nonce + self._aead.encrypt(nonce, plain, self._aad(report_id))

    def open(self, report_id: int, blob: bytes) -> dict[str, Any]:
        if blob[:1] != _FORMAT or len(blob) < 1 + _NONCE_BYTES + 16:
            raise ConfigError(f"stored report {report_id} is not in a known format")
        try:
            plain = self._aead.decrypt(blob[1:1 + _NONCE_BYTES], blob[1 + _NONCE_BYTES:], self._aad(report_id))
        except InvalidTag:
            raise ConfigError(f"cannot decrypt report {report_id}: the key (MAMORI_CONTACTS_KEY or "
                              "contacts.key in the data directory) is not the one it was stored with, "
                              "or the row was altered") from None
        out = orjson.loads(plain)
        if not isinstance(out, dict):
            raise ConfigError(f"stored report {report_id} is not a JSON object")
        return out


def cipher_for_data_dir(data_dir: Path) -> ReportCipher:
    """The cipher with the contact directory's key (``MAMORI_CONTACTS_KEY`` or ``data_dir/contacts.key``)."""
    try:
        return ReportCipher(load_key(Path(data_dir) / "contacts.key"))
    except ContactKeyError as exc:
        raise ConfigError(str(exc)) from None
