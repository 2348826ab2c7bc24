"""Build the console service from the settings: origin, RP id, session limits."""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from mamori.adapters.sql.store import SqlStore
from mamori.auth.passkeys import RelyingParty
from mamori.console.service import ConsoleService
from mamori.console.store import OperatorStore
from mamori.kit.errors import ConfigError
from mamori.kit.settings import Settings

log = logging.getLogger("mamori.console")


def console_origin_of(settings: Settings) -> str:
    """``MAMORI_CONSOLE_ORIGIN``, else ``http://localhost:<port>`` (a secure context for WebAuthn; an IP
    address can never be a WebAuthn RP id). Plain http only for localhost."""
    origin = (settings.console_origin or f"http://localhost:{settings.port}").rstrip("/")
    parts = urlsplit(origin)
    if parts.scheme not in ("https", "http") or not parts.hostname or parts.path not in ("", "/"):
        raise ConfigError(f"console origin {origin!r} must look like https://console.example.co.jp")
    if parts.scheme == "http" and parts.hostname not in ("localhost", "127.0.0.1", "::1"):
        raise ConfigError(f"console origin {origin!r}: passkeys need https (http only for localhost)")
    return origin


def build_console(settings: Settings, store: SqlStore) -> ConsoleService:
    origin = console_origin_of(settings)
    rp_id = urlsplit(origin).hostname or "localhost"
    service = ConsoleService(
        store=OperatorStore(store.engine), rp=RelyingParty(rp_id=rp_id, rp_name="mamori console", origins=[origin]),
        audit=store.audit, idle_s=settings.console_session_idle_minutes * 60,
        absolute_s=settings.console_session_absolute_hours * 3600)
    log.info("analyst console: origin=%s rp_id=%s", origin, rp_id)
    return service
