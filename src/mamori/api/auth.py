"""API-key authentication and scope checks.

Keys look like ``mk_<key id>_<secret>`` and are sent as ``Authorization: Bearer <key>`` (or
``X-API-Key``). The store keeps only SHA-256 of the secret; comparison is constant-time. Keys are
cached in memory and the cache is refreshed when keys are created or revoked through mamori.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import time
from dataclasses import dataclass
from typing import Literal

from mamori.adapters.sql.store import ApiKey, SqlStore
from mamori.kit.errors import Forbidden, Unauthenticated
from mamori.kit.scopes import SCOPES

__all__ = ["SCOPES", "KeyRing", "Principal"]

_KEY_ID = re.compile(r"[A-Za-z0-9-]{1,32}")


@dataclass(frozen=True, slots=True)
class Principal:
    """Who is calling: an API key (``kind="api-key"``, ``key_id`` its id) or a console operator signed
    in with a passkey (``kind="operator"``, ``key_id`` the login id, ``scopes`` those of the role).

    ``actor`` is the name written into audit records: ``api-key:<id>`` or ``operator:<login id>``.
    """

    key_id: str
    name: str
    scopes: frozenset[str]
    kind: Literal["api-key", "operator"] = "api-key"
    role: str | None = None

    @property
    def actor(self) -> str:
        return f"{self.kind}:{self.key_id}"

    def require(self, scope: str) -> None:
        # The catch-all ``admin`` scope exists for API keys only; no console role carries it.
        if scope not in self.scopes and "admin" not in self.scopes:
            who = "this API key" if self.kind == "api-key" else f"the {self.role or 'operator'} role"
            raise Forbidden(f"{who} lacks the {scope!r} scope", details={"required_scope": scope})


class KeyRing:
    def __init__(self, store: SqlStore) -> None:
        self.store = store
        self._keys: dict[str, ApiKey] = {}
        self._refreshed = 0.0
        self._misses: dict[str, float] = {}
        self.refresh()

    def refresh(self) -> None:
        """Reload keys from the store (called periodically, so revocations take effect quickly)."""
        self._keys = {k.key_id: k for k in self.store.api_keys()}
        self._refreshed = time.monotonic()

    def _may_look_up(self, key_id: str) -> bool:
        """At most one store lookup per unknown key id every few seconds, so that random key ids
        cannot turn every request into a database query."""
        now = time.monotonic()
        if now - self._misses.get(key_id, float("-inf")) < 5.0:
            return False
        if len(self._misses) > 10_000:
            self._misses.clear()
        self._misses[key_id] = now
        return True

    def __len__(self) -> int:
        return sum(1 for k in self._keys.values() if not k.revoked)

    def authenticate(self, header_value: str | None) -> Principal:
        if not header_value or not header_value.strip():
            raise Unauthenticated("an API key is required: send 'Authorization: Bearer mk_...'")
        token = header_value.strip()
        scheme, _, rest = token.partition(" ")
        if scheme.lower() == "bearer":  # the auth scheme is case-insensitive (RFC 9110)
            token = rest.strip()
        parts = token.split("_", 2)
        if len(parts) != 3 or parts[0] != "mk" or not _KEY_ID.fullmatch(parts[1]) or not parts[2]:
            raise Unauthenticated("malformed API key")
        key = self._keys.get(parts[1])
        if key is None and self._may_look_up(parts[1]):
            # Created since the last refresh (e.g. by 'mamori keys create' a moment ago): look it up.
            key = self.store.get_api_key(parts[1])
            if key is not None:
                self._keys[key.key_id] = key
        digest = hashlib.sha256(parts[2].encode()).hexdigest()
        if key is None or key.revoked or not hmac.compare_digest(digest, key.secret_sha256):
            raise Unauthenticated("unknown or revoked API key")
        return Principal(key.key_id, key.name, key.scopes)
